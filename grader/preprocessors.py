"""nbgrader preprocessors of the course, each one step with one job in nbgrader's pipelines."""

from __future__ import annotations

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from grader.notebooks import strip_hidden_tests

HIDDEN_NOTE = "# (hidden tests were run here; their code is not shown)"


def _is_graded(cell) -> bool:
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("grade"))


class WarningsAreNotFailures(Preprocessor):
    """Autograding: turn stderr text of graded cells into stdout text.

    nbgrader gives a test cell 0 points when it wrote anything to stderr, so a correct
    answer that merely triggers a NumPy ``RuntimeWarning`` would lose its points. Only an
    error (a failed check, an exception) should. Runs right after execution.
    """

    enabled = Bool(True)  # nbconvert preprocessors are off unless enabled

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and _is_graded(cell):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "stream" and output.get("name") == "stderr":
                    output["name"] = "stdout"
                    output["text"] = "".join("[warning] " + line for line in output["text"].splitlines(True))
        return cell, resources


class RedactHiddenTests(Preprocessor):
    """Feedback: remove hidden-test regions from every cell and tracebacks from graded cells.

    A traceback would quote the hidden test's source line by line, so a failing graded cell
    keeps only the error's name and message, which our checks write for students.
    """

    enabled = Bool(True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        stripped = strip_hidden_tests(cell.source)
        if stripped != cell.source:
            cell.source = stripped.rstrip("\n") + "\n" + HIDDEN_NOTE
        if _is_graded(cell):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources


AWAITING = "Awaiting hand grading"


class MarkAwaitingHandGrading(Preprocessor):
    """Feedback: say which answers have not been graded by hand yet.

    nbgrader shows such an answer as "Score: 0.0 / 2.0", as if it had been graded and found
    wrong. A note follows each answer still awaiting hand grading, and one at the top gives
    the points not yet counted. Runs after nbgrader's ``GetGrades``.
    """

    enabled = Bool(True)

    def preprocess(self, nb, resources):
        import nbformat
        from nbgrader.api import Gradebook

        from grader.notebooks import grade_id

        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:
            notebook = gb.find_submission_notebook(info["notebook"], info["assignment"], info["student"])
            pending = {g.name: float(g.max_score) for g in notebook.grades if g.needs_manual_grade}
        if not pending:
            return nb, resources
        cells = [nbformat.v4.new_markdown_cell(
            f"**{AWAITING}:** {sum(pending.values()):g} points of this notebook have not been graded "
            f"by hand yet, so the score above is not final.")]
        for cell in nb.cells:
            cells.append(cell)
            if grade_id(cell) in pending:
                cells.append(nbformat.v4.new_markdown_cell(
                    f"**{AWAITING}** (up to {pending[grade_id(cell)]:g} points): the score shown for "
                    f"this answer is not its grade yet."))
        nb.cells = cells
        return nb, resources
