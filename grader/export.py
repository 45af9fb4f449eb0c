"""Exporting grades from the gradebook: per submission, per part, and for an LMS to import.

* ``grades.csv``: one row per submission of every assignment, with the total, the late
  penalty, the final score (total - penalty), the points still awaiting hand grading, and
  the autograder's status and reason;
* ``grades_parts.csv`` (beside it): one row per graded part (nbgrader grade cell) of every
  submission;
* ``--lms canvas``: Canvas's gradebook import (``Student, ID, SIS User ID, SIS Login ID,
  Section, <assignment>``), ``--lms moodle``: Moodle's grading worksheet (``Identifier,
  Full name, Email address, Grade, Maximum Grade, Feedback comments``), for one assignment,
  with the final scores. Canvas's ids come from the roster (``python -m grader roster``).
"""

from __future__ import annotations

import csv
import pathlib
import warnings

from grader import notebooks, roster
from grader.autograde import read_report
from grader.course import SOLUTIONS_DIR, GradingError, course_root

COLUMNS = ("assignment", "student_id", "first_name", "last_name", "score", "max_score",
           "late_penalty", "final_score", "awaiting_hand_grading", "needs_manual_grade",
           "submitted_at", "seconds_late", "autograde_status", "reason")
PART_COLUMNS = ("assignment", "student_id", "part", "score", "max_score", "awaiting_hand_grading")


def collect(api) -> tuple[list[dict], list[dict]]:
    """Rows per submission and per part, from the gradebook and the autograde reports."""
    root = course_root(api.config)
    rows, parts = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with api.gradebook as gb:
            for assignment in gb.assignments:
                report = read_report(root / "reports" / f"{assignment.name}.csv")
                for sub in sorted(assignment.submissions, key=lambda s: s.student.id):
                    extra = report.get(sub.student.id, {})
                    grades = [g for nb in sub.notebooks for g in nb.grades]
                    pending = sum(float(g.max_score) for g in grades if g.needs_manual_grade)
                    score = float(sub.score)
                    penalty = float(sub.late_submission_penalty or 0.0)
                    rows.append(dict(
                        assignment=assignment.name, student_id=sub.student.id,
                        first_name=sub.student.first_name or "", last_name=sub.student.last_name or "",
                        score=round(score, 4), max_score=float(sub.max_score),
                        late_penalty=round(penalty, 4), final_score=round(score - penalty, 4),
                        awaiting_hand_grading=pending, needs_manual_grade=bool(sub.needs_manual_grade),
                        submitted_at=f"{sub.timestamp:%Y-%m-%d %H:%M:%S} UTC" if sub.timestamp else "",
                        seconds_late=round(float(sub.total_seconds_late), 1),
                        autograde_status=extra.get("status", "graded"), reason=extra.get("reason", ""),
                    ))
                    order = _part_order(assignment.name)
                    for g in sorted(grades, key=lambda g: (order.get(g.name, len(order)), g.name)):
                        parts.append(dict(assignment=assignment.name, student_id=sub.student.id,
                                          part=g.name, score=round(float(g.score), 4),
                                          max_score=float(g.max_score),
                                          awaiting_hand_grading=bool(g.needs_manual_grade)))
    return rows, parts


def _part_order(assignment: str) -> dict[str, int]:
    """Each part's position in the source notebook."""
    source = SOLUTIONS_DIR / assignment / f"{assignment}.ipynb"
    if not source.exists():
        return {}
    return {gid: i for i, gid in enumerate(notebooks.graded_cells(notebooks.read(source)))}


def _write(path: pathlib.Path, columns, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)


def parts_path(path: pathlib.Path) -> pathlib.Path:
    return path.with_name(f"{path.stem}_parts{path.suffix or '.csv'}")


def export_grades(api, path: pathlib.Path) -> int:
    """Write ``path`` (per submission) and its ``_parts`` file; returns the number of submissions."""
    rows, parts = collect(api)
    _write(pathlib.Path(path), COLUMNS, rows)
    _write(parts_path(pathlib.Path(path)), PART_COLUMNS, parts)
    return len(rows)


def _notes(row: dict) -> str:
    notes = []
    if row["late_penalty"]:
        notes.append(f"late by {row['seconds_late'] / 3600:.1f} h: -{row['late_penalty']:g} points")
    if row["awaiting_hand_grading"]:
        notes.append(f"{row['awaiting_hand_grading']:g} points await hand grading")
    if row["autograde_status"] != "graded":
        notes.append(f"{row['autograde_status']}: {row['reason']}")
    return "; ".join(notes)


def export_lms(api, lms: str, assignment: str, path: pathlib.Path, column: str | None = None) -> list[str]:
    """Write the grade-import file of ``lms`` for ``assignment``; returns warnings."""
    rows = [r for r in collect(api)[0] if r["assignment"] == assignment]
    if not rows:
        raise GradingError(f"no grades for {assignment} to export")
    people = roster.load(course_root(api.config)) or {}
    out, problems = [], []
    for row in rows:
        person = people.get(row["student_id"], {})
        full = " ".join(n for n in (row["first_name"], row["last_name"]) if n) or row["student_id"]
        if row["awaiting_hand_grading"]:
            problems.append(f"{row['student_id']}: {row['awaiting_hand_grading']:g} points still await "
                            f"hand grading (the exported grade lacks them)")
        if lms == "canvas":
            if not person.get("canvas_id") and not person.get("sis_user_id") and not person.get("sis_login_id"):
                problems.append(f"{row['student_id']}: no Canvas id (import Canvas's gradebook export "
                                f"with `roster` first); Canvas will not match this row")
            out.append({"Student": ", ".join(n for n in (row["last_name"], row["first_name"]) if n) or row["student_id"],
                        "ID": person.get("canvas_id", ""), "SIS User ID": person.get("sis_user_id", ""),
                        "SIS Login ID": person.get("sis_login_id", ""), "Section": person.get("section", ""),
                        column or assignment: row["final_score"]})
        else:
            out.append({"Identifier": f"Participant {row['student_id']}", "Full name": full,
                        "Email address": person.get("email", ""), "Grade": row["final_score"],
                        "Maximum Grade": row["max_score"], "Feedback comments": _notes(row)})
    columns = (["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column or assignment]
               if lms == "canvas" else
               ["Identifier", "Full name", "Email address", "Grade", "Maximum Grade", "Feedback comments"])
    _write(pathlib.Path(path), columns, out)
    return problems
