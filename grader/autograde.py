"""Autograding a batch of submissions with nbgrader, robust to bad submissions.

Each submission is graded on its own: one that hangs (its cell is interrupted after the
configured timeout), crashes its kernel, or is not a valid notebook gets a score and a
reason, and the rest of the batch is still graded. Every outcome is saved to the gradebook
(by nbgrader) and to ``<course>/reports/<assignment>.csv``, which keeps the earlier rows of
students not graded in this run.
"""

from __future__ import annotations

import csv
import logging
import pathlib
import re
import warnings
from dataclasses import asdict, dataclass, fields

from tqdm import tqdm

from grader import notebooks
from grader.course import course_root
from grader.submissions import expected_notebook

REPORT_FIELDS = ("student_id", "score", "max_score", "status", "reason")

#: What nbgrader's log says, and the reason we give the instructor and the student.
_FAILURE_REASONS = (
    (re.compile(r"DeadKernelError|Kernel died|kernel died", re.I),
     "the kernel died while the notebook ran (a crash, or a call such as os._exit)"),
    (re.compile(r"UnresponsiveKernelError|TimeoutError|Timeout waiting", re.I),
     "a cell ran past the time limit and could not be interrupted"),
    (re.compile(r"NotJSONError|not valid JSON|Notebook does not appear to be JSON", re.I),
     "the file is not a valid notebook"),
)


@dataclass
class Outcome:
    """The result of grading one student's submission."""

    student_id: str
    score: float
    max_score: float
    status: str  # "graded", "failed", "invalid" or "missing"
    reason: str = ""


def _failure_reason(log: str, error: str) -> str:
    text = f"{log}\n{error}"
    for pattern, reason in _FAILURE_REASONS:
        if pattern.search(text):
            return reason
    last = [line for line in (error or log).strip().splitlines() if line.strip()]
    return "grading failed: " + (last[-1].strip() if last else "unknown error")


def _timeout_note(autograded: pathlib.Path) -> str:
    """Which cells were interrupted for running too long, if any."""
    if not autograded.exists():
        return ""
    nb = notebooks.read(autograded)
    hit = [notebooks.grade_id(c) or f"cell {i}" for i, c in enumerate(nb.cells)
           if c.cell_type == "code" and any(o.get("ename") == "CellTimeoutError" for o in c.get("outputs", []))]
    return f"interrupted after the time limit: {', '.join(hit)}" if hit else ""


def submitted_students(api, assignment: str) -> list[str]:
    submitted = course_root(api.config) / "submitted"
    return sorted(p.parent.name for p in submitted.glob(f"*/{assignment}") if p.is_dir())


def autograde_batch(api, assignment: str, students=None, *, force: bool = False,
                    progress: bool = True) -> list[Outcome]:
    """Grade every submitted student (or ``students``) of ``assignment``.

    Students already autograded are skipped unless ``force``: nothing graded is redone or
    lost by running the command again after adding late submissions.
    """
    root = course_root(api.config)
    students = list(students) if students is not None else submitted_students(api, assignment)
    max_score = _max_score(api, assignment)
    outcomes = []
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    bar = tqdm(students, desc=f"autograding {assignment}", unit="submission", disable=not progress)
    for student in bar:
        bar.set_postfix_str(student)
        autograded = root / "autograded" / student / assignment / f"{assignment}.ipynb"
        if autograded.exists() and not force:
            outcomes.append(_from_gradebook(api, assignment, student, max_score, "graded", "already graded"))
            continue
        outcomes.append(_grade_one(api, root, assignment, student, max_score))
    _save_report(root / "reports" / f"{assignment}.csv", outcomes)
    return outcomes


def _grade_one(api, root: pathlib.Path, assignment: str, student: str, max_score: float) -> Outcome:
    path, note = expected_notebook(root / "submitted" / student / assignment, assignment)
    if path is None:
        return Outcome(student, 0.0, max_score, "missing", note)
    invalid = ""
    try:
        notebooks.read(path)
    except ValueError as err:
        invalid = str(err).replace(str(root) + "/", "")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy warnings from nbgrader's gradebook
        result = api.autograde(assignment, student, force=True, create=True)
    if invalid:
        return _from_gradebook(api, assignment, student, max_score, "invalid", invalid)
    if not result["success"]:
        reason = _failure_reason(result.get("log", ""), result.get("error", ""))
        return _from_gradebook(api, assignment, student, max_score, "failed", reason)
    autograded = root / "autograded" / student / assignment / f"{assignment}.ipynb"
    reason = "; ".join(r for r in (note, _timeout_note(autograded)) if r)
    return _from_gradebook(api, assignment, student, max_score, "graded", reason)


def _max_score(api, assignment: str) -> float:
    with api.gradebook as gb:
        return float(gb.find_assignment(assignment).max_score)


def _from_gradebook(api, assignment, student, max_score, status, reason) -> Outcome:
    with api.gradebook as gb:
        try:
            score = float(gb.find_submission(assignment, student).score)
        except Exception:  # no submission recorded: nbgrader stopped before creating one
            score = 0.0
    return Outcome(student, score, max_score, status, reason)


def _save_report(path: pathlib.Path, outcomes: list[Outcome]) -> None:
    rows = {}
    if path.exists():
        with path.open(newline="") as f:
            rows = {row["student_id"]: row for row in csv.DictReader(f)}
    for outcome in outcomes:
        rows[outcome.student_id] = {k: v for k, v in asdict(outcome).items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[f.name for f in fields(Outcome)])
        writer.writeheader()
        writer.writerows(rows[k] for k in sorted(rows))
    tmp.replace(path)  # never leave a half-written report


def read_report(path: pathlib.Path) -> dict[str, dict]:
    if not path.exists():
        return {}
    with path.open(newline="") as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}
