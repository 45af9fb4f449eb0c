"""An instructor's term through the real ``python -m grader`` commands, run as processes.

Two commands at once on one course, Ctrl-C in the middle of a batch, mistakes in the course
folder, resubmissions over hand grades, late submissions, a roster, and the grades going
out to an LMS. Every grading here is real (nbgrader and the sandboxed judge).
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time

import pytest

from grader import notebooks
from grader.cli import main
from grader.course import REPO_ROOT, SOLUTIONS_DIR
from grader.lock import LOCK_NAME

ASSIGNMENT = "activations"
SOURCE = SOLUTIONS_DIR / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
CELL_TIMEOUT = "20"
WRONG_DEAD = "def dead_unit_fraction(*args, **kwargs):\n    return -1.0"  # loses that part only


def grader(root, *args, wait=True, **popen):
    """``python -m grader --course-dir ROOT ARGS`` as a process (finished, unless ``wait=False``)."""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), COURSE_CELL_TIMEOUT=CELL_TIMEOUT)
    env.pop("COURSE_ROOT", None)
    process = subprocess.Popen([sys.executable, "-m", "grader", "--course-dir", str(root), *args],
                               cwd=REPO_ROOT, env=env, text=True, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, **popen)
    if not wait:
        return process
    out, err = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def submit(folder, answers_by_student: dict[str, dict]) -> None:
    source = notebooks.read(SOURCE)
    for student, answers in answers_by_student.items():
        notebooks.write(notebooks.with_answers(source, answers),
                        folder / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")


def report(root) -> dict[str, dict]:
    path = root / "reports" / f"{ASSIGNMENT}.csv"
    if not path.exists():
        return {}
    with path.open() as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


def wait_for(condition, timeout=120.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def full_marks() -> float:
    """The points of every autograded part (the written answer is graded by hand)."""
    nb = notebooks.read(SOURCE)
    return sum(p for gid, p in notebooks.graded_cells(nb).items()
               if notebooks.find_cell(nb, gid).cell_type == "code")


def points_of(grade_id: str) -> float:
    return notebooks.graded_cells(notebooks.read(SOURCE))[grade_id]


# -- one writer at a time --------------------------------------------------------------------

def test_two_autogrades_at_once_grade_each_student_once(tmp_path):
    incoming = tmp_path / "incoming"
    submit(incoming, {"ann": {}, "bob": {"dead_unit_fraction": WRONG_DEAD}})
    root = tmp_path / "course"
    first = grader(root, "autograde", ASSIGNMENT, str(incoming), "--no-progress", "--workers", "1",
                   wait=False)
    lock = root / LOCK_NAME
    wait_for(lambda: lock.exists() and lock.read_text().strip(), what="the first run to take the lock")
    impatient = grader(root, "--wait", "0.5", "export")
    second = grader(root, "autograde", ASSIGNMENT, "--no-progress", "--workers", "1", wait=False)
    out1, err1 = first.communicate(timeout=300)
    out2, err2 = second.communicate(timeout=300)
    assert first.returncode == 0, err1
    assert second.returncode == 0, err2
    # The impatient command gave up, naming the holder; the second autograde waited for it.
    assert impatient.returncode == 2 and f"in use by pid {first.pid}" in impatient.stderr
    assert f"waiting for pid {first.pid}" in err2
    # Same grades as one run, and the second run graded nobody again.
    rows = report(root)
    assert float(rows["ann"]["score"]) == full_marks()
    assert float(rows["bob"]["score"]) == full_marks() - points_of("test_dead_unit_fraction")
    assert out2.count("already graded") == 2, out2
    assert not lock.read_text().strip(), "a finished command leaves the lock empty"

    # A holder killed without releasing: the next command takes the lock over and says so.
    code = ("import os, pathlib, signal\nfrom grader.lock import course_lock\n"
            f"with course_lock(pathlib.Path({str(root)!r}), 'test holder'):\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n")
    killed = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT,
                            env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)))
    assert killed.returncode == -signal.SIGKILL and lock.read_text().strip()
    export = grader(root, "--wait", "0", "export")
    assert export.returncode == 0, export.stderr
    assert "taking over the stale lock of pid" in export.stderr
    assert "test holder" in export.stderr and "no longer running" in export.stderr


# -- Ctrl-C ----------------------------------------------------------------------------------

def test_ctrl_c_stops_the_batch_and_leaves_the_submission_in_progress_ungraded(tmp_path):
    incoming = tmp_path / "incoming"
    submit(incoming, {"ann": {}, "bob": {"log_sigmoid": "import time\ntime.sleep(600)"}, "cid": {}})
    root = tmp_path / "course"
    run = grader(root, "autograde", ASSIGNMENT, str(incoming), "--no-progress", "--workers", "1",
                 wait=False, start_new_session=True)
    def graded(student):
        return root / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"

    # nbgrader copies a submission into autograded/ when it starts on it: bob started, ann is done.
    wait_for(graded("bob").exists, what="bob's grading to start")
    before = graded("ann").read_bytes()
    time.sleep(2.0)  # bob's notebook is running (its first part sleeps)
    os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
    out, err = run.communicate(timeout=60)
    assert run.returncode == 130, err
    assert "interrupted: 1 graded (ann)" in err
    assert "bob was being graded and is left as before this run" in err and "not started: cid" in err
    assert "Traceback" not in err
    # Ann, graded before the interruption, is untouched; bob is neither graded nor failed.
    assert graded("ann").read_bytes() == before
    assert not graded("bob").exists() and not graded("cid").exists()
    rows = report(root)
    assert set(rows) == {"ann"} and float(rows["ann"]["score"]) == full_marks()
    export = grader(root, "export", "--output", str(tmp_path / "grades.csv"))
    assert export.returncode == 0, export.stderr
    with (tmp_path / "grades.csv").open() as f:
        assert [row["student_id"] for row in csv.DictReader(f)] == ["ann"]
    with pytest.raises(ProcessLookupError):  # nothing of the batch is left running
        os.killpg(run.pid, 0)


# -- clear errors ----------------------------------------------------------------------------

def test_course_folder_mistakes_are_clear_errors(tmp_path, capsys):
    missing = tmp_path / "no_such_course"
    for args in (["export"], ["feedback", ASSIGNMENT], ["autograde", ASSIGNMENT]):
        assert main(["--course-dir", str(missing), *args]) == 2
        assert "does not exist" in capsys.readouterr().err
    assert not missing.exists(), "a command that found no course must not create one"
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a course")
    assert main(["--course-dir", str(a_file), "export"]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["--course-dir", str(empty), "export"]) == 2
    assert "no gradebook" in capsys.readouterr().err
    # The command that starts a course creates its folder.
    assert main(["--course-dir", str(missing), "release", ASSIGNMENT]) == 0
    assert (missing / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").exists()


# -- resubmissions and hand grades -----------------------------------------------------------

WRITTEN = "written_vanishing_gradients"


def gradebook(root):
    from nbgrader.api import Gradebook

    return Gradebook(f"sqlite:///{root}/gradebook.db", "training-deep-nets")


def hand_grade(root, student: str, points: float) -> None:
    """What the formgrader does when the instructor scores a written answer."""
    with gradebook(root) as gb:
        grade = gb.find_grade(WRITTEN, ASSIGNMENT, ASSIGNMENT, student)
        grade.manual_score, grade.needs_manual_grade = points, False
        gb.db.commit()


def written_state(root, student: str) -> tuple[float | None, bool]:
    with gradebook(root) as gb:
        grade = gb.find_grade(WRITTEN, ASSIGNMENT, ASSIGNMENT, student)
        return grade.manual_score, bool(grade.needs_manual_grade)


def history_rows(root) -> list[dict]:
    with (root / "reports" / f"{ASSIGNMENT}.history.csv").open() as f:
        return list(csv.DictReader(f))


def test_resubmissions_are_regraded_and_hand_grades_kept(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_CELL_TIMEOUT", CELL_TIMEOUT)
    root = tmp_path / "course"
    first, second = tmp_path / "first", tmp_path / "second"
    submit(first, {"ann": {}, "bob": {}})
    other = SOLUTIONS_DIR / "building_blocks" / "building_blocks.ipynb"  # the wrong assignment
    notebooks.write(notebooks.with_answers(notebooks.read(other)), first / "eve" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")

    def autograde(*args):
        assert main(["--course-dir", str(root), "autograde", ASSIGNMENT, *args, "--no-progress",
                     "--workers", "1"]) == 0
        return capsys.readouterr().out

    autograde(str(first))
    eve = report(root)["eve"]
    assert eve["status"] == "failed" and "not the activations notebook" in eve["reason"]
    assert "ValidationError" in eve["reason"] and "Please see" not in eve["reason"]
    full = full_marks()
    hand_grade(root, "ann", points_of(WRITTEN))
    hand_grade(root, "bob", points_of(WRITTEN) / 2)

    # Ann downloads and uploads the same notebook again; Bob rewrites his written answer and
    # breaks one part.
    submit(second, {"ann": {}, "bob": {WRITTEN: "Gradients vanish because sigmoid saturates.",
                                       "dead_unit_fraction": WRONG_DEAD}})
    out = autograde(str(second))
    rows = report(root)
    assert "already graded" in out.splitlines()[[line.split()[0] for line in out.splitlines()].index("ann")]
    assert float(rows["bob"]["score"]) == full - points_of("test_dead_unit_fraction") + points_of(WRITTEN) / 2
    assert "resubmitted" in rows["bob"]["reason"] and f"earlier grade {full + points_of(WRITTEN) / 2:g}" in rows["bob"]["reason"]
    assert f"flagged for review: {WRITTEN}" in rows["bob"]["reason"]
    bob_history = [r for r in history_rows(root) if r["student_id"] == "bob"]
    assert [r["event"] for r in bob_history] == ["graded", "resubmission"]
    assert float(bob_history[0]["score"]) == full and bob_history[0]["sha256"] != bob_history[1]["sha256"]
    assert float(bob_history[1]["previous_score"]) == full + points_of(WRITTEN) / 2
    assert written_state(root, "bob") == (points_of(WRITTEN) / 2, True)  # kept, flagged for review
    assert written_state(root, "ann") == (points_of(WRITTEN), False)

    # --force regrades everyone and reopens no hand grade whose answer is unchanged (Bob's
    # rewritten answer stays flagged: nobody has reviewed it yet).
    autograde("--force")
    assert written_state(root, "ann") == (points_of(WRITTEN), False)
    assert written_state(root, "bob") == (points_of(WRITTEN) / 2, True)
    assert float(report(root)["ann"]["score"]) == full + points_of(WRITTEN)
    assert [r["event"] for r in history_rows(root) if r["student_id"] == "ann"] == ["graded", "regraded (--force)"]
