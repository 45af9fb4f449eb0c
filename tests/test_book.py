"""The book builds with every chapter executed, and shows no solution or hidden test.

Runs the README's own command (``make book``), so the test checks what readers get. The
execution cache makes a second build fast.
"""

from __future__ import annotations

import pathlib

import pytest
import yaml

from book_build import build_book
from secrets_check import leaks, secret_lines

ROOT = pathlib.Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"


def toc_chapters() -> dict[str, list[str]]:
    """``chapter file -> its pages`` (the chapter's own page first, then its sections)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return {entry["file"]: [entry["file"]] + [s["file"] for s in entry.get("sections", [])]
            for entry in toc.get("chapters", [])}


def toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [page for pages in toc_chapters().values() for page in pages]


@pytest.fixture(scope="module")
def built_book():
    return build_book()


def test_every_page_of_the_toc_is_built(built_book):
    for page in toc_pages():
        assert (built_book / f"{page}.html").exists(), f"{page} was not built"


# Pages of the table of contents that are not lessons (no experiments, no assignment).
NOT_LESSONS = {"book/bibliography"}


def test_chapters_show_figures_and_link_their_assignment(built_book):
    for chapter, pages in toc_chapters().items():
        if chapter in NOT_LESSONS:
            continue
        html = "".join((built_book / f"{page}.html").read_text() for page in pages)
        assert html.count("<figure") >= 4, f"{chapter}: a chapter needs at least four captioned figures"
        assert html.count("<figcaption") == html.count("<figure"), f"{chapter}: a figure without caption"
        name = pathlib.Path(chapter).name
        if (ROOT / "solutions" / name).is_dir():  # on the chapter's own (first) page
            first = (built_book / f"{chapter}.html").read_text()
            for download in (f"{name}.zip", f"{name}.ipynb"):
                assert f'/{download}"' in first, f"{chapter}: no link to {download}"


def test_no_cell_printed_a_traceback(built_book):
    for page in toc_pages():
        html = (built_book / f"{page}.html").read_text()
        assert "Traceback (most recent call last)" not in html, f"{page} shows a traceback"


def test_built_book_contains_no_solution_or_hidden_test(built_book):
    # A line of the public reference package (which the chapters show, and which the page
    # notebooks write out as code) is not a secret even where a solution uses the same idiom.
    public = {line.strip() for path in (ROOT / "nn_reference").glob("*.py")
              for line in path.read_text().splitlines()}
    secrets = secret_lines() - public
    for path in built_book.rglob("*"):
        if path.is_file() and path.suffix in {".html", ".ipynb", ".md", ".txt", ".js", ".json"}:
            found = leaks(path.read_text(errors="ignore"), secrets)
            assert not found, f"{path.relative_to(built_book)} leaks {found[:3]}"
