"""Exporting grades from the gradebook to CSV, with the autograder's status and reason."""

from __future__ import annotations

import csv
import pathlib
import warnings

from grader.autograde import read_report
from grader.course import course_root

COLUMNS = ("assignment", "student_id", "score", "max_score", "needs_manual_grade",
           "autograde_status", "reason")


def export_grades(api, path: pathlib.Path) -> int:
    """Write one row per submission of every assignment; returns the number of rows."""
    root = course_root(api.config)
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with api.gradebook as gb:
            for assignment in gb.assignments:
                report = read_report(root / "reports" / f"{assignment.name}.csv")
                for sub in sorted(assignment.submissions, key=lambda s: s.student.id):
                    extra = report.get(sub.student.id, {})
                    rows.append(dict(
                        assignment=assignment.name, student_id=sub.student.id,
                        score=round(float(sub.score), 4), max_score=float(sub.max_score),
                        needs_manual_grade=bool(sub.needs_manual_grade),
                        autograde_status=extra.get("status", "graded"),
                        reason=extra.get("reason", ""),
                    ))
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)
