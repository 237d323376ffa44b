"""One source of truth for versions: requirements.txt. Everything else agrees with it,
and the running environment is the pinned one."""
import re
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from course_utils.tools.py312 import expected_pins


ROOT = Path(__file__).resolve().parent.parent


def _pins(path: Path) -> dict:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        assert m, f"{path.name}: not an exact pin: {line!r}"
        pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    return pins


def test_critical_pins():
    pins = _pins(ROOT / "requirements.txt")
    assert pins["allensdk"] == "2.16.2"
    assert pins["hdmf"] == "3.14.6"      # hdmf 5/6 cannot write or read NWB with pynwb 2.8.3
    assert pins["pynwb"] == "2.8.3"


def test_every_direct_dependency_is_pinned():
    pins = _pins(ROOT / "requirements.txt")
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for dep in deps:
        assert re.fullmatch(r"[A-Za-z0-9_.\-]+", dep), f"pyproject pins {dep!r}: versions live in requirements.txt"
        assert dep.lower().replace("_", "-") in pins, f"{dep} missing from requirements.txt"


def test_environment_yml_and_binder_agree_with_requirements():
    env = (ROOT / "environment.yml").read_text()
    assert re.search(r"^\s*-\s*python=3\.11\s*$", env, re.M)
    assert re.search(r"^\s*-\s*-r requirements\.txt\s*$", env, re.M)
    assert not re.search(r"==", env), "environment.yml must not pin versions of its own"
    assert _pins(ROOT / "binder" / "requirements.txt") == _pins(ROOT / "requirements.txt")
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"
    post = (ROOT / "binder" / "postBuild").read_text()
    assert "build-sample" in post and "pip install" in post


def test_installed_versions_are_the_pinned_ones():
    pins = expected_pins()      # requirements.txt; on Python 3.12 requirements-py312.txt + tools
    wrong = {}
    for name, pinned in pins.items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            wrong[name] = (pinned, None)
            continue
        if installed != pinned:
            wrong[name] = (pinned, installed)
    assert not wrong, f"environment differs from the pins: {wrong}; rebuild it fresh"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "./course.sh test" in readme and "./course.sh run" in readme
    commands = [l for l in ci.splitlines() if l.strip() and not l.startswith("#")
                and not l.startswith(("set ", "cd "))]
    assert commands == ["./course.sh test"]


def test_benchmark_peers_are_pinned_and_listed():
    pins = _pins(ROOT / "benchmarks" / "requirements.txt")
    assert pins == {"mindscope-utilities": "0.1.9"}
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["bench"]
    assert [e.lower().replace("_", "-") for e in extra] == list(pins)


def test_readme_badges_launch_the_first_notebook_of_this_repository():
    from course_utils.tools.site_pages import launch_links

    readme = (ROOT / "README.md").read_text()
    links = launch_links("01_loading_the_caches")
    assert f"[![Launch on Binder](https://mybinder.org/badge_logo.svg)]({links['Binder']})" in readme
    assert (f"[![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"({links['Colab']})") in readme
