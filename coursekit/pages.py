"""Running a book page (a MyST Markdown notebook) outside Sphinx, to check or time it.

``python -m coursekit.pages book/activations.md [...]`` executes each page in a fresh kernel,
from the repository root as the book build does, and prints how long it took; it exits
non-zero on the first cell error, naming the cell.
"""

from __future__ import annotations

import pathlib
import sys
import time

import nbformat
from myst_nb.core.read import read_myst_markdown_notebook
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


def load_page(path) -> nbformat.NotebookNode:
    """A MyST Markdown notebook (``.md``) or an ``.ipynb`` file, as a notebook."""
    path = pathlib.Path(path)
    if path.suffix == ".ipynb":
        return nbformat.read(path, as_version=4)
    return read_myst_markdown_notebook(path.read_text(encoding="utf-8"), path=str(path))


def execute_page(path, timeout: int = 600) -> float:
    """Execute every code cell of the page; return the wall time in seconds."""
    path = pathlib.Path(path)
    nb = load_page(path)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.resolve().parent)}})
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def main(argv=None) -> int:
    paths = (argv if argv is not None else sys.argv[1:]) or sorted(
        str(p) for p in (REPO_ROOT / "book").glob("*.md") if p.name != "intro.md")
    for path in paths:
        try:
            seconds = execute_page(path)
        except CellExecutionError as err:
            print(f"{path}: a cell failed\n{err}", file=sys.stderr)
            return 1
        print(f"{path}: executed in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
