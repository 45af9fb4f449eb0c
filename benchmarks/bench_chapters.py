"""How long each book chapter takes to execute, in a fresh kernel, as the book build runs it.

    .venv/bin/python benchmarks/bench_chapters.py [book/<chapter>.md ...]

Prints one line per page and the total. The first line times an empty notebook (kernel
start-up) as the baseline, so each chapter's own cost is its time minus that.
"""

from __future__ import annotations

import pathlib
import sys
import tempfile

import nbformat

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from coursekit.pages import REPO_ROOT, execute_page  # noqa: E402


def chapter_pages() -> list[pathlib.Path]:
    import yaml

    toc = yaml.safe_load((REPO_ROOT / "_toc.yml").read_text())
    files = [e["file"] for e in toc.get("chapters", [])]
    files += [s["file"] for e in toc.get("chapters", []) for s in e.get("sections", [])]
    return [REPO_ROOT / f"{f}.md" for f in files]


def main() -> None:
    pages = [pathlib.Path(p) for p in sys.argv[1:]] or chapter_pages()
    with tempfile.TemporaryDirectory() as tmp:
        empty = pathlib.Path(tmp) / "empty.ipynb"
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("pass")]), empty)
        baseline = execute_page(empty)
    print(f"{'kernel start (baseline)':40s} {baseline:7.1f} s")
    total = 0.0
    for page in pages:
        seconds = execute_page(page)
        total += seconds
        print(f"{str(page.relative_to(REPO_ROOT)):40s} {seconds:7.1f} s   ({seconds / baseline:5.1f} x baseline)")
    print(f"{'all chapters':40s} {total:7.1f} s")


if __name__ == "__main__":
    main()
