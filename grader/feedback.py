"""Feedback for students: nbgrader's HTML report with hidden tests redacted.

Every submission gets feedback: a graded one nbgrader's report (answers awaiting hand
grading say so), one that could not be graded (not a notebook, no notebook, grading failed)
a short page with the reason from the autograde report.
"""

from __future__ import annotations

import html
import pathlib
import warnings

from grader import notebooks
from grader.autograde import read_report
from grader.course import GradingError, course_root


def generate_feedback(api, assignment: str, students=None) -> list[pathlib.Path]:
    """Write ``<course>/feedback/<student>/<assignment>/<assignment>.html`` for each submission
    and verify none of them contains hidden-test or solution markers."""
    root = course_root(api.config)
    graded = sorted(p.parent.name for p in (root / "autograded").glob(f"*/{assignment}"))
    report = read_report(root / "reports" / f"{assignment}.csv")
    ungradable = sorted(s for s, row in report.items() if s not in graded and row.get("status") != "graded")
    students = list(students) if students is not None else sorted(set(graded) | set(ungradable))
    missing = sorted(set(students) - set(graded) - set(ungradable))
    if missing:
        raise GradingError(f"not autograded yet, so no feedback: {', '.join(missing)}")
    written = []
    for student in students:
        if student not in graded:
            written.append(_ungradable_page(root, assignment, report[student]))
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = api.generate_feedback(assignment, student, force=True)
        if not result["success"]:
            raise GradingError(f"feedback for {student} failed:\n{result['error']}")
        for page in (root / "feedback" / student / assignment).glob("*.html"):
            leaked = notebooks.secret_markers_in(page.read_text())
            if leaked:
                page.unlink()
                raise GradingError(f"feedback for {student} contained {leaked}; removed it")
            written.append(page)
    return written


def _ungradable_page(root: pathlib.Path, assignment: str, row: dict) -> pathlib.Path:
    """A page saying why the submission could not be graded."""
    path = root / "feedback" / row["student_id"] / assignment / f"{assignment}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    what = {"invalid": "could not be read", "missing": "was not found",
            "failed": "could not be graded"}.get(row["status"], "could not be graded")
    path.write_text(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(assignment)}: feedback</title></head><body>\n"
        f"<h1>{html.escape(assignment)}</h1>\n"
        f"<p>Your submission {what}, so it was not graded: {html.escape(row['reason'])}.</p>\n"
        f"<p>Score: {float(row['score']):g} / {float(row['max_score']):g}.</p>\n"
        "<p>Please check the file you uploaded and ask your instructor.</p>\n</body></html>\n")
    return path
