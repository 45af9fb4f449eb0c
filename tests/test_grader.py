"""The grader's commands on a batch of good and bad submissions, through real nbgrader.

One batch holds a correct submission and every kind of bad one: a cell that hangs, a cell
that hangs and ignores interrupts, a kernel crash, a file that is not a notebook, a notebook
under another name, and an empty folder. Each gets a score and a reason, and the batch is
graded to the end; a hang or a crash loses only the parts it breaks (the judge restarts the
kernel and grades the rest).
"""

from __future__ import annotations

import csv
import zipfile

import pytest

from grader import notebooks
from grader.cli import main
from grader.course import SOLUTIONS_DIR
from grader.submissions import student_from_path
from secrets_check import leaks, secret_lines

ASSIGNMENT = "activations"
SOURCE = SOLUTIONS_DIR / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
CELL_TIMEOUT = "20"  # short enough to test hangs, long enough to import torch on a busy machine

SUBMISSIONS = {
    "good": {},
    "hangs": {"log_sigmoid": "import time\ntime.sleep(600)"},
    "hangs_hard": {"log_sigmoid": "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                  "while True:\n    pass"},
    "crashes": {"swish": "import os\nos._exit(1)"},
}


def run(*args) -> int:
    return main([*args])


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course folder whose batch has been autograded once via the command line."""
    mp = pytest.MonkeyPatch()
    mp.setenv("COURSE_CELL_TIMEOUT", CELL_TIMEOUT)
    root = tmp_path_factory.mktemp("course")
    incoming = tmp_path_factory.mktemp("incoming")
    source = notebooks.read(SOURCE)
    for student, answers in SUBMISSIONS.items():
        notebooks.write(notebooks.with_answers(source, answers),
                        incoming / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    (incoming / "not_a_notebook" / ASSIGNMENT).mkdir(parents=True)
    (incoming / "not_a_notebook" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").write_text("{ not json")
    notebooks.write(notebooks.with_answers(source),
                    incoming / "renamed" / ASSIGNMENT / f"{ASSIGNMENT} (1).ipynb")
    (incoming / "empty" / ASSIGNMENT).mkdir(parents=True)
    assert run("--course-dir", str(root), "autograde", ASSIGNMENT, str(incoming), "--no-progress") == 0
    yield root
    mp.undo()


def report(root):
    with (root / "reports" / f"{ASSIGNMENT}.csv").open() as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


def test_every_submission_gets_a_score_and_a_reason(course):
    rows = report(course)
    assert set(rows) == {"good", "hangs", "hangs_hard", "crashes", "not_a_notebook", "renamed", "empty"}
    assert float(rows["good"]["score"]) == 12.0 and rows["good"]["status"] == "graded"
    assert float(rows["renamed"]["score"]) == 12.0 and "renamed" in rows["renamed"]["reason"]
    # The interruptible hang loses only the part whose cell hung.
    assert rows["hangs"]["status"] == "graded"
    assert float(rows["hangs"]["score"]) == 12.0 - 2.0  # the log-sigmoid part (2 points) fails
    assert "interrupted" in rows["hangs"]["reason"]
    # Interrupts ignored: the kernel is killed and replaced; only that part is lost.
    assert rows["hangs_hard"]["status"] == "graded" and "time limit" in rows["hangs_hard"]["reason"]
    assert float(rows["hangs_hard"]["score"]) == 12.0 - 2.0
    # os._exit in the swish cell: swish (1 point) and swish_backward (3 points, which uses the
    # cell's helper) are lost, every other part is graded in a restarted kernel.
    assert rows["crashes"]["status"] == "graded" and "kernel died" in rows["crashes"]["reason"]
    assert float(rows["crashes"]["score"]) == 12.0 - 1.0 - 3.0
    assert rows["not_a_notebook"]["status"] == "invalid"
    assert "not a valid Jupyter notebook" in rows["not_a_notebook"]["reason"]
    assert rows["empty"]["status"] == "missing" and "no notebook" in rows["empty"]["reason"]
    for student in ("not_a_notebook", "empty"):
        assert float(rows[student]["score"]) == 0.0


def test_grading_again_keeps_earlier_grades(course, capsys):
    before = report(course)
    assert run("--course-dir", str(course), "autograde", ASSIGNMENT, "--no-progress") == 0
    assert "already graded" in capsys.readouterr().out
    after = report(course)
    assert {k: v["score"] for k, v in after.items()} == {k: v["score"] for k, v in before.items()}


def test_feedback_has_scores_and_messages_but_no_hidden_tests_or_solutions(course):
    assert run("--course-dir", str(course), "feedback", ASSIGNMENT, "--student", "good",
               "--student", "hangs") == 0
    secrets = secret_lines()
    assert secrets, "the source notebook should have solution and hidden-test lines"
    for student in ("good", "hangs"):
        html = (course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
        assert not leaks(html, secrets), f"feedback of {student} leaks {leaks(html, secrets)[:3]}"
        assert "hidden tests were run here" in html
    assert "CellTimeoutError" in (course / "feedback" / "hangs" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()


def test_export_writes_every_submission_with_status(course, tmp_path):
    out = tmp_path / "grades.csv"
    assert run("--course-dir", str(course), "export", "--output", str(out)) == 0
    with out.open() as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    assert float(rows["good"]["score"]) == 12.0 and float(rows["good"]["max_score"]) == 14.0
    assert rows["crashes"]["autograde_status"] == "graded"
    assert "kernel died" in rows["crashes"]["reason"]


def test_lms_zip_is_imported_and_graded(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CELL_TIMEOUT", CELL_TIMEOUT)
    source = notebooks.read(SOURCE)
    archive = tmp_path / "download.zip"
    good = notebooks.with_answers(source)
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("smithjane_1234_5678_activations.ipynb", notebooks_text(good))  # Canvas
        z.writestr("Li Wei_991_assignsubmission_file_/activations.ipynb", notebooks_text(good))  # Moodle
        z.writestr("__MACOSX/._junk.ipynb", "junk")
    root = tmp_path / "course"
    assert run("--course-dir", str(root), "--db-url", f"sqlite:///{tmp_path}/other.db",
               "autograde", ASSIGNMENT, str(archive), "--no-progress") == 0
    rows = report(root)
    assert set(rows) == {"smithjane", "991"}
    assert all(float(r["score"]) == 12.0 for r in rows.values())
    assert (tmp_path / "other.db").exists(), "the gradebook URL from the command line is used"


def notebooks_text(nb) -> str:
    import nbformat

    return nbformat.writes(nb)


@pytest.mark.parametrize("path,student", [
    ("smithjane_1234_5678_activations.ipynb", "smithjane"),
    ("smithjane_LATE_1234_5678_activations-1.ipynb", "smithjane"),
    ("Li Wei_991_assignsubmission_file_/activations.ipynb", "991"),
    ("s1234567/activations.ipynb", "s1234567"),
    ("activations.ipynb", None),
])
def test_student_is_read_from_the_path(path, student):
    assert student_from_path(path) == student


def test_bad_input_gets_a_clear_error(tmp_path, capsys):
    assert run("--course-dir", str(tmp_path), "autograde", "no_such_assignment") == 2
    assert "unknown assignment 'no_such_assignment'" in capsys.readouterr().err
    assert run("--course-dir", str(tmp_path), "autograde", ASSIGNMENT, str(tmp_path / "nowhere.zip")) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "flat").mkdir()
    assert run("--course-dir", str(tmp_path), "autograde", ASSIGNMENT, str(tmp_path / "flat")) == 2
    assert "nbgrader's layout" in capsys.readouterr().err
    unnamed = tmp_path / "unnamed.zip"
    with zipfile.ZipFile(unnamed, "w") as z:
        z.writestr("activations.ipynb", "{}")
    assert run("--course-dir", str(tmp_path), "autograde", ASSIGNMENT, str(unnamed)) == 2
    assert "--student-pattern" in capsys.readouterr().err


def test_releases_contain_no_solution_or_hidden_test(tmp_path):
    assert run("--course-dir", str(tmp_path), "release", "--copy-to", str(tmp_path / "book")) == 0
    secrets = secret_lines()
    assert leaks(SOURCE.read_text(), secrets), "the detector must flag the source notebook itself"
    released = list((tmp_path / "release").glob("*/*.ipynb"))
    assert released and len(list((tmp_path / "book").glob("*.ipynb"))) == len(released)
    for path in released:
        assert not leaks(path.read_text(), secrets), f"{path} leaks solution or hidden-test code"
        assert "raise NotImplementedError()" in path.read_text()


def test_a_sandbox_that_cannot_start_stops_grading_with_the_cause(tmp_path, monkeypatch, capsys):
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No space left on device' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr("grader.judge.sandbox.bwrap_path", lambda: str(fake))
    assert run("--course-dir", str(tmp_path), "autograde", ASSIGNMENT) == 2
    err = capsys.readouterr().err
    assert "user.max_user_namespaces" in err and "--no-sandbox" in err


def test_no_sandbox_grades_with_a_loud_warning_recorded_in_the_report(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_CELL_TIMEOUT", CELL_TIMEOUT)
    incoming = tmp_path / "incoming"
    notebooks.write(notebooks.with_answers(notebooks.read(SOURCE)), incoming / "good" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    root = tmp_path / "course"
    assert run("--course-dir", str(root), "autograde", ASSIGNMENT, str(incoming), "--no-progress",
               "--no-sandbox", "--workers", "1") == 0
    assert "WITHOUT the sandbox" in capsys.readouterr().err
    row = report(root)["good"]
    assert float(row["score"]) == 12.0 and "WITHOUT the sandbox" in row["reason"]


def test_the_gradebook_schema_revision_is_what_alembic_reports():
    """New gradebooks are stamped with ``alembic_head`` (in-process) instead of nbgrader's run of
    the ``alembic heads`` program: both must name the same revision."""
    import subprocess
    import sys
    from pathlib import Path

    from nbgrader.dbutil import _temp_alembic_ini

    from grader.course import alembic_head

    with _temp_alembic_ini("sqlite:////nonexistent/gradebook.db") as ini:
        printed = subprocess.run([str(Path(sys.executable).parent / "alembic"), "-c", ini, "heads"],
                                 capture_output=True, text=True, check=True).stdout
    assert printed.split()[0] == alembic_head()
    assert len(alembic_head()) == 12 and int(alembic_head(), 16) >= 0
