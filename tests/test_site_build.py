"""Building the course site (no browser): header parsing, launch links, when executed
copies are reused or refreshed, and the rules for the output folder. Uses two tiny real
notebooks, executed for real (a few seconds each)."""
from __future__ import annotations

import os
import re
import time

import jupytext
import nbformat
import pytest

from course_utils.tools import cli
from course_utils.tools.site import MARKER, build_site, staleness
from course_utils.tools.site_pages import launch_links, parse_header, total_time

HEADER = """# 01 · A tiny lesson

**Estimated time:** 5 minutes · **Prerequisites:** notebook 00;
`numpy` arrays.

By the end of this notebook you will be able to:

1. draw a *line*;
2. check a sum, and
   say why it is right.

### More text
"""

FIGURE = '''# %% [markdown]
# # 01 · A tiny lesson
#
# **Estimated time:** 5 minutes · **Prerequisites:** none.
#
# By the end of this notebook you will be able to:
#
# 1. draw a line.

# %%
import matplotlib.pyplot as plt

plt.plot([0, 1], [0, 1])
plt.show()

# %% tags=["solution"]
print(1 + 1)
'''

TEXT = FIGURE.replace("01 · A tiny lesson", "02 · Another lesson").replace(
    "5 minutes", "70 minutes").split("# %%\nimport")[0] + "# %%\nprint('no figure')\n"


def write_pair(folder, name, text):
    """A jupytext pair: the percent .py and its .ipynb."""
    (folder / f"{name}.py").write_text(text)
    jupytext.write(jupytext.reads(text, fmt="py:percent"), folder / f"{name}.ipynb")
    return folder / f"{name}.ipynb"


@pytest.fixture
def course(tmp_path):
    src = tmp_path / "notebooks"
    src.mkdir()
    return [write_pair(src, "01_tiny", FIGURE), write_pair(src, "02_text", TEXT)]


def test_parse_header_known_answer():
    info = parse_header("01_tiny", HEADER)
    assert info.title == "01 · A tiny lesson"
    assert info.time == "5 minutes"
    assert info.prerequisites == "notebook 00; `numpy` arrays."
    assert info.objectives == ("draw a *line*;", "check a sum, and say why it is right.")
    assert info.href == "01_tiny.html"


@pytest.mark.parametrize("header, problem", [
    (HEADER.replace("# 01", "01"), "'# ' title"),
    (HEADER.replace("**Estimated time:** 5 minutes ·", ""), "Estimated time"),
    (HEADER.replace("you will be able to", "you will know"), "numbered objectives"),
    ("", "'# ' title"),
])
def test_parse_header_names_what_is_missing(header, problem):
    with pytest.raises(ValueError, match=re.escape(problem)) as err:
        parse_header("01_tiny", header)
    assert str(err.value).startswith("01_tiny: ") and "jupytext --sync" in str(err.value)


def test_launch_links():
    assert launch_links("05_decoding", "someone/fork", "dev") == {
        "Binder": "https://mybinder.org/v2/gh/someone/fork/dev"
                  "?labpath=notebooks%2F05_decoding.ipynb",
        "Colab": "https://colab.research.google.com/github/someone/fork/blob/dev"
                 "/notebooks/05_decoding.ipynb",
        "Source": "https://github.com/someone/fork/blob/dev/notebooks/05_decoding.py"}


def test_total_time():
    info = parse_header("x", HEADER)
    assert total_time([info, info]) == "10 min"
    assert total_time([info.__class__(**{**info.__dict__, "time": "125 minutes"})]) == "2 h 5 min"
    assert total_time([info.__class__(**{**info.__dict__, "time": "about an hour"})]) == ""


def _pages(out):
    return {p.name: p.read_text() for p in out.glob("*.html")}


def test_build_then_reuse_then_refresh(tmp_path, course):
    out, done = tmp_path / "site", tmp_path / "executed"
    report = build_site(out, done, notebooks=course, log=lambda _: None)
    assert [(name, figures) for name, figures, _ in report.pages] == [("01_tiny", 1),
                                                                      ("02_text", 0)]
    assert all(seconds is not None for _, _, seconds in report.pages)   # both executed
    pages = _pages(out)
    assert sorted(pages) == ["01_tiny.html", "02_text.html", "index.html"]
    assert len(re.findall(r'<img[^>]* src="data:image/png;base64,', pages["01_tiny.html"])) == 1
    assert "celltag_solution" in pages["01_tiny.html"]
    assert 'href="02_text.html"' in pages["01_tiny.html"]
    assert 'href="01_tiny.html"' in pages["02_text.html"]
    index = pages["index.html"]
    assert index.index("01 · A tiny lesson") < index.index("02 · Another lesson")
    assert "Estimated time: 5 minutes" in index and "1 h 15 min" in index
    for html in pages.values():          # self-contained: no script or style from elsewhere
        assert not re.search(r"<script[^>]+src=|<link[^>]+stylesheet|@import", html)
    assert (out.stat().st_mode & 0o777) == 0o755
    assert (out / MARKER).is_file()

    before = (out / "index.html").stat().st_mtime_ns
    with pytest.raises(FileExistsError, match="--overwrite"):
        build_site(out, done, notebooks=course)
    assert (out / "index.html").stat().st_mtime_ns == before

    report = build_site(out, done, notebooks=course, overwrite=True)
    assert [seconds for _, _, seconds in report.pages] == [None, None]   # both reused

    later = time.time() + 5
    os.utime(course[1], (later, later))                  # 02 touched, not changed: reused
    write_pair(course[0].parent, "01_tiny", FIGURE.replace("print(1 + 1)", "print(2 + 2)"))
    lines = []
    report = build_site(out, done, notebooks=course, overwrite=True, log=lines.append)
    assert [seconds is None for _, _, seconds in report.pages] == [False, True]
    assert lines == ["executing 01_tiny.ipynb (executed copy's cells differ from the source) ..."]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["executed", "notebooks", "site"]


def test_staleness_reasons(tmp_path, course):
    done = tmp_path / "executed"
    source, copy = course[1], done / course[1].name
    assert staleness(source, copy) == "no executed copy"
    build_site(tmp_path / "site", done, notebooks=course[1:], log=lambda _: None)
    assert staleness(source, copy) is None

    def edit_copy(change):
        nb = nbformat.read(copy, as_version=4)
        change(nb.cells[-1])
        nbformat.write(nb, copy)
        later = time.time() + 5
        os.utime(copy, (later, later))

    edit_copy(lambda cell: cell.outputs.append(nbformat.v4.new_output(
        "error", ename="ValueError", evalue="x", traceback=[])))
    assert staleness(source, copy) == "executed copy has errors"
    edit_copy(lambda cell: cell.update(execution_count=None, outputs=[]))
    assert staleness(source, copy) == "executed copy has cells that did not run"
    edit_copy(lambda cell: cell.update(source="print('changed')"))
    assert staleness(source, copy) == "executed copy's cells differ from the source"


def test_bad_sources_fail_before_executing(tmp_path, course):
    done = tmp_path / "executed"
    course[1].with_suffix(".py").write_text(TEXT.replace("no figure", "edited"))
    with pytest.raises(ValueError, match=r"02_text.py and 02_text.ipynb differ.*--sync"):
        build_site(tmp_path / "site", done, notebooks=course)
    write_pair(course[1].parent, "02_text", TEXT.replace("**Estimated time:** 70 minutes", ""))
    with pytest.raises(ValueError, match="02_text: .*Estimated time"):
        build_site(tmp_path / "site", done, notebooks=course)
    assert not done.exists() and not (tmp_path / "site").exists()


def test_a_folder_that_is_not_a_site_is_never_replaced(tmp_path, course, capsys):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a site built by build-site"):
        build_site(precious, tmp_path / "executed", notebooks=course, overwrite=True)
    assert cli.main(["build-site", "--out", str(precious), "--overwrite"]) == 2
    assert "is never replaced" in capsys.readouterr().err
    assert [p.name for p in precious.iterdir()] == ["notes.txt"]
    assert (precious / "notes.txt").read_text() == "keep me"
    assert not (tmp_path / "executed").exists()


def test_notebook_markup_is_sanitised_and_the_course_markup_kept():
    """Issue 14, item 16: notebook HTML and Markdown went to the site unescaped."""
    from course_utils.tools.site_pages import notebook_info, render_index, render_notebook_page

    header = HEADER.replace("1. draw a *line*;", "1. draw a [line](javascript:alert('obj'));")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(header),
        nbformat.v4.new_markdown_cell(
            "hi <script>alert('md')</script> [a](javascript:alert('js')) "
            "<img src=x onerror=\"alert('img')\"> <iframe src='https://evil'></iframe> "
            "[ok](https://allensdk.readthedocs.io)"),
        nbformat.v4.new_code_cell("df", outputs=[
            nbformat.v4.new_output("execute_result", execution_count=1, data={
                "text/plain": "df", "text/html":
                    '<table class="dataframe"><thead><tr><th>a</th></tr></thead><tbody>'
                    '<tr><td style="text-align: right;">1</td></tr></tbody></table>'
                    "<script>alert('out')</script><a href='javascript:alert(2)'>x</a>"
                    "<a href='da&#9;ta:text/html,x'>d</a><style>body{display:none}</style>"}),
            nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=",
                                                         "text/plain": "<Figure>"})])]
    info = notebook_info(nb, "01_tiny")
    page = render_notebook_page(nb, [info], 0)
    body = page[page.index("<main"):]
    for bad in ("<script>alert", "javascript:", "onerror", "<iframe", "ta:text/html",
                "display:none}"):
        assert bad not in body, f"{bad} reached the page"
    for kept in ("<h1", "<table class=\"dataframe\">", "<th>a</th>",
                 "data:image/png;base64,iVBORw0KGgo=", 'href="https://allensdk.readthedocs.io"',
                 "&lt;script&gt;alert('md')"):
        assert kept in body, f"{kept} is missing"
    index = render_index([info])
    assert "javascript:" not in index and "<li>" in index
