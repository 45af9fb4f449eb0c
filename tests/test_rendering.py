"""The built HTML shows what the Markdown meant: no source syntax leaks into what readers see.

A reader's page must not show raw ``$$`` or ``$...$`` math, MyST ``{role}`` / ``{directive}``
text, Sphinx ``:math:`` roles (also not in the code shown from ``nn_reference``), or LaTeX
commands outside the math MathJax renders; every image exists and has a real alt text (not a
file name); every internal link leads to a page (and an anchor) that exists.

``find_defects`` is tested first on small synthetic pages, one per defect, so that each check is
shown to fail where it should; then it runs on every page of the built book.
"""

from __future__ import annotations

import pathlib
import re
import urllib.parse

import pytest
from bs4 import BeautifulSoup

from book_build import build_book, toc_pages

# Text that is source syntax, not prose. Code and rendered math are left out before matching.
RAW_SYNTAX = [
    ("raw $$ math", re.compile(r"\$\$")),
    ("raw $...$ math", re.compile(r"(?<![\w$])\$(?=\S)[^$\n]{1,200}?(?<=\S)\$(?![\w$])")),
    ("MyST role or directive", re.compile(r"\{[a-z][\w:-]*\}(?:`|\s*$)", re.M)),
    ("MyST directive fence", re.compile(r"(?:```|:::)\s*\{")),
    ("MyST substitution", re.compile(r"\{\{|\}\}")),
    ("Sphinx role", re.compile(r":(?:math|func|class|mod|meth|attr|ref|doc|numref|eq|cite):`")),
    ("LaTeX command", re.compile(r"\\(?:[A-Za-z]{2,}|[,;!])(?![A-Za-z])")),
]
# In code shown to readers only Sphinx roles are a defect (a backslash is ordinary code there).
RAW_IN_CODE = [("Sphinx role in code", re.compile(r":(?:math|func|class|mod|meth):`"))]
FILE_LIKE_ALT = re.compile(r"^\S*\.(?:png|jpe?g|svg|gif|webp|pdf)$|^\S*/\S*$", re.I)


def _main_content(soup: BeautifulSoup):
    return soup.find("article") or soup.find("main") or soup.body or soup


def _prose_text(content) -> str:
    """The visible text of the page's article, without code blocks and rendered math."""
    content = BeautifulSoup(str(content), "html.parser")
    for tag in content.select("pre, code, script, style, .math, .MathJax, mjx-container, "
                              "div.highlight, .cell_output, .headerlink"):
        tag.decompose()
    return content.get_text(" ")


def _code_text(content) -> str:
    return "\n".join(tag.get_text() for tag in content.select("pre"))


def _ids(path: pathlib.Path, cache: dict) -> set[str]:
    if path not in cache:
        soup = BeautifulSoup(path.read_text(errors="ignore"), "html.parser")
        cache[path] = {tag["id"] for tag in soup.select("[id]")} | {
            tag["name"] for tag in soup.select("a[name]")}
    return cache[path]


def find_defects(html: str, page: pathlib.Path, root: pathlib.Path,
                 id_cache: dict | None = None) -> list[str]:
    """Every rendering defect of one built page (``page`` is its path under ``root``)."""
    id_cache = {} if id_cache is None else id_cache
    soup = BeautifulSoup(html, "html.parser")
    content = _main_content(soup)
    defects = []
    text = _prose_text(content)
    for name, pattern in RAW_SYNTAX:
        for match in pattern.finditer(text):
            start = max(match.start() - 40, 0)
            context = " ".join(text[start:match.end() + 40].split())
            defects.append(f"{name}: ...{context}...")
    code = _code_text(content)
    for name, pattern in RAW_IN_CODE:
        for match in pattern.finditer(code):
            defects.append(f"{name}: {code[match.start():match.end() + 40].splitlines()[0]}")
    for image in content.find_all("img"):
        src = image.get("src", "")
        alt = (image.get("alt") or "").strip()
        if not src.startswith(("data:", "http:", "https:")):
            target = (page.parent / urllib.parse.unquote(src.split("#")[0])).resolve()
            if not target.is_file():
                defects.append(f"missing image file: {src}")
        if len(alt) < 4 or FILE_LIKE_ALT.search(alt) or alt == src:
            defects.append(f"image without real alt text: src={src!r} alt={alt!r}")
    for link in soup.find_all("a", href=True):
        href = link["href"]
        parsed = urllib.parse.urlparse(href)
        if parsed.scheme or href.startswith(("//", "mailto:")):
            continue
        if not parsed.path:  # an anchor on this page
            own_ids = {tag["id"] for tag in soup.select("[id]")}
            if parsed.fragment and urllib.parse.unquote(parsed.fragment) not in own_ids | {"top"}:
                defects.append(f"broken link: {href} (no anchor on this page)")
            continue
        target = (page.parent / urllib.parse.unquote(parsed.path)).resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.exists():
            defects.append(f"broken link: {href} (no file {target.relative_to(root.resolve())})"
                           if target.is_relative_to(root.resolve()) else f"broken link: {href}")
            continue
        if parsed.fragment and target.suffix == ".html":
            fragment = urllib.parse.unquote(parsed.fragment)
            if fragment not in _ids(target, id_cache) | {"top"}:
                defects.append(f"broken link: {href} (no anchor #{fragment})")
    return defects


# ---- the checks, each shown to fail on a page with the defect --------------------------------

GOOD_PAGE = """<html><body><article>
<h1 id="top-title">Title</h1>
<p>The cost is 5 dollars, or $5, and the <em>ratio</em> is <span class="math notranslate nohighlight">\\(\\sigma(x)\\)</span>.</p>
<div class="math notranslate nohighlight">\\[\\frac{1}{n}\\]</div>
<div class="highlight"><pre>y = x.sum()  # a backslash \\n in code is fine</pre></div>
<figure><img src="fig.png" alt="The loss falls for every learning rate"><figcaption>Loss</figcaption></figure>
<a href="#top-title">up</a> <a href="other.html#part">other</a> <a href="https://example.org/x">out</a>
</article></body></html>"""

DEFECTS = {
    "raw $$ math": "<p>inputs,\n$$\n\\operatorname{Var}(z) = n\n$$\nso</p>",
    "raw $...$ math": "<p>the variance $\\sigma^2$ grows</p>",
    "MyST role or directive": "<p>see {numref}`fig-loss` below</p>",
    "MyST directive fence": "<p>```{literalinclude} ../nn_reference/x.py</p>",
    "Sphinx role": "<p>It computes :math:`x^2`.</p>",
    "MyST substitution": "<p>Clone {{ repository_url }} first</p>",
    "LaTeX command": "<p>so that \\frac{1}{n} holds</p>",
    "Sphinx role in code": "<div class='highlight'><pre>\"\"\"The :math:`\\sigma` of x.\"\"\"</pre></div>",
    "missing image file": "<figure><img src='gone.png' alt='A curve that is not there'></figure>",
    "image without real alt text": "<img src='fig.png' alt='_images/fig.png'>",
    "broken link": "<a href='nowhere.html'>a page that does not exist</a>",
}


@pytest.fixture
def sample_site(tmp_path):
    (tmp_path / "fig.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "other.html").write_text('<html><body><h2 id="part">Part</h2></body></html>')
    return tmp_path


def test_a_clean_page_has_no_defects(sample_site):
    page = sample_site / "page.html"
    assert find_defects(GOOD_PAGE, page, sample_site) == []


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_each_defect_is_found(sample_site, defect):
    page = sample_site / "page.html"
    html = GOOD_PAGE.replace("</article>", DEFECTS[defect] + "</article>")
    found = find_defects(html, page, sample_site)
    assert any(message.startswith(defect) for message in found), (defect, found)


def test_an_image_without_alt_and_a_missing_anchor_are_found(sample_site):
    page = sample_site / "page.html"
    html = GOOD_PAGE.replace("</article>", "<img src='fig.png'><a href='other.html#gone'>x</a>"
                             "</article>")
    found = find_defects(html, page, sample_site)
    assert any("alt" in message for message in found)
    assert any("no anchor #gone" in message for message in found)


# ---- the real book ------------------------------------------------------------------------------

def test_every_page_of_the_built_book_renders_cleanly():
    html_root = build_book()
    pages = [html_root / f"{page}.html" for page in toc_pages()]
    pages += [path for path in sorted(html_root.glob("*.html"))
              if path.name not in {"genindex.html", "search.html"}]
    id_cache: dict = {}
    report = []
    for page in dict.fromkeys(pages):
        assert page.exists(), f"{page.relative_to(html_root)} was not built"
        for defect in find_defects(page.read_text(), page, html_root, id_cache):
            report.append(f"{page.relative_to(html_root)}: {defect}")
    assert not report, f"{len(report)} rendering defects:\n" + "\n".join(report[:60])


def test_docstring_roles_in_shown_code_become_plain_text():
    import sys

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "book" / "_ext"))
    from readable import plain_roles

    assert plain_roles(r"Gradient of :func:`l2_penalty`: :math:`2\lambda w_i`.") == \
        "Gradient of l2_penalty: 2λ w_i."
    assert plain_roles(r":math:`\hat x = (x - \mu)/\sqrt{\sigma^2+\epsilon}`") == "x̂ = (x - μ)/√(σ^2+ε)"
    assert plain_roles(r":math:`\frac1\beta \log(1 + e^{\beta x})`") == "1/β log(1 + e^{β x})"
    assert ":math:" not in plain_roles(r"A :math:`W^\top W = \text{gain}^2 I` matrix")
