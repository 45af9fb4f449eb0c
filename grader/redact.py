"""An nbgrader preprocessor that keeps hidden tests out of the feedback students receive."""

from __future__ import annotations

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from grader.notebooks import strip_hidden_tests

HIDDEN_NOTE = "# (hidden tests were run here; their code is not shown)"


class RedactHiddenTests(Preprocessor):
    """Remove hidden-test regions from every cell and tracebacks from graded cells.

    A traceback would quote the hidden test's source line by line, so a failing graded cell
    keeps only the error's name and message, which our checks write for students.
    """

    enabled = Bool(True)  # nbconvert preprocessors are off unless enabled

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        stripped = strip_hidden_tests(cell.source)
        if stripped != cell.source:
            cell.source = stripped.rstrip("\n") + "\n" + HIDDEN_NOTE
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade"):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources
