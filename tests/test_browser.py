"""The built book in a real browser: headless Chromium, driven through its DevTools protocol.

Every page of the table of contents is served over HTTP and opened as a reader would open it:
the page loads without console errors or uncaught exceptions, MathJax typesets every formula
(no MathJax error nodes, no formula left as raw TeX), every image in the article is displayed,
the search page finds a term from each chapter, and every notebook download link returns a
notebook that ``nbformat`` opens and validates. Launch buttons point only at services that can
open the page. A screenshot of every page is kept under ``_build/screenshots/`` for review.

Needs Debian's ``chromium`` (``.ci/run`` installs it); without it the test is skipped with a
reason that ``pytest -ra`` prints, never failed obscurely. ``COURSE_CHROMIUM`` names another
binary.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import json
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import nbformat
import pytest
import yaml

from book_build import ROOT, build_book, toc_pages

SCREENSHOTS = ROOT / "_build" / "screenshots"
# One term per chapter that its page explains (the search must find that page).
SEARCH_TERMS = {
    "book/activations": "sigmoid",
    "book/normalization": "covariate",
    "book/dropout": "Bernoulli",
    "book/initialization": "Kaiming",
    "book/optimizers": "momentum",
    "book/regularization": "ISTA",
    "book/building_blocks": "im2col",
    "book/tuning": "symptoms",
    "book/deployment": "quantization",
}


def chromium_binary() -> str | None:
    named = os.environ.get("COURSE_CHROMIUM")
    if named:
        return shutil.which(named)
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output readable
        pass


@contextlib.contextmanager
def serve(directory: pathlib.Path):
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


class Page:
    """One Chromium tab, driven through the DevTools protocol over a websocket."""

    def __init__(self, websocket_url: str):
        import websocket  # websocket-client, pinned in requirements.txt

        self.ws = websocket.create_connection(websocket_url, timeout=60, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")

    def call(self, method: str, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for_event(self, method: str, timeout: float = 30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for index, event in enumerate(self.events):
                if event.get("method") == method:
                    return self.events.pop(index)
            self.ws.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                self.events.append(json.loads(self.ws.recv()))
            except Exception:
                break
        raise TimeoutError(f"no {method} within {timeout} s")

    def evaluate(self, expression: str, await_promise: bool = False):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=await_promise)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:60]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str) -> list[str]:
        """Load ``url``; return the console errors and uncaught exceptions it produced."""
        self.events.clear()
        self.call("Page.navigate", url=url)
        self.wait_for_event("Page.loadEventFired")
        # MathJax typesets after the load event: wait for it where the page uses it.
        self.evaluate("window.MathJax && MathJax.startup && MathJax.startup.promise"
                      " ? MathJax.startup.promise.then(() => true) : true", await_promise=True)
        return self.errors()

    def errors(self) -> list[str]:
        errors = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                errors.append("exception: " + details.get("exception", {}).get(
                    "description", details.get("text", "")))
            elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
                errors.append("console.error: " + " ".join(
                    str(arg.get("value", arg.get("description", ""))) for arg in params["args"]))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                errors.append(f"log: {params['entry']['text']} {params['entry'].get('url', '')}")
        return errors

    def screenshot(self, path: pathlib.Path) -> None:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))

    def close(self):
        self.ws.close()


@contextlib.contextmanager
def chromium(binary: str):
    profile = tempfile.mkdtemp(prefix="course-chromium-")
    process = subprocess.Popen(
        [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-dev-shm-usage", "--remote-debugging-port=0", f"--user-data-dir={profile}",
         "--window-size=1280,900", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        port_file = pathlib.Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{binary} did not start: {process.stderr.read()[-2000:]}")
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        page = Page(next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"])
        try:
            yield page
        finally:
            page.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(profile, ignore_errors=True)


CHECK_PAGE = r"""(() => {
  const article = document.querySelector('article') || document.body;
  const images = [...article.querySelectorAll('img')];
  const formulas = [...article.querySelectorAll('.math')];
  const prose = article.cloneNode(true);
  prose.querySelectorAll('pre, code, script, style, mjx-container, .cell_output').forEach(e => e.remove());
  const text = prose.textContent;
  return {
    mathjaxErrors: document.querySelectorAll('mjx-merror, [data-mjx-error]').length,
    untypeset: formulas.filter(f => !f.querySelector('mjx-container')).map(f => f.textContent.slice(0, 80)),
    formulas: formulas.length,
    rawTex: (text.match(/\$\$|\\\(|\\\[|\\(frac|sigma|operatorname|sum|sqrt)\b/g) || []).slice(0, 5),
    hiddenImages: images.filter(i => !(i.complete && i.naturalWidth > 0 && i.getBoundingClientRect().width > 0))
                        .map(i => i.getAttribute('src')),
    images: images.length,
    downloads: [...document.querySelectorAll('a[href$=".ipynb"]')].map(a => a.href),
    launch: [...document.querySelectorAll('a[href]')].map(a => a.href)
            .filter(h => /mybinder|colab\.research|hub\/user-redirect|jupyterhub/.test(h)),
  };
})()"""

SEARCH_RESULTS = r"""new Promise(resolve => {
  const started = Date.now();
  const poll = () => {
    const items = [...document.querySelectorAll('#search-results li a, ul.search li a')];
    const done = document.querySelector('#search-results p.search-summary, .search-summary');
    if ((items.length && done) || Date.now() - started > 15000)
      resolve(items.map(a => a.getAttribute('href')));
    else setTimeout(poll, 100);
  };
  poll();
})"""


@pytest.fixture(scope="module")
def browser():
    binary = chromium_binary()
    if binary is None:
        pytest.skip("the browser test did not run: no Chromium found (install Debian's "
                    "`chromium` package, as .ci/run does, or set COURSE_CHROMIUM)")
    html = build_book()
    with serve(html) as base_url, chromium(binary) as page:
        yield page, base_url, html


def test_every_page_in_a_real_browser(browser):
    page, base_url, html = browser
    problems, downloads, launch_links = [], set(), 0
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    for name in toc_pages():
        errors = page.open(f"{base_url}/{name}.html")
        problems += [f"{name}: {error}" for error in errors]
        found = page.evaluate(CHECK_PAGE)
        if found["mathjaxErrors"]:
            problems.append(f"{name}: {found['mathjaxErrors']} MathJax error nodes")
        problems += [f"{name}: formula not typeset: {tex}" for tex in found["untypeset"]]
        problems += [f"{name}: raw TeX in the page text: {tex!r}" for tex in found["rawTex"]]
        problems += [f"{name}: image not displayed: {src}" for src in found["hiddenImages"]]
        problems += [f"{name}: a launch button that cannot open this page: {url}"
                     for url in found["launch"] if not launch_link_works(url)]
        downloads.update(found["downloads"])
        launch_links += len(found["launch"])
        page.screenshot(SCREENSHOTS / f"{pathlib.Path(name).name}.png")
    assert not problems, "\n".join(problems[:50])
    assert len(list(SCREENSHOTS.glob("*.png"))) == len(toc_pages())
    assert downloads, "no page links a notebook to download"
    assert launch_links, "no page has a launch button (Binder) to check"
    names = [pathlib.PurePosixPath(urllib.parse.urlparse(url).path).name for url in downloads]
    shared = sorted({name for name in names if names.count(name) > 1})
    assert not shared, f"two different notebooks download under one file name: {shared}"
    for url in sorted(downloads):
        notebook_problem = open_notebook(url)
        assert notebook_problem is None, f"{url}: {notebook_problem}"


def open_notebook(url: str) -> str | None:
    """None when ``url`` returns a valid notebook with code cells, else what is wrong."""
    try:
        data = urllib.request.urlopen(url, timeout=30).read()
        notebook = nbformat.reads(data.decode(), as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # noqa: BLE001 - the message is the test's report
        return f"not a notebook that opens: {error}"
    if not any(cell.cell_type == "code" for cell in notebook.cells):
        return "a notebook without code cells"
    if "/_sources/" in url:  # a page of the book: executed, includes and references resolved
        if not any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"):
            return "the page's notebook has no outputs"
        raw = [m.group(0) for cell in notebook.cells if cell.cell_type == "markdown"
               for m in re.finditer(r"\{(?:literalinclude|numref|doc|ref|download|code-cell|cite(?::\w+)?)\}",
                                    cell.source)]
        if raw:
            return f"the page's notebook shows MyST syntax {sorted(set(raw))}"
    return None


def launch_link_works(url: str) -> bool:
    """A launch link may only open a repository and a file that exist and a format it opens."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    if "colab.research" in url:
        return False  # Colab opens only .ipynb files, and the pages are MyST Markdown
    if "hub/user-redirect" in url or "jupyterhub" in url:
        hub = (config.get("launch_buttons") or {}).get("jupyterhub_url")
        return bool(hub) and url.startswith(hub.rstrip("/") + "/")
    repository = config["repository"]["url"].rstrip("/").removeprefix("https://github.com/")
    parsed = urllib.parse.urlparse(url)
    if repository not in parsed.path:
        return False
    opened = urllib.parse.parse_qs(parsed.query).get("urlpath", [""])[0]
    path = re.sub(r"^(lab/tree|tree)/", "", opened)
    return not path or (ROOT / config["repository"].get("path_to_book", "") / path).exists()


def test_search_finds_a_term_from_each_chapter(browser):
    page, base_url, _ = browser
    missing = []
    for chapter, term in SEARCH_TERMS.items():
        page.open(f"{base_url}/search.html?q={urllib.parse.quote(term)}")
        hits = page.evaluate(SEARCH_RESULTS, await_promise=True) or []
        stem = pathlib.Path(chapter).name
        if not any(pathlib.Path(urllib.parse.urlparse(h).path).stem.startswith(stem)
                   for h in hits):
            missing.append(f"{term!r} does not find {chapter} (found {hits[:5]})")
    assert not missing, "\n".join(missing)


def test_the_browser_checks_fail_on_a_broken_page(browser, tmp_path):
    """The same checks, on a page with raw TeX, a MathJax error, a missing image and a JS error."""
    page, base_url, html = browser
    mathjax = next(html.glob("_static/**/tex-chtml*.js"), None) or next(
        html.glob("_static/**/tex-*.js"), None)
    assert mathjax is not None, "the book ships no MathJax bundle"
    sample = html / "_browser_check_sample.html"
    sample.write_text(
        "<html><head><script>window.MathJax = {tex: {inlineMath: [['\\\\(', '\\\\)']]}};</script>"
        f"<script defer src='{mathjax.relative_to(html)}'></script></head><body><article>"
        "<p>raw $$ \\frac{1}{n} $$ text</p><span class='math'>\\(\\frac{1}{\\)</span>"
        "<img src='no-such-image.png' alt='a plot that is not there'>"
        "<script>undefinedFunction();</script></article></body></html>")
    try:
        errors = page.open(f"{base_url}/{sample.name}")
        time.sleep(0.5)
        found = page.evaluate(CHECK_PAGE)
    finally:
        sample.unlink()
    assert any("undefinedFunction" in error for error in errors), errors
    assert found["rawTex"], found
    assert found["mathjaxErrors"] or found["untypeset"], found
    assert found["hiddenImages"] == ["no-such-image.png"], found
    assert not launch_link_works("https://colab.research.google.com/github/x/y/blob/main/a.md")
    bare = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "see {numref}`fig-a`"},
                      {"cell_type": "code", "metadata": {}, "source": "1", "outputs": [],
                       "execution_count": None}],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 4}
    sources = html / "_sources"
    (sources / "_browser_check_bare.ipynb").write_text(json.dumps(bare))
    (sources / "_browser_check_broken.ipynb").write_text("{not json")
    try:
        assert "no outputs" in open_notebook(f"{base_url}/_sources/_browser_check_bare.ipynb")
        assert "not a notebook" in open_notebook(f"{base_url}/_sources/_browser_check_broken.ipynb")
    finally:
        (sources / "_browser_check_bare.ipynb").unlink()
        (sources / "_browser_check_broken.ipynb").unlink()
