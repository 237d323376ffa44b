"""Set the course up in a Google Colab runtime (Python 3.12), without restarting it.

Every notebook's first code cell clones the course (on Colab only) and calls
:func:`setup` from this file. ``./course.sh test`` runs that cell on this checkout in a
simulated Colab kernel (``course_utils/tools/py312.py``). By hand, steps 1 and 2 are
``python3.12 colab/colab_setup.py``.

Steps
-----
1. Install ``requirements-py312.txt`` into ``<checkout>/.py312/packages`` with
   ``pip install --target`` in a subprocess. It goes to a temporary folder that is renamed
   into place when complete, and is reused while the pins are unchanged.
2. Build the offline sample (``python -m course_utils build-sample``) in a subprocess.
3. In the notebook's kernel: put that folder and the checkout first on ``sys.path``,
   forget the modules the kernel had already imported from other versions, and change
   to ``notebooks/``.

Why a separate folder, not Colab's own site-packages: a Colab kernel starts with numpy 2
already imported. Installing numpy 1.26 over it in place would leave the loaded numpy 2
half-replaced on disk (the familiar ``numpy.dtype size changed`` errors until you
restart), and a compiled module cannot be reloaded from the same path in one process.
From a separate folder, the course's versions load as fresh modules once the stale
entries are dropped from ``sys.modules``; Colab's own packages stay untouched.

This file uses the standard library only: the kernel imports nothing heavy before step 3.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import BuiltinFunctionType, FunctionType

REQUIREMENTS = "requirements-py312.txt"
PACKAGES_DIR = Path(".py312") / "packages"
STAMP = ".course-pins.sha256"
PYTHON = (3, 12)
#: Pins published as source only (pure Python); everything else must be a wheel.
SOURCE_ONLY = ("argschema",)
#: Packages of the running kernel itself: never dropped from sys.modules.
KERNEL_PACKAGES = frozenset({
    "IPython", "ipykernel", "ipywidgets", "google", "colab_kernel_launcher", "traitlets",
    "jupyter_client", "jupyter_core", "zmq", "tornado", "comm", "debugpy", "__main__",
})


def pip_install_args(requirements: Path, target: Path) -> list[str]:
    """The ``pip install`` arguments of step 1 (the same command the file's header shows)."""
    return ["install", "--no-deps", "--only-binary=:all:",
            *(f"--no-binary={name}" for name in SOURCE_ONLY),
            "--target", str(target), "-r", str(requirements)]


def pins_digest(repo: Path) -> str:
    """SHA-256 of ``requirements-py312.txt``: the packages folder is current when its stamp
    holds this value."""
    return hashlib.sha256((repo / REQUIREMENTS).read_bytes()).hexdigest()


def check_python(version: tuple = tuple(sys.version_info[:2])) -> None:
    """Raise a clear error on a Python other than 3.12 (the pins are cp312 wheels)."""
    if tuple(version) != PYTHON:
        raise RuntimeError(
            f"This recipe is for Python 3.12; this runtime runs Python "
            f"{'.'.join(map(str, version))}, for which {REQUIREMENTS} has no wheels. On "
            "Colab, use a runtime with Python 3.12; elsewhere use Python 3.11 and "
            "requirements.txt (see README).")


def is_current(repo: Path, packages: Path) -> bool:
    """True if ``packages`` was installed from the current pins."""
    stamp = packages / STAMP
    return stamp.is_file() and stamp.read_text().strip() == pins_digest(repo)


def _run(cmd: list[str], env: dict | None = None, cwd: Path | None = None) -> str:
    """Run a command, relaying nothing unless it fails; return its output."""
    done = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    if done.returncode:
        tail = "\n".join(done.stdout.splitlines()[-40:])
        raise RuntimeError(f"{' '.join(cmd[:4])} ... failed (exit {done.returncode}):\n{tail}")
    return done.stdout


def install_packages(repo: Path, packages: Path | None = None,
                     python: str = sys.executable) -> bool:
    """Step 1: install the pins into ``packages`` unless already current.

    Returns
    -------
    bool
        True if it installed, False if the folder was already current.

    Raises
    ------
    FileExistsError
        ``packages`` exists but was not made by this function (no stamp): left untouched.
    """
    packages = Path(packages or repo / PACKAGES_DIR)
    if is_current(repo, packages):
        return False
    if packages.exists() and not (packages / STAMP).is_file():
        raise FileExistsError(f"{packages} exists but was not made by {Path(__file__).name} "
                              "(no stamp); remove it yourself or choose another folder.")
    work = packages.parent / f"{packages.name}.tmp-{os.getpid()}"
    packages.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(work, ignore_errors=True)
    try:
        _run([python, "-m", "pip", "--disable-pip-version-check", *pip_install_args(
            repo / REQUIREMENTS, work)])
        (work / STAMP).write_text(pins_digest(repo) + "\n")
        old = packages.parent / f"{packages.name}.old-{os.getpid()}"
        if packages.exists():
            packages.rename(old)
        work.rename(packages)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return True


def course_env(repo: Path, packages: Path) -> dict:
    """Environment for subprocesses that use the course: its packages and checkout first."""
    env = dict(os.environ)
    paths = [str(packages), str(repo)] + [p for p in env.get("PYTHONPATH", "").split(
        os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def build_sample(repo: Path, packages: Path, python: str = sys.executable) -> str:
    """Step 2: build (or reuse) the offline sample; returns the builder's report."""
    return _run([python, "-m", "course_utils", "build-sample", "--quiet"],
                env=course_env(repo, packages), cwd=repo).strip()


def provided_names(packages: Path) -> set[str]:
    """Top-level import names installed in ``packages`` (``numpy``, ``PIL``, ``six`` ...)."""
    names = set()
    for entry in packages.iterdir():
        if entry.name.endswith((".dist-info", ".libs", ".pth")) or entry.name in {
                "bin", "__pycache__", STAMP}:
            continue
        names.add(entry.name.split(".")[0])
    return names


def _loaded_from(module, folder: Path) -> bool:
    paths = [getattr(module, "__file__", None)] + list(getattr(module, "__path__", []) or [])
    return any(p and Path(p).resolve().is_relative_to(folder) for p in paths)


def _refers_to(module, stale_tops: set[str], stale_ids: set[int]) -> bool:
    """True if a module-level name of ``module`` is a stale module, or a class or function
    defined in a stale package."""
    for value in list(getattr(module, "__dict__", {}).values()):
        if id(value) in stale_ids:
            return True
        if isinstance(value, (type, FunctionType, BuiltinFunctionType)):
            owner = getattr(value, "__module__", None)
            if isinstance(owner, str) and owner.split(".")[0] in stale_tops:
                return True
    return False


def stale_modules(packages: Path, modules: dict | None = None) -> list[str]:
    """Names in ``sys.modules`` to forget before the kernel imports the course's versions:
    modules of a package in ``packages`` that were loaded from elsewhere, and every module
    of another (non-kernel, non-stdlib) package that refers to one of them, e.g.
    ``matplotlib_inline`` bound to Colab's matplotlib."""
    modules = sys.modules if modules is None else modules
    folder = packages.resolve()
    provided = provided_names(packages)
    stale = {name for name, mod in list(modules.items())
             if name.split(".")[0] in provided and not _loaded_from(mod, folder)}
    while True:
        tops = {name.split(".")[0] for name in stale}
        ids = {id(modules[name]) for name in stale}
        dependents = {name.split(".")[0] for name, mod in list(modules.items())
                      if name not in stale and mod is not None
                      and name.split(".")[0] not in KERNEL_PACKAGES
                      and name.split(".")[0] not in sys.stdlib_module_names
                      and _refers_to(mod, tops, ids)}
        more = {name for name in modules if name.split(".")[0] in dependents} - stale
        if not more:
            return sorted(stale)
        stale |= more


def activate(repo: Path, packages: Path) -> tuple[list[str], list[str]]:
    """Step 3, in the kernel: the course's packages and checkout first on ``sys.path``,
    stale modules forgotten, working folder ``notebooks/``.

    Returns
    -------
    (forgotten module names, names in ``__main__`` still bound to forgotten modules)
    """
    for path in (str(repo), str(packages)):
        while path in sys.path:
            sys.path.remove(path)
        sys.path.insert(0, path)
    stale = stale_modules(packages)
    old = {id(sys.modules[name]) for name in stale}
    for name in stale:
        del sys.modules[name]
    importlib.invalidate_caches()
    os.chdir(repo / "notebooks")
    main = vars(sys.modules["__main__"]) if "__main__" in sys.modules else {}
    bound = sorted(k for k, v in list(main.items()) if id(v) in old and not k.startswith("_"))
    return stale, bound


def _tops(names: list[str]) -> str:
    tops = sorted({n.split(".")[0] for n in names})
    return ", ".join(tops) if tops else "none"


def setup(repo: str | os.PathLike) -> None:
    """All three steps, for the notebook's first cell. Prints one line per step."""
    repo = Path(repo).resolve()
    packages = repo / PACKAGES_DIR
    check_python()
    started = time.perf_counter()
    print("installing the course's Python 3.12 pins (first run about a minute) ...", flush=True)
    done = install_packages(repo, packages)
    print(f"  {'installed' if done else 'already installed'} in {packages}")
    print("building the offline sample (first run about two minutes) ...", flush=True)
    print("  " + build_sample(repo, packages).replace("\n", "\n  "))
    stale, bound = activate(repo, packages)
    print(f"ready in {time.perf_counter() - started:.0f} s: course_utils importable, working "
          f"folder {Path.cwd()}; reloaded from the course's pins: {_tops(stale)}")
    if bound:
        print(f"WARNING: {', '.join(bound)} still refer to the versions imported before "
              "this cell; mixing them with the course's gives wrong results. Restart "
              "(Runtime > Restart session) and run this cell first.")


def main(argv: list[str] | None = None) -> int:
    """Command line: steps 1 and 2 on a checkout, with this interpreter."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", default=Path(__file__).resolve().parent.parent, type=Path,
                        help="course checkout (default: the one holding this file)")
    parser.add_argument("--no-sample", action="store_true", help="install only")
    args = parser.parse_args(argv)
    repo = args.repo.resolve()
    try:
        check_python()
        started = time.perf_counter()
        done = install_packages(repo)
        print(f"{'installed' if done else 'reused'} {repo / PACKAGES_DIR} "
              f"({time.perf_counter() - started:.0f} s)")
        if not args.no_sample:
            print(build_sample(repo, repo / PACKAGES_DIR))
    except (RuntimeError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
