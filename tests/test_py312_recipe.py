"""The Python 3.12 (Colab) lock: exact pins, the same as requirements.txt except for the
listed differences, complete, and installed by the command its header shows.

Whether every pin really installs and works on Python 3.12 is what the 3.12 run of
`./course.sh test` (course_utils/tools/py312.py) checks; these tests run on any Python."""
import importlib.util
import re
from pathlib import Path

import pytest

from course_utils.tools import py312

ROOT = Path(__file__).resolve().parent.parent


def _colab_setup():
    spec = importlib.util.spec_from_file_location("colab_setup", ROOT / "colab" / "colab_setup.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_line_is_an_exact_pin_and_bad_lines_are_refused(tmp_path):
    pins = py312.read_pins(py312.PY312_LOCK)
    assert len(pins) == 99
    bad = tmp_path / "r.txt"
    bad.write_text("numpy>=1.26\n")
    with pytest.raises(ValueError, match=r"r.txt:1: not an exact pin"):
        py312.read_pins(bad)
    bad.write_text("numpy==1.26.4\nNumPy==1.26.4\n")
    with pytest.raises(ValueError, match="pinned twice"):
        py312.read_pins(bad)


def test_critical_pins():
    pins = {k: v for k, (_, v) in py312.read_pins(py312.PY312_LOCK).items()}
    assert pins["allensdk"] == "2.16.2"
    assert pins["hdmf"] == "3.14.6" and pins["pynwb"] == "2.8.3"
    assert pins["numpy"] == "1.26.4" and pins["pandas"] == "2.2.3"
    assert pins["numba"] == "0.68.1" and pins["llvmlite"] == "0.50.0"   # numpy 1.22-2.5, 3.10-3.14


def test_differences_from_the_main_lock_are_exactly_the_listed_ones():
    main = py312.read_pins(py312.MAIN_LOCK)
    new = py312.read_pins(py312.PY312_LOCK)
    changed = {k: new[k][1] for k in new.keys() & main.keys() if new[k][1] != main[k][1]}
    assert changed == py312.CHANGED
    assert set(new) <= set(main)                     # nothing added
    assert "tzdata" in new                           # pandas 2 needs it at run time
    assert py312.REMOVED <= set(main) - set(new)
    # what else is left out is the Jupyter / kernel / test stack Colab brings itself
    tools = py312.tool_pins()
    assert set(tools) == set(main) - set(new) - py312.REMOVED
    assert {"jupyterlab", "jupytext", "nbclient", "ipykernel", "nbval", "pytest", "ipython",
            "traitlets", "jupyter-client", "pyzmq", "tornado"} <= set(tools)


def test_the_lock_is_complete_per_installed_metadata():
    """Every requirement of every pinned package is pinned too (markers for 3.12), except
    the build tool allensdk declares and never imports, and what the running Colab kernel
    has itself (py312.KERNEL_OWN: distributed's psutil and tornado, bokeh's tornado)."""
    new = py312.read_pins(py312.PY312_LOCK)
    missing = {name: sorted(py312.required_names(name) - set(new))
               for name in new if py312.required_names(name) - set(new)}
    assert missing == {"allensdk": ["scikit-build"], "bokeh": ["tornado"],
                       "distributed": ["psutil", "tornado"]}
    assert py312.KERNEL_OWN == {"psutil", "tornado"}


def test_no_kernel_package_is_replaced():
    """The in-kernel switch never drops the running kernel's own modules: the lock holds
    none of their distributions."""
    new = set(py312.read_pins(py312.PY312_LOCK))
    kernel_dists = {"ipython", "ipykernel", "ipywidgets", "traitlets", "jupyter-client",
                    "jupyter-core", "pyzmq", "tornado", "comm", "debugpy"}
    assert not new & kernel_dists


def test_header_shows_the_command_the_setup_script_runs():
    header = [l for l in py312.PY312_LOCK.read_text().splitlines() if "pip install" in l]
    args = _colab_setup().pip_install_args(Path("requirements-py312.txt"), Path("TARGET"))
    assert header == ["#   " + " ".join(["pip", *args]).replace(" --target TARGET", "")]


def test_expected_pins_follow_the_python_version(monkeypatch):
    monkeypatch.setattr(py312.sys, "version_info", (3, 12, 1))
    on_312 = py312.expected_pins()
    assert on_312["numpy"] == "1.26.4" and on_312["pytest"] == "9.2.0"
    assert "scikit-build" not in on_312
    monkeypatch.setattr(py312.sys, "version_info", (3, 11, 7))
    assert py312.expected_pins()["numpy"] == "1.23.5"


def test_base_venv_is_colab_like():
    """Jupyter and pytest at the locks' versions, numpy 2 instead of the course's numpy,
    and none of the course's own packages (so a gap in the lock cannot hide)."""
    pins = dict(line.split("==") for line in py312.base_venv_pins())
    assert pins["numpy"] == "2.0.2" and pins["pandas"] == "2.2.2"
    assert pins["pytest"] == "9.2.0" and pins["nbclient"] == "0.11.0"
    assert not {"allensdk", "hdmf", "pynwb", "scipy", "xarray", "numba"} & set(pins)


def test_find_python312_reports_where_it_looked(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_PYTHON312", str(tmp_path / "missing"))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    found, looked = py312.find_python312()
    assert found is None
    assert looked == ["$COURSE_PYTHON312", "python3.12 on PATH", f"{tmp_path}/versions/3.12*"]


def test_no_python312_means_a_clear_message_and_no_failure(monkeypatch, capsys):
    monkeypatch.setattr(py312, "find_python312", lambda: (None, ["here", "there"]))
    assert py312.run() == 0
    out = capsys.readouterr().out
    assert "[3.12] NOT RUN: no Python 3.12 interpreter found (looked at here, there)" in out
    assert "COURSE_PYTHON312" in out


def test_pip_check_allows_only_allensdks_own_pins():
    for line in py312.ALLOWED_PIP_CHECK:
        assert line.startswith("allensdk 2.16.2 ")
    versions = {k: v for k, (_, v) in py312.read_pins(py312.PY312_LOCK).items()}
    for name in ("numpy", "pandas", "scipy"):
        assert any(f"you have {name} {versions[name]}." in l for l in py312.ALLOWED_PIP_CHECK)
    assert re.search(r"scikit-build, which is not installed", " ".join(py312.ALLOWED_PIP_CHECK))
