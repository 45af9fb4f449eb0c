"""Resubmissions and hand grades across regrading.

Every grading of a submission appends a row to ``<course>/reports/<assignment>.history.csv``:
when, the submission's content hash, score, status, why it was graded and the score it
replaced (hand grades included). A submission is
identified by the SHA-256 of its cells' types and sources (outputs, metadata and execution
counts do not count, so re-saving or re-downloading the same answers is not a new
submission); a file that is not a notebook is hashed as bytes.

nbgrader's autograde marks every hand-graded answer as needing a new manual grade when it
regrades a submission. ``restore_hand_grades`` undoes this for the answers whose text did not
change, so only an answer the student rewrote is flagged for review; its hand grade is kept.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import json
import pathlib
import warnings

from grader import notebooks

FIELDS = ("graded_at", "student_id", "sha256", "score", "max_score", "status", "event", "reason",
          "previous_score")


def digest(path: pathlib.Path | None) -> str | None:
    """The content hash of a submitted notebook (``None`` when there is none)."""
    if path is None or not path.exists():
        return None
    try:
        nb = notebooks.read(path)
    except ValueError:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    cells = [[c.cell_type, c.source] for c in nb.cells]
    return hashlib.sha256(json.dumps(cells).encode()).hexdigest()


def history_path(root: pathlib.Path, assignment: str) -> pathlib.Path:
    return root / "reports" / f"{assignment}.history.csv"


def read_history(path: pathlib.Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def last_graded(rows: list[dict]) -> dict[str, dict]:
    """Each student's latest history row."""
    return {row["student_id"]: row for row in rows}


def append_history(path: pathlib.Path, outcome, sha256: str | None, event: str,
                   previous_score: float | None = None) -> None:
    """Add a grading; ``previous_score`` is the gradebook's score it replaced (hand grades included)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        if new:
            writer.writeheader()
        writer.writerow(dict(graded_at=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                             student_id=outcome.student_id, sha256=sha256 or "", score=outcome.score,
                             max_score=outcome.max_score, status=outcome.status, event=event,
                             reason=outcome.reason,
                             previous_score="" if previous_score is None else previous_score))


def _is_hand_graded(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade") and meta.get("solution")) or bool(meta.get("task"))


def hand_graded_answers(path: pathlib.Path) -> dict[str, str]:
    """``grade_id -> text`` of the hand-graded answers in a (graded) notebook."""
    if not path.exists():
        return {}
    try:
        nb = notebooks.read(path)
    except ValueError:
        return {}
    return {notebooks.grade_id(c): c.source for c in nb.cells if _is_hand_graded(c)}


def hand_grades(api, assignment: str, student: str) -> dict[str, tuple[float | None, bool]]:
    """``grade_id -> (manual_score, needs_manual_grade)`` of every grade of the submission."""
    with warnings.catch_warnings(), api.gradebook as gb:
        warnings.simplefilter("ignore")
        try:
            submission = gb.find_submission(assignment, student)
        except Exception:  # not graded yet
            return {}
        return {grade.name: (grade.manual_score, bool(grade.needs_manual_grade))
                for nb in submission.notebooks for grade in nb.grades}


def restore_hand_grades(api, assignment: str, student: str, before_answers: dict[str, str],
                        before_grades: dict, after_answers: dict[str, str]) -> list[str]:
    """After a regrade, reopen only the hand grades whose answer changed.

    A hand grade (``manual_score`` set) whose answer text is the same as when it was given
    gets back the review state it had; one whose answer changed keeps its score and stays
    flagged for review. Returns the ``grade_id`` of the changed answers that had a hand grade.
    """
    changed = []
    with warnings.catch_warnings(), api.gradebook as gb:
        warnings.simplefilter("ignore")
        try:
            submission = gb.find_submission(assignment, student)
        except Exception:
            return changed
        for nb in submission.notebooks:
            for grade in nb.grades:
                score, needed = before_grades.get(grade.name, (None, True))
                if grade.name not in after_answers or score is None:
                    continue
                if after_answers[grade.name] == before_answers.get(grade.name):
                    grade.needs_manual_grade = needed
                else:
                    grade.needs_manual_grade = True
                    changed.append(grade.name)
        gb.db.commit()
    return changed
