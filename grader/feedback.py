"""Feedback for students: nbgrader's HTML report with hidden tests redacted."""

from __future__ import annotations

import pathlib
import warnings

from grader import notebooks
from grader.course import GradingError, course_root


def generate_feedback(api, assignment: str, students=None) -> list[pathlib.Path]:
    """Write ``<course>/feedback/<student>/<assignment>/<assignment>.html`` for each graded
    student and verify none of them contains hidden-test or solution markers."""
    root = course_root(api.config)
    graded = sorted(p.parent.name for p in (root / "autograded").glob(f"*/{assignment}"))
    students = list(students) if students is not None else graded
    missing = sorted(set(students) - set(graded))
    if missing:
        raise GradingError(f"not autograded yet, so no feedback: {', '.join(missing)}")
    written = []
    for student in students:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = api.generate_feedback(assignment, student, force=True)
        if not result["success"]:
            raise GradingError(f"feedback for {student} failed:\n{result['error']}")
        for html in (root / "feedback" / student / assignment).glob("*.html"):
            leaked = notebooks.secret_markers_in(html.read_text())
            if leaked:
                html.unlink()
                raise GradingError(f"feedback for {student} contained {leaked}; removed it")
            written.append(html)
    return written
