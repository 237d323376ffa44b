"""colab/colab_setup.py on any Python, without pip or network: the version check, the
atomic and stamped install folder, and the in-kernel switch to the course's packages."""
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "colab" / "colab_setup.py"


def _load():
    spec = importlib.util.spec_from_file_location("colab_setup", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cs = _load()


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "notebooks").mkdir(parents=True)
    (repo / cs.REQUIREMENTS).write_text("fakenum==1\n")
    return repo


def _fake_python(tmp_path: Path, exit_code: int = 0) -> str:
    """Stands in for `python -m pip install ... --target DIR`: writes a module into DIR."""
    fake = tmp_path / "fake-python"
    fake.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import pathlib, sys
        args = sys.argv[1:]
        print("pip says hello")
        if {exit_code}:
            print("ERROR: no matching distribution"); sys.exit({exit_code})
        target = pathlib.Path(args[args.index("--target") + 1])
        target.mkdir(parents=True, exist_ok=True)
        (target / "fakenum").mkdir()
        (target / "fakenum" / "__init__.py").write_text("__version__ = '1'\\n")
        """))
    fake.chmod(0o755)
    return str(fake)


def test_only_python_312_is_accepted():
    cs.check_python((3, 12))
    with pytest.raises(RuntimeError, match=r"for Python 3.12; this runtime runs Python 3.11"):
        cs.check_python((3, 11))


def test_install_is_stamped_atomic_and_reused(tmp_path):
    repo = _repo(tmp_path)
    assert cs.install_packages(repo, python=_fake_python(tmp_path)) is True
    packages = repo / cs.PACKAGES_DIR
    assert (packages / "fakenum" / "__init__.py").is_file()
    assert (packages / cs.STAMP).read_text().strip() == cs.pins_digest(repo)
    assert sorted(p.name for p in packages.parent.iterdir()) == ["packages"]   # no leftovers
    assert cs.install_packages(repo, python="/nonexistent/python") is False     # reused
    (repo / cs.REQUIREMENTS).write_text("fakenum==2\n")                          # pins change
    assert cs.install_packages(repo, python=_fake_python(tmp_path)) is True
    assert (packages / cs.STAMP).read_text().strip() == cs.pins_digest(repo)
    assert sorted(p.name for p in packages.parent.iterdir()) == ["packages"]


def test_failed_install_leaves_nothing_and_says_why(tmp_path):
    repo = _repo(tmp_path)
    with pytest.raises(RuntimeError, match=r"(?s)failed \(exit 1\).*no matching distribution"):
        cs.install_packages(repo, python=_fake_python(tmp_path, exit_code=1))
    assert list((repo / ".py312").iterdir()) == []


def test_a_folder_it_did_not_make_is_left_alone(tmp_path):
    repo = _repo(tmp_path)
    packages = repo / cs.PACKAGES_DIR
    packages.mkdir(parents=True)
    (packages / "precious.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="was not made by colab_setup.py"):
        cs.install_packages(repo, python=_fake_python(tmp_path))
    assert (packages / "precious.txt").read_text() == "mine"


def test_subprocesses_see_the_packages_then_the_checkout_first(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    env = cs.course_env(tmp_path / "repo", tmp_path / "pk")
    assert env["PYTHONPATH"].split(os.pathsep) == [str(tmp_path / "pk"), str(tmp_path / "repo"),
                                                   "/elsewhere"]


def test_pip_arguments():
    assert cs.pip_install_args(Path("r.txt"), Path("T")) == [
        "install", "--no-deps", "--only-binary=:all:", "--no-binary=argschema",
        "--target", "T", "-r", "r.txt"]


KERNEL = """
import json, os, sys
sys.path.insert(0, {preinstalled!r})
import fakenum, fakedep, traitlets, fakestd_user      # what the kernel has loaded already
old = {{"fakenum": fakenum, "fakedep": fakedep, "traitlets": traitlets}}
sys.path.insert(0, {colab_dir!r})
import colab_setup
stale, bound = colab_setup.activate(colab_setup.Path({repo!r}), colab_setup.Path({packages!r}))
import fakenum as new_fakenum, fakedep as new_fakedep, traitlets as new_traitlets
print(json.dumps({{
    "stale": stale, "bound": bound, "version": new_fakenum.__version__,
    "file": new_fakenum.__file__, "dep_sees_new": new_fakedep.fakenum is new_fakenum,
    "dep_reloaded": new_fakedep is not old["fakedep"],
    "kernel_kept": new_traitlets is old["traitlets"], "cwd": os.getcwd(), "path": sys.path[:2],
    "provided": sorted(colab_setup.provided_names(colab_setup.Path({packages!r}))),
}}))
"""


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_activate_swaps_preloaded_modules_without_restart(tmp_path):
    """A kernel that already imported version 2 of a package ends up using the course's
    version 1 from the packages folder; a module bound to the old one is reloaded too;
    the kernel's own packages are never dropped."""
    pre, repo = tmp_path / "colab-site", tmp_path / "repo"
    packages = repo / ".py312" / "packages"
    (repo / "notebooks").mkdir(parents=True)
    _write(pre / "fakenum" / "__init__.py", "__version__ = '2'\nfrom . import core\n")
    _write(pre / "fakenum" / "core.py", "")
    _write(pre / "fakedep.py", "import fakenum\n")
    _write(pre / "traitlets" / "__init__.py", "import fakenum\n")
    _write(pre / "fakestd_user.py", "import json\n")
    _write(packages / "fakenum" / "__init__.py", "__version__ = '1'\nfrom . import core\n")
    _write(packages / "fakenum" / "core.py", "")
    _write(packages / "fakenum-1.dist-info" / "METADATA", "Name: fakenum\n")
    _write(packages / "fakenum.libs" / "lib.so", "")
    _write(packages / "bin" / "tool", "")
    _write(packages / cs.STAMP, "x\n")
    code = KERNEL.format(preinstalled=str(pre), colab_dir=str(SCRIPT.parent), repo=str(repo),
                         packages=str(packages))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": ""})
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["provided"] == ["fakenum"]
    assert out["stale"] == ["fakedep", "fakenum", "fakenum.core"]
    assert out["bound"] == ["fakedep", "fakenum"]        # the "kernel" imported them by name
    assert out["version"] == "1" and out["file"] == str(packages / "fakenum" / "__init__.py")
    assert out["dep_sees_new"] and out["dep_reloaded"] and out["kernel_kept"]
    assert out["cwd"] == str(repo / "notebooks")
    assert out["path"] == [str(packages), str(repo)]
