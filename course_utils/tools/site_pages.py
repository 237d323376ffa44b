"""The pages of the course site: what each notebook's first cell says about it, its launch
links, and the HTML of a notebook page and of the index.

The site is built by :mod:`course_utils.tools.site`; this module only turns notebooks into
strings. Every page is self-contained: styles and figures are inlined, and the
nbconvert scripts that would load require.js, MathJax, mermaid or widgets from a CDN
are left out, so the site works offline.
"""
from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import nbformat

from .colab import without_badge
from ..config import GITHUB_BRANCH, GITHUB_REPOSITORY

TEMPLATE_DIR = Path(__file__).resolve().parent / "site_templates"
COURSE_TITLE = "Analysing Allen Brain Observatory data in Python"

_TIME = re.compile(r"\*\*Estimated time:\*\*\s*(?P<time>[^·\n]+?)\s*(?:·|\n|$)")
_PREREQ = re.compile(r"\*\*Prerequisites:\*\*\s*(?P<pre>.+?)\s*(?:\n\s*\n|$)", re.S)
_ITEM = re.compile(r"^\d+\.\s+\S")
_MINUTES = re.compile(r"^(\d+)\s+minutes?$")


@dataclass(frozen=True)
class NotebookInfo:
    """What the first markdown cell of a course notebook says about it.

    Attributes
    ----------
    name : str
        File stem, e.g. ``"01_loading_the_caches"``.
    title : str
        The cell's ``# `` heading.
    time : str
        The text after ``**Estimated time:**``, e.g. ``"30 minutes"``.
    prerequisites : str
        The text after ``**Prerequisites:**`` (markdown), or ``""``.
    objectives : tuple of str
        The numbered items after "you will be able to" (markdown, one per item).
    """

    name: str
    title: str
    time: str
    prerequisites: str
    objectives: tuple[str, ...]

    @property
    def href(self) -> str:
        """The page's file name in the site."""
        return f"{self.name}.html"


def _header_error(name: str, problem: str) -> ValueError:
    return ValueError(
        f"{name}: the first markdown cell {problem}. Every course notebook starts with a "
        "markdown cell holding '# <title>', '**Estimated time:** <N> minutes · "
        "**Prerequisites:** ...' and a numbered list after 'you will be able to:'; "
        "fix the notebook's .py and run jupytext --sync on it.")


def _objectives(text: str) -> tuple[str, ...]:
    """The numbered list that follows the first line containing 'you will be able to'."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if "you will be able to" in line), None)
    if start is None:
        return ()
    items: list[str] = []
    for line in lines[start + 1:]:
        if _ITEM.match(line):
            items.append(line.split(".", 1)[1].strip())
        elif items and line.startswith((" ", "\t")) and line.strip():
            items[-1] += " " + line.strip()
        elif items or line.strip():
            break
    return tuple(items)


def parse_header(name: str, markdown: str) -> NotebookInfo:
    """Read a notebook's title, time, prerequisites and objectives from its first cell.

    Parameters
    ----------
    name : str
        The notebook's file stem (used in the result and in error messages).
    markdown : str
        The source of the notebook's first markdown cell.

    Raises
    ------
    ValueError
        If the title, the estimated time or the objectives are missing.
    """
    first = markdown.lstrip().splitlines()[0] if markdown.strip() else ""
    if not first.startswith("# "):
        raise _header_error(name, "does not start with a '# ' title")
    time = _TIME.search(markdown)
    if time is None:
        raise _header_error(name, "has no '**Estimated time:**'")
    objectives = _objectives(markdown)
    if not objectives:
        raise _header_error(name, "has no numbered objectives after 'you will be able to:'")
    prereq = _PREREQ.search(markdown)
    return NotebookInfo(
        name=name, title=first[2:].strip(), time=time["time"].strip(),
        prerequisites=" ".join(prereq["pre"].split()) if prereq else "",
        objectives=objectives)


def notebook_info(nb: nbformat.NotebookNode, name: str) -> NotebookInfo:
    """:func:`parse_header` applied to the first cell of ``nb``, which must be markdown."""
    if not nb.cells or nb.cells[0].cell_type != "markdown":
        raise _header_error(name, "is missing (the notebook does not start with markdown)")
    return parse_header(name, nb.cells[0].source)


def total_time(infos: list[NotebookInfo]) -> str:
    """The notebooks' times added up (``"3 h 20 min"``), or ``""`` unless every one of
    them is given as "<N> minutes"."""
    minutes = [_MINUTES.match(info.time) for info in infos]
    if not infos or not all(minutes):
        return ""
    hours, rest = divmod(sum(int(m[1]) for m in minutes), 60)
    return f"{hours} h {rest} min" if hours else f"{rest} min"


def launch_links(name: str, repository: str = GITHUB_REPOSITORY,
                 branch: str = GITHUB_BRANCH) -> dict[str, str]:
    """Binder, Colab and GitHub-source links of notebook ``name`` (a file stem).

    Built from :data:`course_utils.config.GITHUB_REPOSITORY` and ``GITHUB_BRANCH``.
    """
    return {
        "Binder": (f"https://mybinder.org/v2/gh/{repository}/{branch}"
                   f"?labpath={quote(f'notebooks/{name}.ipynb', safe='')}"),
        "Colab": (f"https://colab.research.google.com/github/{repository}/blob/{branch}"
                  f"/notebooks/{name}.ipynb"),
        "Source": f"https://github.com/{repository}/blob/{branch}/notebooks/{name}.py",
    }


def _css() -> str:
    return (TEMPLATE_DIR / "course.css").read_text(encoding="utf-8")


def render_notebook_page(nb: nbformat.NotebookNode, infos: list[NotebookInfo],
                         position: int) -> str:
    """HTML of the executed notebook ``nb``, the ``position``-th (0-based) of ``infos``,
    with navigation to the index and to the previous and next notebooks."""
    from jinja2 import FileSystemLoader
    from nbconvert import HTMLExporter

    info = infos[position]
    nb = nbformat.from_dict(nb)            # a copy: the title goes into its metadata
    nb.metadata["title"] = info.title
    for cell in nb.cells:                  # no image from outside: the page is offline
        if cell.cell_type == "markdown":
            cell.source = without_badge(cell.source)
    neighbour = {"previous": infos[position - 1] if position > 0 else None,
                 "next": infos[position + 1] if position + 1 < len(infos) else None}
    course = {key: {"href": n.href, "title": n.title} if n else None
              for key, n in neighbour.items()}
    course.update(position=position + 1, count=len(infos), time=info.time,
                  links=launch_links(info.name), css=_css() + _library_css())
    # Notebook markdown and HTML outputs are not the course's own markup: with
    # sanitize_html the template passes them through clean_html (ours, see _clean),
    # which escapes scripts, event handlers and unknown tags.
    exporter = HTMLExporter(template_name="lab", template_file="course_page.html.j2",
                            extra_loaders=[FileSystemLoader(str(TEMPLATE_DIR))],
                            sanitize_html=True, filters={"clean_html": _clean})
    html, _ = exporter.from_notebook_node(nb, resources={"course": course})
    return html


def render_index(infos: list[NotebookInfo], title: str = COURSE_TITLE) -> str:
    """HTML of the index page: every notebook in order with its time, prerequisites,
    objectives and launch links."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape
    from nbconvert.filters import markdown2html_mistune

    env = Environment(loader=FileSystemLoader(str(TEMPLATE_DIR)),
                      autoescape=select_autoescape(["j2"], default=True))
    def safe(markdown: str) -> str:      # header text is notebook markdown too
        return _clean(markdown2html_mistune(markdown))

    notebooks = [{
        "name": info.name, "href": info.href, "title": info.title, "time": info.time,
        "prerequisites_html": _inline(safe(info.prerequisites or "none")),
        "objectives_html": safe(
            "\n".join(f"{i}. {item}" for i, item in enumerate(info.objectives, 1))),
        "links": launch_links(info.name),
    } for info in infos]
    return env.get_template("course_index.html.j2").render(
        title=title, notebooks=notebooks, total_time=total_time(infos), css=_css())


#: What notebook markdown and HTML outputs (pandas tables) may use on the site; anything
#: else (script, iframe, style, form, on* handlers ...) is escaped to visible text.
_TAGS = {"a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd",
         "del", "details", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3",
         "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "small",
         "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th",
         "thead", "tr", "u", "ul",
         # what xarray's and pandas' rich reprs use (collapsible sections, icons, styles)
         "input", "label", "svg", "use", "symbol", "defs", "path"}
_ATTRIBUTES = {"*": ["class", "id", "title", "style", "align"],
               "a": ["href", "class", "id", "title"],
               "img": ["src", "alt", "width", "height", "class", "title"],
               "td": ["colspan", "rowspan", "class", "style", "align"],
               "th": ["colspan", "rowspan", "class", "style", "align"],
               "table": ["border", "class", "style"], "ol": ["start", "class"],
               "input": ["id", "class", "type", "disabled", "checked"],
               "label": ["for", "class", "title"],
               "svg": ["class", "style", "viewBox", "width", "height", "xmlns"],
               "symbol": ["id", "viewBox"], "use": ["href", "xlink:href"],
               "path": ["d", "fill", "stroke", "class"]}
#: <style> blocks in notebook output are removed whole (their CSS would otherwise show
#: as text); the course page carries the stylesheets of the reprs it shows instead.
_STYLE_BLOCK = re.compile(r"<style\b[^>]*>.*?</style\s*>", re.IGNORECASE | re.DOTALL)
_PANDAS_CSS = """.dataframe tbody tr th:only-of-type { vertical-align: middle; }
.dataframe tbody tr th { vertical-align: top; }
.dataframe thead th { text-align: right; }
"""


def _library_css() -> str:
    """The CSS xarray's and pandas' HTML reprs ship in their own <style> blocks."""
    try:
        from xarray.core.formatting_html import _load_static_files
        xarray_css = _load_static_files()[1]
    except (ImportError, AttributeError, IndexError):
        xarray_css = ""
    return _PANDAS_CSS + xarray_css


def _href_ok(tag: str, name: str, value: str) -> bool:
    """Attribute filter: link targets only http(s), mailto, in-page or relative; image
    data only in ``img src``."""
    allowed = _ATTRIBUTES.get(tag, []) + _ATTRIBUTES["*"]
    if name not in allowed:
        return False
    if name in ("href", "src", "xlink:href"):
        target = re.sub(r"[\x00-\x20]", "", html_lib.unescape(value)).lower()
        if target.startswith("data:"):
            return tag == "img" and name == "src" and target.startswith("data:image/") \
                and not target.startswith("data:image/svg")
        scheme = re.match(r"^([a-z][a-z0-9+.-]*):", target)
        return scheme is None or scheme.group(1) in ("http", "https", "mailto")
    return True


def _clean(html) -> str:
    """``html`` keeping only :data:`_TAGS`, their listed attributes (see
    :func:`_href_ok` for link targets) and safe inline CSS; ``<style>`` blocks removed,
    other tags escaped to visible text."""
    import bleach
    from bleach.css_sanitizer import CSSSanitizer

    html = html.decode() if isinstance(html, bytes) else str(html)
    return bleach.clean(_STYLE_BLOCK.sub("", html), tags=_TAGS, attributes=_href_ok,
                        protocols={"http", "https", "mailto", "data"},
                        css_sanitizer=CSSSanitizer())


def _inline(html: str) -> str:
    """Drop the paragraph mistune wraps around a one-line snippet."""
    html = html.strip()
    if html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1:
        return html[3:-4]
    return html
