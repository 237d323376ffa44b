"""The run command's report: each notebook's time and the kernel's peak memory."""
from pathlib import Path

import nbformat
import numpy as np

from course_utils.tools.runner import (COURSE_SECONDS_BUDGET, NOTEBOOK_MEMORY_BUDGET_GB,
                                       execute_notebook, prepare_data, run_report)


def test_execute_notebook_measures_the_kernels_peak(tmp_path):
    # This process holds 1.2 GB while the kernel starts: the kernel's peak must not
    # include it (Linux's ru_maxrss would, through fork and exec).
    ballast = np.ones(150_000_000)
    nb = nbformat.v4.new_notebook()
    # 400 MB of float64 touched page by page, then released: the peak must still see it.
    nb.cells = [nbformat.v4.new_code_cell(
        "import numpy as np\nx = np.ones(50_000_000)\ntotal = x.sum()\ndel x\nprint(total)")]
    source = tmp_path / "big.ipynb"
    nbformat.write(nb, source)
    seconds, peak_gb = execute_notebook(source, tmp_path / "out")
    assert seconds > 0
    assert 0.4 <= peak_gb < 1.0, peak_gb
    assert ballast.sum() == 150_000_000
    executed = nbformat.read(tmp_path / "out" / "big.ipynb", as_version=4)
    assert len(executed.cells) == 1, "the memory probe must not reach the executed copy"
    assert executed.cells[0].outputs[0]["text"].strip() == "50000000.0"
    assert nbformat.read(source, as_version=4).cells[0].outputs == [], "source untouched"


def test_report_flags_budgets():
    ok = run_report([("01_a", 10.0, 0.5), ("02_b", 20.0, 1.2)])
    assert ok[1].split() == ["01_a", "10.0", "s", "0.50", "GB"]
    assert ok[-1].startswith("total") and " 30.0 s  within" in ok[-1]
    assert not any("OVER" in line for line in ok)
    over = run_report([("03_c", COURSE_SECONDS_BUDGET + 1, NOTEBOOK_MEMORY_BUDGET_GB + 0.1)])
    assert "OVER the 1.5 GB budget" in over[1]
    assert f"OVER the {COURSE_SECONDS_BUDGET:.0f} s budget" in over[-1]


def test_data_is_prepared_before_the_notebooks_are_timed(monkeypatch):
    import course_utils.sample as sample
    import course_utils.sample.more_sessions as more

    calls = []
    monkeypatch.setattr(sample, "ensure_sample", lambda progress: calls.append("sample"))
    monkeypatch.setattr(more, "ensure_more_sessions",
                        lambda ids, progress: calls.append(("more", ids)))
    prepare_data([Path("notebooks/04_neuropixels_spike_binning.ipynb")])
    assert calls == ["sample"]
    prepare_data([Path("notebooks/05_decoding.ipynb"), Path("notebooks/06_many_sessions.ipynb")])
    assert calls == ["sample", "sample", ("more", "all")]
    notebooks = sorted(Path(__file__).resolve().parent.parent.glob("notebooks/0*.ipynb"))
    assert "06_many_sessions" in [p.stem for p in notebooks]         # the name is right


def test_an_incomplete_run_does_not_claim_the_budget():
    lines = run_report([("01_a", 10.0, 0.5)], failed=["02_b.ipynb"])
    assert "within" not in lines[-1] and "OVER" not in lines[-1]
    assert "1 failed (02_b.ipynb)" in lines[-1] and "not checked" in lines[-1]
    assert run_report([], failed=["01_a.ipynb"])[-1].split()[:3] == ["total", "0.0", "s"]


def test_the_kernel_talks_over_local_sockets(tmp_path, capfd):
    # TCP ports on a shared server are reachable by every user; ipykernel warns about
    # them on stderr. The runner's kernel uses Unix domain sockets, from any folder.
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "from ipykernel.kernelapp import IPKernelApp\n"
        "print(IPKernelApp.instance().transport)")]
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    nbformat.write(nb, folder / "t.ipynb")
    from jupyter_core.paths import jupyter_runtime_dir
    runtime = Path(jupyter_runtime_dir())
    sockets_before = set(runtime.glob("kernel-*-ipc-*")) if runtime.is_dir() else set()
    execute_notebook(folder / "t.ipynb", tmp_path / "out")
    executed = nbformat.read(tmp_path / "out" / "t.ipynb", as_version=4)
    assert executed.cells[0].outputs[0]["text"].strip() == "ipc"
    assert "without encryption" not in capfd.readouterr().err
    # the sockets go with the kernel, and none lands in the notebook's folder
    assert set(runtime.glob("kernel-*-ipc-*")) == sockets_before
    assert [p.name for p in folder.iterdir()] == ["t.ipynb"]
