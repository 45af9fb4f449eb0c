"""Reading and writing nbgrader notebooks: cell metadata, solution regions, submissions.

Used to author source notebooks (``solutions/<assignment>/<assignment>.ipynb``), to check
them, and to build submissions for tests (a solution cell filled with a given answer).
"""

from __future__ import annotations

import pathlib
import re

import nbformat

SCHEMA_VERSION = 3
BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
SECRET_MARKERS = (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN)

_SOLUTION_REGION = re.compile(
    rf"^(?P<indent>[ \t]*){re.escape(BEGIN_SOLUTION)}[^\n]*\n(?P<body>.*?)^[ \t]*{re.escape(END_SOLUTION)}[^\n]*\n?",
    re.MULTILINE | re.DOTALL,
)


def _metadata(grade_id: str, *, grade: bool, solution: bool, locked: bool,
              points: float | None = None, task: bool = False) -> dict:
    meta = dict(grade=grade, solution=solution, locked=locked, task=task,
                grade_id=grade_id, schema_version=SCHEMA_VERSION)
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def markdown(text: str) -> nbformat.NotebookNode:
    """An ordinary markdown cell."""
    return nbformat.v4.new_markdown_cell(text.strip("\n"))


def readonly_code(grade_id: str, source: str) -> nbformat.NotebookNode:
    """A locked code cell (set-up, helpers) that students cannot change."""
    return nbformat.v4.new_code_cell(
        source.strip("\n"),
        metadata=_metadata(grade_id, grade=False, solution=False, locked=True),
    )


def solution_code(grade_id: str, source: str) -> nbformat.NotebookNode:
    """A cell students edit; its ``### BEGIN/END SOLUTION`` region is removed on release."""
    return nbformat.v4.new_code_cell(
        source.strip("\n"),
        metadata=_metadata(grade_id, grade=False, solution=True, locked=False),
    )


def test_code(grade_id: str, points: float, source: str) -> nbformat.NotebookNode:
    """A locked autograded test cell; ``### BEGIN/END HIDDEN TESTS`` is removed on release."""
    return nbformat.v4.new_code_cell(
        source.strip("\n"),
        metadata=_metadata(grade_id, grade=True, solution=False, locked=True, points=points),
    )


def written_answer(grade_id: str, points: float, prompt: str = "") -> nbformat.NotebookNode:
    """A manually graded markdown answer cell."""
    body = prompt.strip("\n") or "YOUR ANSWER HERE"
    return nbformat.v4.new_markdown_cell(
        body, metadata=_metadata(grade_id, grade=True, solution=True, locked=False, points=points)
    )


def new_notebook(cells) -> nbformat.NotebookNode:
    """A Python 3 notebook holding ``cells``."""
    nb = nbformat.v4.new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python",
                                 "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def read(path) -> nbformat.NotebookNode:
    """Read a notebook, raising ``ValueError`` with the path if it is not a valid one."""
    path = pathlib.Path(path)
    try:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    except Exception as err:  # nbformat raises JSON, validation and encoding errors
        raise ValueError(f"{path} is not a valid Jupyter notebook: {err}") from err
    return nb


def write(nb: nbformat.NotebookNode, path) -> None:
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def find_cell(nb, wanted_id: str):
    """The cell whose nbgrader ``grade_id`` is ``wanted_id``."""
    for cell in nb.cells:
        if grade_id(cell) == wanted_id:
            return cell
    raise KeyError(f"no cell with grade_id {wanted_id!r}")


def graded_cells(nb) -> dict[str, float]:
    """``grade_id -> points`` of every graded cell."""
    return {
        grade_id(c): float(c.metadata["nbgrader"].get("points", 0))
        for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")
    }


def solution_text(source: str) -> str:
    """The cell as a student who wrote the model solution would leave it: markers removed."""
    return _SOLUTION_REGION.sub(lambda m: m.group("body"), source)


def solution_stub(source: str) -> str:
    """The cell with every solution region removed (what remains is shown to students)."""
    return _SOLUTION_REGION.sub("", source)


def with_answers(source_nb, answers: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """A completed submission built from the source notebook.

    Every solution cell holds the model solution (markers removed) unless ``answers`` gives
    its ``grade_id`` another source. Hidden tests are dropped, as in a student's copy.
    """
    nb = nbformat.from_dict(source_nb)
    answers = dict(answers or {})
    for cell in nb.cells:
        gid = grade_id(cell)
        if gid in answers:
            cell.source = answers.pop(gid)
        elif cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            cell.source = solution_text(cell.source)
        cell.source = strip_hidden_tests(cell.source)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    if answers:
        raise KeyError(f"no cells with grade_id {sorted(answers)}")
    return nb


def strip_hidden_tests(source: str) -> str:
    pattern = rf"^[ \t]*{re.escape(BEGIN_HIDDEN)}.*?^[ \t]*{re.escape(END_HIDDEN)}[^\n]*\n?"
    return re.sub(pattern, "", source, flags=re.MULTILINE | re.DOTALL)


def secret_markers_in(text: str) -> list[str]:
    """The solution and hidden-test markers that occur in ``text``."""
    return [m for m in SECRET_MARKERS if m in text]
