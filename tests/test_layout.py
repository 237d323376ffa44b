"""The package's layout rules (CONTRIBUTING.md): the modules notebooks import never
import the instructor and maintainer tools, and no two modules import each other."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "course_utils"

#: Instructor and maintainer tools (``course_utils.tools`` and the ``python -m
#: course_utils`` entry point): never imported by what notebooks use.
TOOLS = {"__main__", "tools"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts) or "__init__"


def is_module(parts: list[str]) -> bool:
    return bool(parts) and (PACKAGE.joinpath(*parts).with_suffix(".py").exists()
                            or PACKAGE.joinpath(*parts, "__init__.py").exists())


def imported_modules(path: Path) -> set[str]:
    """course_utils modules ``path`` imports anywhere (module level or in a function),
    as names relative to the package (``"spikes"``, ``"sample.build"``)."""
    name = module_name(path)
    package = [] if name == "__init__" else name.split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                target = package[:len(package) - node.level + 1]
            elif node.module and node.module.split(".")[0] == "course_utils":
                target = []
            else:
                continue
            if node.module:
                module = node.module.split(".")
                target = target + (module[1:] if not node.level else module)
            if node.module and is_module(target):   # (not the package of `from . import x`)
                found.add(".".join(target))
            found |= {".".join(target + [a.name]) for a in node.names
                      if is_module(target + [a.name])}
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "course_utils" and is_module(parts[1:]):
                    found.add(".".join(parts[1:]))
    return found - {name}


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))
           if "site_templates" not in p.parts}
LEARNER = sorted(m for m in MODULES if m.split(".")[0] not in TOOLS and m != "__init__")


def test_the_module_lists_are_current():
    assert {"tools.cli", "tools.runner", "tools.site", "tools.authoring"} <= set(MODULES)
    assert {"spikes", "experiments", "reuse", "sample.build"} <= set(LEARNER)
    assert not [m for m in LEARNER if m.startswith("tools")]


@pytest.mark.parametrize("module", LEARNER)
def test_learner_modules_do_not_import_tools(module):
    tools = {m for m in imported_modules(MODULES[module]) if m.split(".")[0] in TOOLS}
    assert not tools, f"course_utils.{module} imports the tool module(s) {sorted(tools)}"


def test_no_import_cycles():
    graph = {m: {d for d in imported_modules(p) if d in MODULES} for m, p in MODULES.items()}
    cycles = []

    def visit(node, path):
        for nxt in graph[node]:
            if nxt in path:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in done:
                visit(nxt, path + [nxt])
        done.add(node)

    done: set[str] = set()
    for start in graph:
        if start not in done:
            visit(start, [start])
    assert not cycles, f"import cycles: {cycles[:5]}"


def test_the_checker_sees_imports():
    # it must find what a module really imports, or the tests above pass vacuously
    assert {"_checks", "metadata", "spikes"} <= imported_modules(MODULES["ecephys"])
    assert "_spikes_numba" in imported_modules(MODULES["spikes"])
    assert "tools.cli" in imported_modules(MODULES["__main__"])
    assert {"tools.runner", "config", "metadata"} <= imported_modules(MODULES["tools.cli"])
