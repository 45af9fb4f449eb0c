"""The course's roster: the students, imported from the CSV an LMS exports.

Accepted files (the kind is told by the header):

* Canvas's gradebook export (``Student, ID, SIS User ID, SIS Login ID, Section, ...``). The
  student id is the name Canvas gives submission files, the sortable name in lowercase
  letters and digits (``Smith, Jane`` -> ``smithjane``), so it matches the ids read from a
  Canvas zip; Canvas's own ids are kept for the grade-import file.
* Moodle's grading worksheet (``Identifier, Full name, Email address, ...``), whose
  ``Participant 991`` is the ``991`` of a Moodle zip's folder names.
* nbgrader's student list (``id, first_name, last_name, email``).

``--id-column`` names another column holding the ids. The roster is kept as
``<course>/roster.csv`` and its students are put in nbgrader's gradebook (names and emails
for the formgrader).
"""

from __future__ import annotations

import csv
import pathlib
import re
import warnings

from grader.course import GradingError

FIELDS = ("id", "first_name", "last_name", "email", "canvas_id", "sis_user_id", "sis_login_id",
          "section")
ROSTER_NAME = "roster.csv"


def canvas_file_name(sortable_name: str) -> str:
    """The student part of a Canvas submission file name: ``Smith, Jane`` -> ``smithjane``."""
    return re.sub(r"[^0-9a-z]", "", sortable_name.lower())


def _get(row: dict, *names: str) -> str:
    lowered = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
    for name in names:
        if lowered.get(name.lower()):
            return lowered[name.lower()]
    return ""


def parse(path: pathlib.Path, id_column: str | None = None) -> tuple[list[dict], list[str]]:
    """The students of an LMS export, and warnings about rows that were left out."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise GradingError(f"{path} does not exist or is not a file")
    with path.open(newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
        header = [h.strip().lower() for h in (rows[0].keys() if rows else [])]
    if not rows:
        raise GradingError(f"{path} holds no students (a CSV file with a header line is expected)")
    if id_column and id_column.lower() not in header:
        raise GradingError(f"{path} has no column {id_column!r}; its columns: {', '.join(header)}")
    kind = ("canvas" if {"student", "sis login id"} <= set(header)
            else "moodle" if "identifier" in header else "nbgrader")
    if not id_column and kind == "nbgrader" and not {"id", "student_id"} & set(header):
        raise GradingError(f"cannot tell which column of {path} holds the student ids; "
                           f"pass --id-column (its columns: {', '.join(header)})")
    students, warnings_, seen = [], [], set()
    for number, row in enumerate(rows, start=2):
        name = _get(row, "student", "full name")
        if kind == "canvas" and (not name or "points possible" in name.lower()):
            continue  # Canvas's "Points Possible" line, not a student
        first, last = _get(row, "first_name", "first name"), _get(row, "last_name", "last name", "surname")
        if kind == "canvas" and "," in name:
            last, first = (part.strip() for part in name.split(",", 1))
        elif name and not (first or last):
            first, _, last = name.rpartition(" ")
        if id_column:
            student = _get(row, id_column)
        elif kind == "canvas":
            student = canvas_file_name(name)
        elif kind == "moodle":
            student = re.sub(r"^\D*", "", _get(row, "identifier"))
        else:
            student = _get(row, "id", "student_id")
        if not student:
            warnings_.append(f"line {number}: no student id, left out")
            continue
        if student in seen:
            warnings_.append(f"line {number}: {student} is listed twice, the first line is kept")
            continue
        seen.add(student)
        students.append(dict(id=student, first_name=first, last_name=last,
                             email=_get(row, "email", "email address"),
                             canvas_id=_get(row, "id") if kind == "canvas" else "",
                             sis_user_id=_get(row, "sis user id"), sis_login_id=_get(row, "sis login id"),
                             section=_get(row, "section")))
    return students, warnings_


def save(root: pathlib.Path, students: list[dict], api) -> None:
    path = root / ROSTER_NAME
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(students)
    with warnings.catch_warnings(), api.gradebook as gb:
        warnings.simplefilter("ignore")
        for s in students:
            gb.update_or_create_student(s["id"], first_name=s["first_name"] or None,
                                        last_name=s["last_name"] or None, email=s["email"] or None)


def load(root: pathlib.Path) -> dict[str, dict] | None:
    """The saved roster, ``id -> student``, or ``None`` if none was imported."""
    path = root / ROSTER_NAME
    if not path.exists():
        return None
    with path.open(newline="") as f:
        return {row["id"]: row for row in csv.DictReader(f)}


def graded_students(api) -> set[str]:
    with warnings.catch_warnings(), api.gradebook as gb:
        warnings.simplefilter("ignore")
        return {s.student.id for a in gb.assignments for s in a.submissions}
