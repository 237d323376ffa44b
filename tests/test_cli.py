"""The one command line: every command registered one way, --version, and exit codes
(0 done, 1 failed, 2 usage or input error, 130 interrupted)."""
import subprocess
import sys

import pytest

from course_utils import __version__
from course_utils.tools import cli


def test_every_command_is_registered():
    import argparse
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    for register in cli._commands():
        register(sub)
    assert set(sub.choices) == {"build-sample", "run-notebooks", "bin-spikes",
                                "bin-sessions", "check",
                                "fetch", "build-site", "colab-cells", "test-py312",
                                "notebooks"}
    handled = {name for name, p in sub.choices.items() if callable(p.get_default("func"))}
    assert handled == set(sub.choices) - {"notebooks"}
    notebooks = sub.choices["notebooks"]._subparsers._group_actions[0].choices
    assert set(notebooks) == {"clean", "store-outputs", "learner"}
    assert all(callable(p.get_default("func")) for p in notebooks.values())


def test_version_and_usage_errors():
    run = subprocess.run([sys.executable, "-m", "course_utils", "--version"],
                         capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.strip() == f"course_utils {__version__}"
    run = subprocess.run([sys.executable, "-m", "course_utils", "no-such-command"],
                         capture_output=True, text=True)
    assert run.returncode == 2 and "invalid choice" in run.stderr
    with pytest.raises(SystemExit) as exit_:
        cli.main(["bin-spikes", "--bin-size", "x", "--out", "a.nc"])
    assert exit_.value.code == 2


@pytest.mark.parametrize("raised, status, message", [
    (KeyboardInterrupt(), 130, "interrupted"),
    (ValueError("bad bin size"), 2, "error: bad bin size"),
    (KeyError("unknown session 1"), 2, "error: unknown session 1"),
])
def test_exit_status(monkeypatch, capsys, raised, status, message):
    def handler(args):
        raise raised
    monkeypatch.setattr(cli, "_run_notebooks", handler)
    assert cli.main(["run-notebooks"]) == status
    assert message in capsys.readouterr().err


def test_a_failed_command_exits_1(monkeypatch):
    monkeypatch.setattr(cli, "_run_notebooks", lambda args: 1)
    assert cli.main(["run-notebooks"]) == 1


def test_authoring_commands_are_on_the_one_command_line(tmp_path, capsys):
    from course_utils.tools.authoring import course_notebooks
    first = course_notebooks()[0]
    assert cli.main(["notebooks", "learner", "--out", str(tmp_path), str(first)]) == 0
    assert (tmp_path / first.name).exists()
    assert cli.main(["notebooks", "learner", "--out", str(tmp_path), str(first)]) == 2
    assert "exists" in capsys.readouterr().err


def test_notebooks_command_refuses_arguments_that_are_not_notebooks(tmp_path, capsys):
    assert cli.main(["notebooks", "learner", "--out", str(tmp_path), "notes.py"]) == 2
    assert "no .ipynb among" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
