"""An instructor's term through the real ``python -m grader`` commands, run as processes.

Two commands at once on one course, Ctrl-C in the middle of a batch, mistakes in the course
folder, resubmissions over hand grades, late submissions, a roster, and the grades going
out to an LMS. Every grading here is real (nbgrader and the sandboxed judge).
"""

from __future__ import annotations

import csv
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest
from nbgrader.api import Gradebook

from grader import notebooks
from grader.cli import main
from grader.course import REPO_ROOT, SOLUTIONS_DIR
from grader.lock import LOCK_NAME

ASSIGNMENT = "activations"
SOURCE = SOLUTIONS_DIR / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
CELL_TIMEOUT = "20"
WRITTEN = "written_vanishing_gradients"
WRITTEN_ANSWER = "The gradient shrinks by the activation's slope at every layer."  # for hand grading
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
    """Complete submissions: model solutions, a written answer, and the given ``answers``."""
    source = notebooks.read(SOURCE)
    for student, answers in answers_by_student.items():
        notebooks.write(notebooks.with_answers(source, {WRITTEN: WRITTEN_ANSWER, **answers}),
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

def slow_but_right(grade_id: str, seconds: float) -> str:
    """The model answer of ``grade_id``, in a cell that then sleeps (keeps a batch busy)."""
    cell = notebooks.find_cell(notebooks.read(SOURCE), grade_id)
    return notebooks.solution_text(cell.source) + f"\nimport time\ntime.sleep({seconds})"


def test_two_autogrades_at_once_grade_each_student_once(tmp_path, capsys):
    incoming = tmp_path / "incoming"
    # Ann's notebook takes 12 s to run: the first batch still holds the lock when the others start.
    submit(incoming, {"ann": {"log_sigmoid": slow_but_right("log_sigmoid", 12)},
                      "bob": {"dead_unit_fraction": WRONG_DEAD}})
    root = tmp_path / "course"
    first = grader(root, "autograde", ASSIGNMENT, str(incoming), "--no-progress", "--workers", "1",
                   wait=False)
    lock = root / LOCK_NAME
    wait_for(lambda: lock.exists() and lock.read_text().strip(), what="the first run to take the lock")
    wait_for((root / "autograded" / "ann").exists, what="the first run to start grading")
    impatient = grader(root, "--wait", "0.5", "autograde", ASSIGNMENT)
    # The same folder again (a second instructor importing the same download).
    second = grader(root, "autograde", ASSIGNMENT, str(incoming), "--no-progress", "--workers", "1",
                    wait=False)
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
    assert main(["--course-dir", str(root), "--wait", "0", "export"]) == 0
    err = capsys.readouterr().err
    assert "taking over the stale lock of pid" in err and "test holder" in err and "no longer running" in err
    assert not lock.read_text().strip()


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
    # Bob's sandbox is starting: a Ctrl-C landing there once left a ZeroMQ socket open and the
    # grader blocked for ever when it exited (tests/test_judge_stop.py stops the judge at
    # chosen moments, a cell running included).
    time.sleep(0.2)
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


def repository_files() -> set[str]:
    """Every file git would report in the repository (untracked and ignored included),
    caches and the default course folder aside."""
    listed = subprocess.run(["git", "status", "--porcelain", "--ignored", "--untracked-files=all"],
                            cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    return {line[3:] for line in listed.splitlines()
            if "__pycache__" not in line and not line[3:].startswith((".pytest_cache", "grader/course/"))}


def test_plain_nbgrader_works_from_the_grader_folder_without_path_and_leaves_no_files(tmp_path):
    """The README's plain-nbgrader commands, with the environment's bin folder NOT on PATH
    (nbgrader itself runs `alembic` from PATH when it creates a gradebook)."""
    root = tmp_path / "course"
    env = {"HOME": os.environ.get("HOME", str(tmp_path)), "PATH": "/usr/bin:/bin",
           "COURSE_ROOT": str(root), "COURSE_CELL_TIMEOUT": CELL_TIMEOUT}
    nbgrader = str(pathlib.Path(sys.executable).parent / "nbgrader")
    before = repository_files()

    def plain(*args):
        done = subprocess.run([nbgrader, *args], cwd=REPO_ROOT / "grader", env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done.stdout + done.stderr

    plain("generate_assignment", ASSIGNMENT, "--force")
    submit(root / "submitted", {"ann": {}})
    log = plain("autograde", ASSIGNMENT)
    assert "TCP" not in log, "the kernel's transport warning is back"
    with Gradebook(f"sqlite:///{root}/gradebook.db", "training-deep-nets") as gb:
        assert gb.find_submission(ASSIGNMENT, "ann").score == full_marks()
    assert repository_files() == before, "plain nbgrader wrote into the repository"


# -- resubmissions and hand grades -----------------------------------------------------------


def gradebook(root):
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


# -- rosters, deadlines, late penalties, grades out, feedback ---------------------------------

def canvas_zip(path, files: dict[str, tuple[str, tuple]]) -> None:
    """A Canvas download: flat ``<name>[_LATE]_<user id>_<submission id>_<file>`` entries."""
    import zipfile

    with zipfile.ZipFile(path, "w") as z:
        for name, (text, when) in files.items():
            z.writestr(zipfile.ZipInfo(name, date_time=when), text)


def test_roster_deadline_late_penalty_lms_export_and_feedback(tmp_path, monkeypatch, capsys):
    import math

    import nbformat

    from grader.course import load_config

    monkeypatch.setenv("COURSE_CELL_TIMEOUT", CELL_TIMEOUT)
    root = tmp_path / "course"

    def grader_main(*args) -> int:
        return main(["--course-dir", str(root), *args])

    # Canvas's gradebook export: a "Points Possible" line, and one student listed twice.
    (tmp_path / "canvas.csv").write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section,Activations (4312)\n"
        "    Points Possible,,,,,14\n"
        "\"Smith, Jane\",101,S-101,jsmith,Sec A,\n"
        "\"Doe, John\",102,S-102,jdoe,Sec A,\n"
        "\"Roe, Carol\",103,S-103,croe,Sec B,\n"
        "\"Roe, Carol\",103,S-103,croe,Sec B,\n")
    assert grader_main("roster", str(tmp_path / "canvas.csv")) == 0
    captured = capsys.readouterr()
    assert "roster: 3 students" in captured.out and "listed twice" in captured.err
    assert grader_main("deadline", ASSIGNMENT, "2026-01-10 12:00") == 0
    assert "due 2026-01-10 12:00 UTC" in capsys.readouterr().out

    good = nbformat.writes(notebooks.with_answers(notebooks.read(SOURCE), {WRITTEN: WRITTEN_ANSWER}))
    on_time, late = (2026, 1, 10, 11, 30, 0), (2026, 1, 11, 20, 0, 0)  # the late one: 32 h late
    canvas_zip(tmp_path / "with_stranger.zip", {
        "smithjane_101_901_activations.ipynb": (good, on_time),
        "mallory_666_999_activations.ipynb": (good, on_time)})
    assert grader_main("autograde", ASSIGNMENT, str(tmp_path / "with_stranger.zip"), "--no-progress") == 2
    assert "not on the roster: mallory" in capsys.readouterr().err
    assert not (root / "autograded").exists(), "nothing is graded when a student is unknown"

    canvas_zip(tmp_path / "download.zip", {
        "smithjane_101_901_activations.ipynb": (good, on_time),
        "doejohn_LATE_102_902_activations.ipynb": (good, late),
        "roecarol_103_903_activations.ipynb": ("{ not json", on_time)})
    assert grader_main("autograde", ASSIGNMENT, str(tmp_path / "download.zip"), "--no-progress",
                       "--workers", "1") == 0
    out = capsys.readouterr().out
    assert "marked LATE by the LMS" in next(line for line in out.splitlines() if "imported doejohn" in line)
    assert "awaiting hand grading" in out and f"smithjane ({points_of(WRITTEN):g} points)" in out
    assert "roecarol (" not in out  # an unreadable submission has nothing to grade by hand
    assert "late by 32.0 h" in report(root)["doejohn"]["reason"]
    assert "late" not in report(root)["smithjane"]["reason"]
    hand_grade(root, "smithjane", points_of(WRITTEN))

    # Grades out: per submission (with the penalty and what awaits hand grading), per part.
    assert grader_main("export", "--output", str(tmp_path / "grades.csv")) == 0
    with (tmp_path / "grades.csv").open() as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    full = full_marks()
    percent = load_config().PercentPerDay.percent_per_day
    expected_penalty = full * min(1.0, percent / 100 * math.ceil(32 * 3600 / 86400))
    assert float(rows["doejohn"]["late_penalty"]) == pytest.approx(expected_penalty)
    assert float(rows["doejohn"]["final_score"]) == pytest.approx(full - expected_penalty)
    assert float(rows["doejohn"]["seconds_late"]) == 32 * 3600
    assert float(rows["smithjane"]["late_penalty"]) == 0.0
    assert float(rows["smithjane"]["final_score"]) == full + points_of(WRITTEN)
    assert float(rows["doejohn"]["awaiting_hand_grading"]) == points_of(WRITTEN)
    assert float(rows["smithjane"]["awaiting_hand_grading"]) == 0.0
    assert rows["smithjane"]["first_name"] == "Jane" and rows["smithjane"]["last_name"] == "Smith"
    assert rows["roecarol"]["autograde_status"] == "invalid"
    with (tmp_path / "grades_parts.csv").open() as f:
        parts = [row for row in csv.DictReader(f) if row["student_id"] == "doejohn"]
    assert [p["part"] for p in parts] == list(notebooks.graded_cells(notebooks.read(SOURCE)))
    assert sum(float(p["score"]) for p in parts) == float(rows["doejohn"]["score"])
    assert [p["awaiting_hand_grading"] for p in parts].count("True") == 1

    # Canvas: its ids from the roster, the final score in the assignment's column.
    assert grader_main("export", "--lms", "canvas", "--assignment", ASSIGNMENT,
                       "--column", "Activations (4312)", "--output", str(tmp_path / "canvas_in.csv")) == 0
    assert "doejohn" in capsys.readouterr().err  # his written answer is not graded yet
    with (tmp_path / "canvas_in.csv").open() as f:
        canvas = {row["SIS Login ID"]: row for row in csv.DictReader(f)}
    assert canvas["jdoe"]["ID"] == "102" and canvas["jdoe"]["Student"] == "Doe, John"
    assert float(canvas["jdoe"]["Activations (4312)"]) == pytest.approx(full - expected_penalty)
    assert float(canvas["jsmith"]["Activations (4312)"]) == full + points_of(WRITTEN)
    assert grader_main("export", "--lms", "moodle", "--assignment", ASSIGNMENT,
                       "--output", str(tmp_path / "moodle_in.csv")) == 0
    with (tmp_path / "moodle_in.csv").open() as f:
        moodle = {row["Identifier"]: row for row in csv.DictReader(f)}
    assert "await hand grading" in moodle["Participant doejohn"]["Feedback comments"]
    assert "late by 32.0 h" in moodle["Participant doejohn"]["Feedback comments"]
    assert float(moodle["Participant smithjane"]["Grade"]) == full + points_of(WRITTEN)

    # Feedback for every submission: pending answers say so, an unreadable one says why.
    assert grader_main("feedback", ASSIGNMENT) == 0
    page = {s: (root / "feedback" / s / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
            for s in ("smithjane", "doejohn", "roecarol")}
    assert "Awaiting hand grading" in page["doejohn"] and "Awaiting hand grading" not in page["smithjane"]
    assert "not graded" in page["roecarol"] and "not a valid Jupyter notebook" in page["roecarol"]
