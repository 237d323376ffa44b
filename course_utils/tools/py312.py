"""The Python 3.12 run of ``./course.sh test``: the Colab recipe, tested on this machine.

``python -m course_utils test-py312`` (run by ``./course.sh test`` after the Python 3.11
suite) does what a Colab runtime does, on this checkout instead of a fresh clone:

1. a Python 3.12 venv in ``.py312/venv`` that looks like a Colab runtime before the
   course is installed: Jupyter, the kernel and pytest (versions from requirements.txt)
   plus numpy 2 / pandas / matplotlib at other versions than the course's;
2. every notebook in a kernel of that venv that has numpy 2 etc. already imported and
   believes it is on Colab (``colab/simulate_colab.py``). The notebook's own setup cell
   runs ``colab/colab_setup.py`` on this checkout instead of a clone: the first one
   installs ``requirements-py312.txt`` into ``.py312/packages`` and builds the offline
   sample (here into ``.py312/offline_sample``), and each must make the course work in
   its kernel without a restart;
3. ``pip check``: only allensdk's own pins may be reported;
4. the test suite's ``tests/`` under Python 3.12.

Without a Python 3.12 interpreter (``$COURSE_PYTHON312``, ``python3.12`` on ``PATH`` or
pyenv) it says so and does nothing. The venv and packages are reused while the pins are
unchanged.
"""
from __future__ import annotations

import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ..config import REPO_ROOT

STATE_DIR = REPO_ROOT / ".py312"
VENV = STATE_DIR / "venv"
SAMPLE = STATE_DIR / "offline_sample"
#: The 3.12 run's own stored results (course_utils.reuse), apart from the 3.11 suite's.
RESULTS = STATE_DIR / "results_cache"
MAIN_LOCK = REPO_ROOT / "requirements.txt"
PY312_LOCK = REPO_ROOT / "requirements-py312.txt"
SIMULATOR = REPO_ROOT / "colab" / "simulate_colab.py"

#: The differences between requirements-py312.txt and requirements.txt, and why.
CHANGED = {"numpy": "1.26.4", "pandas": "2.2.3", "scipy": "1.11.4"}   # no cp312 wheels
REMOVED = {"scikit-build", "distro"}                # build tool allensdk never imports
#: The tools a Colab runtime brings itself: left out of requirements-py312.txt.
TOOL_ROOTS = ("jupyterlab", "jupytext", "nbclient", "ipykernel", "nbval", "pytest")
#: What `pip check` may report in the 3.12 environment: allensdk's declared pins.
ALLOWED_PIP_CHECK = (
    "allensdk 2.16.2 requires scikit-build, which is not installed.",
    "allensdk 2.16.2 has requirement numpy<1.24, but you have numpy 1.26.4.",
    "allensdk 2.16.2 has requirement pandas==1.5.3, but you have pandas 2.2.3.",
    "allensdk 2.16.2 has requirement scipy<1.11, but you have scipy 1.11.4.",
)
#: A Colab runtime's own numpy, pandas and matplotlib, imported before the first cell.
COLAB_PREINSTALLED = {"numpy": "2.0.2", "pandas": "2.2.2", "matplotlib": "3.10.0"}
#: Their dependencies, installed at the course's versions.
COLAB_PREINSTALLED_DEPS = ("contourpy", "cycler", "fonttools", "kiwisolver", "pillow",
                           "pyparsing", "pytz", "tzdata")


def normalise(name: str) -> str:
    """PyPI's normal form of a distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: Path) -> dict[str, tuple[str, str]]:
    """``{normalised name: (name as written, version)}`` of an exact-pin requirements file.

    Raises
    ------
    ValueError
        On a line that is not ``name==version`` or a name pinned twice.
    """
    pins: dict[str, tuple[str, str]] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#")[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;=]+)", line)
        if not match:
            raise ValueError(f"{path.name}:{number}: not an exact pin: {line!r}")
        key = normalise(match.group(1))
        if key in pins:
            raise ValueError(f"{path.name}:{number}: {match.group(1)} is pinned twice")
        pins[key] = (match.group(1), match.group(2))
    return pins


def tool_pins(main: Path = MAIN_LOCK, py312: Path = PY312_LOCK) -> dict[str, tuple[str, str]]:
    """The pins of requirements.txt left out of requirements-py312.txt on purpose: the
    Jupyter/kernel/test stack (CI installs them; Colab has its own)."""
    runtime = read_pins(py312)
    return {k: v for k, v in read_pins(main).items() if k not in runtime and k not in REMOVED}


def expected_pins() -> dict[str, str]:
    """``{name: version}`` the running environment should hold: requirements.txt on
    Python 3.11; requirements-py312.txt plus the tools on Python 3.12."""
    if sys.version_info[:2] != (3, 12):
        return {k: v for k, (_, v) in read_pins(MAIN_LOCK).items()}
    both = {**tool_pins(), **read_pins(PY312_LOCK)}
    return {k: v for k, (_, v) in both.items()}


def required_names(distribution: str, python: str = "3.12") -> set[str]:
    """Names a distribution installed here requires (markers evaluated for ``python``,
    no extras)."""
    from importlib.metadata import distribution as dist
    from packaging.requirements import Requirement

    names = set()
    for text in dist(distribution).requires or []:
        req = Requirement(text)
        env = {"python_version": python, "python_full_version": f"{python}.0", "extra": ""}
        if req.marker is None or req.marker.evaluate(env):
            names.add(normalise(req.name))
    return names


def closure(roots, python: str = "3.12") -> set[str]:
    """Every distribution ``roots`` need, transitively, per the installed metadata."""
    seen: set[str] = set()
    todo = [normalise(r) for r in roots]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(required_names(name, python) - seen)
    return seen


def base_venv_pins() -> list[str]:
    """Pins of the Colab-like 3.12 venv: the tools, what they need from the 3.12 lock, and
    a Colab runtime's own numpy / pandas / matplotlib (with their dependencies)."""
    locks = {**read_pins(MAIN_LOCK), **read_pins(PY312_LOCK)}
    names = (set(tool_pins()) | (closure(TOOL_ROOTS) & set(locks))
             | set(COLAB_PREINSTALLED_DEPS)) - set(COLAB_PREINSTALLED)
    return ([f"{locks[n][0]}=={locks[n][1]}" for n in sorted(names)]
            + [f"{n}=={v}" for n, v in COLAB_PREINSTALLED.items()])


def find_python312() -> tuple[str | None, list[str]]:
    """A Python 3.12 interpreter: ``$COURSE_PYTHON312``, ``python3.12`` on ``PATH``, or
    pyenv's newest 3.12. Returns (path or None, the places looked at)."""
    root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    pyenv = sorted(glob.glob(f"{root}/versions/3.12*/bin/python3.12"), reverse=True)
    candidates = [os.environ.get("COURSE_PYTHON312", ""), shutil.which("python3.12") or "",
                  *pyenv]
    looked = ["$COURSE_PYTHON312", "python3.12 on PATH", f"{root}/versions/3.12*"]
    for candidate in filter(None, candidates):
        try:
            probe = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"],
                                   capture_output=True, text=True)
        except OSError:            # missing or not executable
            continue
        if probe.returncode == 0 and probe.stdout.strip() == "(3, 12)":
            return candidate, looked
    return None, looked


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _pip(python: Path, *args: str) -> None:
    """Run pip quietly; show its output only if it fails."""
    done = subprocess.run([str(python), "-m", "pip", "--disable-pip-version-check", *args],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if done.returncode:
        raise RuntimeError(f"pip {' '.join(args)} failed:\n{done.stdout[-4000:]}")


def ensure_venv(interpreter: str) -> Path:
    """Create or reuse ``.py312/venv`` (stamped with its pins); returns its python."""
    python = VENV / "bin" / "python"
    pins = base_venv_pins()
    want = _digest(*pins)
    stamp = VENV / ".course-pins.sha256"
    if python.exists() and stamp.is_file() and stamp.read_text().strip() == want:
        return python
    if VENV.exists():
        shutil.rmtree(VENV)          # only ever made by this function
    subprocess.run([interpreter, "-m", "venv", str(VENV)], check=True)
    requirements = VENV / "base-requirements.txt"
    requirements.write_text("\n".join(pins) + "\n")
    _pip(python, "install", "--no-deps", "--only-binary=:all:", "-r", str(requirements))
    subprocess.run([str(python), "-m", "ipykernel", "install", "--sys-prefix", "--name",
                    "python3"], check=True, stdout=subprocess.DEVNULL)
    stamp.write_text(want + "\n")
    return python


def course_env() -> dict:
    """Environment of a Python 3.12 process using the course: the recipe's packages and
    the checkout first, the 3.12 sample."""
    env = dict(os.environ, COURSE_SAMPLE_DIR=str(SAMPLE), COURSE_RESULTS_DIR=str(RESULTS))
    env["PYTHONPATH"] = os.pathsep.join([str(STATE_DIR / "packages"), str(REPO_ROOT)])
    return env


def pip_check(python: Path) -> list[str]:
    """Problems `pip check` reports that are not allowed (empty when all is well)."""
    done = subprocess.run([str(python), "-m", "pip", "check"], env=course_env(),
                          capture_output=True, text=True)
    lines = [l for l in done.stdout.splitlines() if l.strip() and "No broken" not in l]
    return [l for l in lines if l not in ALLOWED_PIP_CHECK]


def _step(title: str, fn):
    print(f"[3.12] {title} ...", flush=True)
    started = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - started
    print(f"[3.12]   done in {seconds:.0f} s", flush=True)
    return result, seconds


def _subprocess(cmd: list[str], env: dict) -> int:
    return subprocess.run(cmd, env=env, cwd=REPO_ROOT).returncode


def run() -> int:
    """The whole Python 3.12 run; returns an exit status (0 also when no 3.12 exists)."""
    interpreter, looked = find_python312()
    if interpreter is None:
        print("[3.12] NOT RUN: no Python 3.12 interpreter found (looked at "
              f"{', '.join(looked)}). The Colab recipe (requirements-py312.txt) was not "
              "tested. Set COURSE_PYTHON312=/path/to/python3.12 to test it.")
        return 0
    print(f"[3.12] testing the Colab recipe with {interpreter}")
    try:
        python, t_venv = _step("Colab-like venv (.py312/venv)",
                               lambda: ensure_venv(interpreter))
    except (RuntimeError, subprocess.CalledProcessError) as err:
        print(f"[3.12] FAILED to make the Python 3.12 venv: {err}")
        return 1
    kernel_env = dict(os.environ, COURSE_SAMPLE_DIR=str(SAMPLE), COURSE_RESULTS_DIR=str(RESULTS))
    kernel_env.pop("PYTHONPATH", None)
    status, t_sim = _step(
        "the notebooks in simulated Colab kernels (numpy 2 preloaded); the first one's "
        "setup cell installs the pins and builds the sample",
        lambda: _subprocess([str(python), str(SIMULATOR)], kernel_env))
    if status:
        print("[3.12] FAILED: a notebook in the simulated Colab kernel")
        return status
    problems = pip_check(python)
    if problems:
        print("[3.12] FAILED pip check:\n  " + "\n  ".join(problems))
        return 1
    # The course site is built by instructors in the main environment, never on Colab;
    # its test also shares outputs/executed with the 3.11 suite running alongside.
    tests = [str(python), "-m", "pytest", "-p", "no:cacheprovider", "-q", "tests",
             "--ignore=tests/test_site.py"]
    status, t_tests = _step("pytest tests/ under Python 3.12",
                            lambda: _subprocess(tests, course_env()))
    print(f"[3.12] {'passed' if not status else 'FAILED'}: venv {t_venv:.0f} s, simulated "
          f"Colab notebooks (incl. install and sample) {t_sim:.0f} s, tests {t_tests:.0f} s")
    return status


def register(sub) -> None:
    """Add the ``test-py312`` command to the course's command line."""
    p = sub.add_parser("test-py312", help="test the Python 3.12 / Colab recipe")
    p.set_defaults(func=cli_run)


def cli_run(args=None) -> int:
    """``python -m course_utils test-py312``."""
    return run()
