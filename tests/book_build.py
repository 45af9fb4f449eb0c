"""The built book, shared by the tests that read it: ``make book`` runs once per test session.

``make book`` is the README's command, so the tests check what readers get; the execution cache
makes a rebuild fast. ``COURSE_BOOK_PREBUILT=1`` uses an existing ``_build/html`` as it is
(for checking a book built a moment ago without building it again).
"""

from __future__ import annotations

import functools
import os
import pathlib
import subprocess

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"


@functools.lru_cache(maxsize=None)
def build_book() -> pathlib.Path:
    """``_build/html`` after ``make book`` (an AssertionError with the log if it failed)."""
    if os.environ.get("COURSE_BOOK_PREBUILT") == "1" and (HTML / "index.html").exists():
        return HTML
    result = subprocess.run(["make", "book"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, (
        "make book failed (a cell error or a Sphinx warning fails the build):\n"
        + result.stdout[-4000:] + result.stderr[-4000:]
    )
    return HTML


def toc_pages() -> list[str]:
    """Every page of ``_toc.yml`` (``book/intro``, ``book/activations``, ...), in order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for entry in toc.get("chapters", []):
        pages.append(entry["file"])
        pages += [section["file"] for section in entry.get("sections", [])]
    return pages
