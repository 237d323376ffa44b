"""The course site in a real browser: built from the executed notebooks, served on
localhost, opened in headless Chromium (Debian's /usr/bin/chromium, or $COURSE_CHROMIUM).

Every page must load with HTTP 200, log no console errors, raise no script errors, make
no failed request and no request that leaves localhost (those are blocked and counted),
decode every image, and show as many figures as its executed notebook has image outputs;
notebook pages show their title and estimated time, and their navigation resolves.

Cost: about 15 s when the executed copies in outputs/executed/ are up to date: rendering
takes ~4 s, the browser ~8 s. In the full suite these tests run after the notebooks, whose
nbval run writes the copies (see the repository's conftest.py); run alone on a clean
clone, the build executes the six notebooks first, like ``run-notebooks`` does (about
4 minutes on this 2-core machine).
"""
from __future__ import annotations

import functools
import http.server
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

import nbformat
import pytest

from course_utils.config import GITHUB_BRANCH, GITHUB_REPOSITORY
from course_utils.tools.authoring import course_notebooks
from course_utils.tools.site import EXECUTED_DIR, build_site

CHROMIUM = Path(os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
NOTEBOOKS = course_notebooks()
NAMES = [p.stem for p in NOTEBOOKS]


# ---------------------------------------------------------------- what a page shows
@dataclass
class PageCheck:
    """Everything the browser saw while loading one page."""

    url: str
    status: int | None = None
    console_errors: list[str] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    images: list[dict] = field(default_factory=list)

    def problems(self) -> list[str]:
        found = [f"HTTP status {self.status}"] if self.status != 200 else []
        found += [f"console error: {m}" for m in self.console_errors]
        found += [f"script error: {m}" for m in self.script_errors]
        found += [f"failed request: {u}" for u in self.failed_requests]
        found += [f"external request: {u}" for u in self.external_requests]
        found += [f"image not decoded: {i['src'][:60]}" for i in self.images
                  if not (i["complete"] and i["width"] > 0)]
        return found


def open_page(context, url: str):
    """Load ``url`` in a new tab, blocking and recording any request not to ``url``'s
    host. Returns the Playwright page (left open) and its :class:`PageCheck`."""
    origin = re.match(r"https?://[^/]+/", url)[0]
    check = PageCheck(url)
    page = context.new_page()

    def route(r):
        if r.request.url.startswith(origin):
            r.continue_()
        else:
            check.external_requests.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("console", lambda m: m.type == "error" and check.console_errors.append(m.text))
    page.on("pageerror", lambda e: check.script_errors.append(str(e)))
    page.on("requestfailed", lambda r: r.url.startswith(origin)
            and check.failed_requests.append(f"{r.url} ({r.failure})"))
    page.on("response", lambda r: r.status >= 400
            and check.failed_requests.append(f"{r.url} (HTTP {r.status})"))
    response = page.goto(url, wait_until="load")
    check.status = response.status if response else None
    check.images = page.eval_on_selector_all("img", """els => els.map(e => ({
        src: e.getAttribute('src') || '', complete: e.complete, width: e.naturalWidth,
        figure: !!e.closest('.jp-OutputArea-output')}))""")
    return page, check


# ---------------------------------------------------------------- fixtures
class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def serve():
    """``serve(folder)`` -> base URL of a localhost HTTP server on a free port."""
    servers = []

    def start(folder: Path) -> str:
        handler = functools.partial(_QuietHandler, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A persistent Chromium context with a fresh profile, driven by Playwright."""
    if not CHROMIUM.is_file():
        pytest.fail(f"no Chromium at {CHROMIUM}: install it (Debian/Ubuntu: "
                    "`sudo apt-get install chromium`; `./course.sh test` does it when run "
                    "as root) or point COURSE_CHROMIUM at a Chromium or Chrome binary")
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield context
        context.close()


#: What the site build printed (it names every notebook it had to execute).
SITE_LOG: list[str] = []


@pytest.fixture(scope="module")
def site(tmp_path_factory, sample_path, serve):
    """The course site built into a temporary folder, and its URL on localhost."""
    out = tmp_path_factory.mktemp("site") / "site"

    def log(line):
        SITE_LOG.append(line)
        print(line, flush=True)

    build_site(out, EXECUTED_DIR, log=log)
    return out, serve(out)


# ---------------------------------------------------------------- what to expect
def _expected(name: str) -> dict:
    """Title, time, figures and solution cells, read straight from the notebooks."""
    source = nbformat.read(NOTEBOOKS[NAMES.index(name)], as_version=4)
    executed = nbformat.read(EXECUTED_DIR / f"{name}.ipynb", as_version=4)
    head = source.cells[0].source
    figures = sum("image/png" in o.get("data", {}) for c in executed.cells
                  if c.cell_type == "code" for o in c.outputs)
    return {"title": head.splitlines()[0].removeprefix("# ").strip(),
            "time": re.search(r"\*\*Estimated time:\*\* (\d+ minutes)", head)[1],
            "objectives": len(re.findall(r"^\d+\. ", head, re.M)),
            "figures": figures,
            "solutions": sum("solution" in c.metadata.get("tags", []) for c in source.cells)}


def _launch(name: str) -> dict:
    repo, branch = GITHUB_REPOSITORY, GITHUB_BRANCH
    return {"binder": f"https://mybinder.org/v2/gh/{repo}/{branch}"
                      f"?labpath=notebooks%2F{name}.ipynb",
            "colab": f"https://colab.research.google.com/github/{repo}/blob/{branch}"
                     f"/notebooks/{name}.ipynb"}


# ---------------------------------------------------------------- the tests
def test_notebooks_that_nbval_ran_are_not_executed_again(site, request):
    """In the full suite nbval runs the notebooks before these tests and writes their
    executed copies (the repository's conftest.py): the site build uses those."""
    ran = {Path(str(item.fspath)).stem for item in request.session.items
           if hasattr(item, "test_outputs")}
    executed = {name for name in NAMES for line in SITE_LOG
                if line.startswith(f"executing {name}.ipynb")}
    assert not executed & ran, f"executed again by the site build: {sorted(executed & ran)}"


def test_index_lists_the_notebooks_in_course_order(site, browser):
    _, base = site
    page, check = open_page(browser, base + "index.html")
    assert not check.problems(), "\n".join(check.problems())
    sections = page.locator("section.course-notebook")
    assert sections.count() == len(NAMES) == 6
    for i, name in enumerate(NAMES):
        want, section = _expected(name), sections.nth(i)
        link = section.locator("h2 a")
        assert link.inner_text() == want["title"]
        assert link.get_attribute("href") == f"{name}.html"
        assert browser.request.get(urljoin(base, f"{name}.html")).status == 200
        time = section.locator(".course-time")
        assert time.is_visible() and time.inner_text() == f"Estimated time: {want['time']}"
        assert section.locator("ol > li").count() == want["objectives"] >= 3
        for label, url in _launch(name).items():
            assert section.locator(f"a.course-launch-{label}").get_attribute("href") == url
    page.close()


@pytest.mark.parametrize("name", NAMES)
def test_notebook_page(site, browser, name):
    _, base = site
    want = _expected(name)
    page, check = open_page(browser, base + f"{name}.html")
    assert not check.problems(), "\n".join(check.problems())
    assert page.title() == want["title"]
    assert page.locator("h1").first.inner_text().strip().startswith(want["title"])
    time = page.locator(".course-header .course-time")
    assert time.is_visible() and f"Estimated time: {want['time']}" in time.inner_text()
    assert page.get_by_text("Estimated time:", exact=True).first.is_visible()

    figures = [i for i in check.images if i["figure"]]
    assert want["figures"] >= 1 and len(figures) == want["figures"]
    assert all(i["width"] > 0 for i in figures)

    solutions = page.locator(".jp-Cell.celltag_solution")
    assert solutions.count() == want["solutions"] >= 2
    label = solutions.first.evaluate("e => getComputedStyle(e, '::before').content")
    assert label == '"Solution"'

    position = NAMES.index(name)
    nav = page.locator("nav.course-header")
    expected_nav = {"index": "index.html",
                    "previous": f"{NAMES[position - 1]}.html" if position else None,
                    "next": (f"{NAMES[position + 1]}.html"
                             if position + 1 < len(NAMES) else None)}
    for kind, href in expected_nav.items():
        links = nav.locator(f"a.course-nav-{kind}")
        assert links.count() == (href is not None), kind
        if href:
            assert links.get_attribute("href") == href
            assert browser.request.get(urljoin(page.url, href)).status == 200
    for label, url in _launch(name).items():
        assert nav.locator(f"a.course-launch-{label}").get_attribute("href") == url
    page.close()


def test_the_check_catches_broken_pages(tmp_path, serve, browser):
    """The same check on a page with a broken figure, a missing file, a script error, a
    console error and a CDN script: each one is reported."""
    (tmp_path / "broken.html").write_text(
        '<!DOCTYPE html><html><head><link rel="icon" href="data:,"><title>broken</title>'
        '<script src="https://cdn.example.org/require.js"></script></head><body>'
        '<img id="corrupt" src="data:image/png;base64,iVBORw0KGgoAAAAA">'
        '<img id="missing" src="missing.png">'
        "<script>console.error('deliberate'); notDefined();</script></body></html>")
    page, check = open_page(browser, serve(tmp_path) + "broken.html")
    page.close()
    problems = "\n".join(check.problems())
    assert check.status == 200
    assert check.external_requests == ["https://cdn.example.org/require.js"]
    assert any("missing.png" in f and "404" in f for f in check.failed_requests)
    assert any("notDefined" in e for e in check.script_errors)
    assert "deliberate" in check.console_errors
    assert [i["width"] for i in check.images] == [0, 0]
    assert problems.count("image not decoded") == 2
