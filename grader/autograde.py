"""Autograding a batch of submissions with nbgrader, robust to bad submissions.

Each submission is graded on its own: one that hangs (its cell is interrupted after the
configured timeout), crashes its kernel, or is not a valid notebook gets a score and a
reason, and the rest of the batch is still graded. Every outcome is saved to the gradebook
(by nbgrader) and to ``<course>/reports/<assignment>.csv``, which keeps the earlier rows of
students not graded in this run.

Ctrl-C (SIGINT) stops the batch cleanly: the submission being graded is put back as it was
before this run (ungraded, not failed), the report keeps what was graded, and
``BatchInterrupted`` (a ``KeyboardInterrupt``) says what was done.
"""

from __future__ import annotations

import concurrent.futures as futures
import contextlib
import csv
import logging
import os
import pathlib
import re
import shutil
import signal
import tempfile
import warnings
from dataclasses import asdict, dataclass, fields

import nbformat
from tqdm import tqdm

from grader import history, notebooks
from grader.course import SOLUTIONS_DIR, course_root
from grader.judge import stop
from grader.judge.judge import exported_names
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


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped ``autograde_batch``: what was graded, what was stopped, what was not started."""

    def __init__(self, done: list[Outcome], stopped: str | None, not_started: list[str]):
        super().__init__("autograding interrupted")
        self.done, self.stopped, self.not_started = done, stopped, not_started


def _failure_reason(log: str, error: str) -> str:
    """What went wrong, in words: a known failure's reason, else the real cause.

    nbgrader's own error only says "Please see the above traceback"; the cause is the last
    line of the last traceback in its log (``ValidationError: ...``).
    """
    text = f"{log}\n{error}"
    for pattern, reason in _FAILURE_REASONS:
        if pattern.search(text):
            return reason
    for source in (error, log):
        block = (source or "").rsplit("Traceback (most recent call last):", 1)
        if len(block) == 2:
            lines = [line.strip() for line in block[1].splitlines() if line.strip()]
            causes = [line for line in lines if re.match(r"^[\w.]+(Error|Exception|Exit)\b.*:", line)
                      and "Please see the" not in line]
            if causes:
                return "grading failed: " + re.sub(r"^(\w+\.)+(?=\w+:)", "", causes[-1])
    last = [line for line in (error or log).strip().splitlines() if line.strip()]
    return "grading failed: " + (last[-1].strip() if last else "unknown error")


#: Error outputs the judge writes into a cell it had to stop, and how the report names them.
_STOPPED_CELLS = (("CellTimeoutError", "interrupted after the time limit"),
                  ("KernelDiedError", "the kernel died (restarted for the next cells)"),
                  ("OutputLimitError", "stopped for printing too much"))


def _judge_note(autograded: pathlib.Path) -> str:
    """Which cells the judge had to stop (time limit, kernel death, output flood), if any."""
    if not autograded.exists():
        return ""
    nb = notebooks.read(autograded)
    notes = []
    for ename, words in _STOPPED_CELLS:
        hit = [notebooks.grade_id(c) or f"cell {i}" for i, c in enumerate(nb.cells)
               if c.cell_type == "code" and any(o.get("ename") == ename for o in c.get("outputs", []))]
        if hit:
            notes.append(f"{words}: {', '.join(dict.fromkeys(hit))}")
    return "; ".join(notes)


def submitted_students(api, assignment: str) -> list[str]:
    submitted = course_root(api.config) / "submitted"
    return sorted(p.parent.name for p in submitted.glob(f"*/{assignment}") if p.is_dir())


def autograde_batch(api, assignment: str, students=None, *, force: bool = False,
                    progress: bool = True, workers: int = 1, scheduler: str | None = None,
                    sandboxed: bool = True) -> list[Outcome]:
    """Grade every submitted student (or ``students``) of ``assignment``.

    Students already autograded are skipped unless ``force`` or their submission changed
    (a resubmission, told by its content hash): nothing graded is redone or lost by running
    the command again after adding late submissions. Every grading is appended to
    ``reports/<assignment>.history.csv``, so a resubmission's earlier grade is kept there. A
    regrade keeps hand grades and flags for review only the answers whose text changed. With
    ``workers`` > 1 (or a Dask ``scheduler`` address) the judge runs in parallel worker
    processes; this process alone writes the gradebook. ``sandboxed=False`` grades without the
    sandbox and says so in every report row.
    """
    root = course_root(api.config)
    students = list(students) if students is not None else submitted_students(api, assignment)
    max_score = _max_score(api, assignment)
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    outcomes: dict[str, Outcome] = {}
    located, digests, events = {}, {}, {}
    earlier_report = read_report(root / "reports" / f"{assignment}.csv")
    last = history.last_graded(history.read_history(history.history_path(root, assignment)))
    for student in students:
        autograded = root / "autograded" / student / assignment / f"{assignment}.ipynb"
        found = expected_notebook(root / "submitted" / student / assignment, assignment)
        digests[student] = history.digest(found[0])
        earlier = last.get(student, {}).get("sha256")
        resubmitted = bool(earlier and digests[student] and earlier != digests[student])
        if autograded.exists() and not force and not resubmitted:
            before = earlier_report.get(student, {}).get("reason", "")
            outcomes[student] = _from_gradebook(api, assignment, student, max_score, "graded",
                                                "already graded" + (f" ({before})" if before else ""))
            continue
        located[student] = found
        events[student] = ("resubmission" if resubmitted else "regraded (--force)" if autograded.exists()
                           else "graded")
    bar = tqdm(total=len(located), desc=f"autograding {assignment}", unit="submission", disable=not progress)
    graded_now: list[str] = []
    current = None
    with _sandbox_setting(sandboxed), _said_once(sandboxed), _interruptible() as interrupted:
        try:
            for student in _judged_in_parallel(api, assignment, located, workers, scheduler, sandboxed):
                with _deferred(interrupted):
                    current = _Snapshot(api, root, assignment, student)
                bar.set_postfix_str(student)
                with _deferred(interrupted):  # the judge stops at its next wait, never mid-step
                    outcome = _grade_one(api, root, assignment, student, max_score, located[student])
                interrupted["defer"] = True  # graded: a Ctrl-C from here on stops after this student
                notes = [outcome.reason]
                if events[student] == "resubmission":
                    earlier = current.score if current.score is not None else float(last[student]["score"])
                    notes.append(f"resubmitted: regraded (earlier grade {earlier:g} kept in the history)")
                changed = history.restore_hand_grades(
                    api, assignment, student, current.answers, current.grades,
                    history.hand_graded_answers(current.folder / f"{assignment}.ipynb"))
                if changed:
                    notes.append(f"answer changed since hand grading, flagged for review: {', '.join(changed)}")
                notes.append(_late_note(api, assignment, student))
                if not sandboxed:
                    notes.append("graded WITHOUT the sandbox")
                outcome.reason = "; ".join(r for r in notes if r)
                _record(root, assignment, outcome, digests[student], events[student], current.score)
                outcomes[student] = outcome
                graded_now.append(student)
                current.discard()
                current = None
                bar.update()
                interrupted["defer"] = False
                if interrupted["hit"]:
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            if interrupted["main"]:
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not stop the clean-up
            bar.close()
            if workers > 1 and not scheduler:
                _stop_local_workers(workers)
            if current is not None:
                current.restore()
            _save_report(root / "reports" / f"{assignment}.csv", [outcomes[s] for s in graded_now])
            stopped = current.student if current is not None else None
            not_started = [s for s in located if s not in graded_now and s != stopped]
            raise BatchInterrupted([outcomes[s] for s in students if s in outcomes], stopped, not_started) from None
        finally:
            if current is not None:
                current.discard()
    bar.close()
    ordered = [outcomes[s] for s in students]
    # A student skipped as already graded keeps the report row (and reason) of their grading.
    _save_report(root / "reports" / f"{assignment}.csv", [outcomes[s] for s in located])
    return ordered


@contextlib.contextmanager
def _interruptible():
    """Record a Ctrl-C (nbgrader's ``autograde`` catches every exception, KeyboardInterrupt too).

    Outside the blocks marked ``_deferred`` a Ctrl-C raises ``KeyboardInterrupt`` at once;
    inside them it is recorded (``hit``) and takes effect at the block's end. Either way it
    requests a stop (``grader.judge.stop``), so a judge running in the block stops at its next
    wait instead of being interrupted in the middle of a step.
    """
    state = {"hit": False, "defer": False}

    def handler(signum, frame):
        state["hit"] = True
        stop.request()
        if not state["defer"]:
            raise KeyboardInterrupt

    stop.clear()
    try:
        with stop.sigint_handler(handler) as installed:
            state["main"] = installed
            yield state
    finally:
        stop.clear()


def _stop_local_workers(workers: int) -> None:
    """Stop the local judge pool now: its jobs are abandoned (their kernels die with them)."""
    from grader.judge import batch

    pool = batch._LOCAL_EXECUTORS.pop(workers, None)
    if pool is None:
        return
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(5)


@contextlib.contextmanager
def _deferred(state):
    """A Ctrl-C inside the block takes effect at its end."""
    state["defer"] = True
    try:
        yield
    finally:
        state["defer"] = False
    if state["hit"]:
        raise KeyboardInterrupt


class _Snapshot:
    """A student's graded state before this run regrades them, to put back on Ctrl-C."""

    def __init__(self, api, root: pathlib.Path, assignment: str, student: str):
        self.api, self.assignment, self.student = api, assignment, student
        self.folder = root / "autograded" / student / assignment
        self.backup = None
        if self.folder.exists():
            self.backup = pathlib.Path(tempfile.mkdtemp(prefix=".interrupted-", dir=root))
            shutil.copytree(self.folder, self.backup / "copy")
        with api.gradebook as gb:
            earlier = [s for s in gb.find_assignment(assignment).submissions if s.student.id == student]
            self.had_submission = bool(earlier)
            self.score = float(earlier[0].score) if earlier and self.folder.exists() else None
        self.answers = history.hand_graded_answers(self.folder / f"{assignment}.ipynb")
        self.grades = history.hand_grades(api, assignment, student)

    def restore(self) -> None:
        if self.folder.exists():
            shutil.rmtree(self.folder)
        if self.backup is not None:
            shutil.copytree(self.backup / "copy", self.folder)
        elif not self.had_submission:
            with warnings.catch_warnings(), self.api.gradebook as gb:
                warnings.simplefilter("ignore")
                try:
                    gb.remove_submission(self.assignment, self.student)
                except Exception:  # nbgrader had not created it yet
                    pass

    def discard(self) -> None:
        if self.backup is not None:
            shutil.rmtree(self.backup, ignore_errors=True)
            self.backup = None


@contextlib.contextmanager
def _said_once(sandboxed: bool):
    """The judge warns about ``--no-sandbox`` for every submission; a batch says it once."""
    from grader.judge.preprocessor import NO_SANDBOX_WARNING

    logger = logging.getLogger("grader.judge.preprocessor")
    seen = []

    def drop(record) -> bool:
        if record.getMessage() != NO_SANDBOX_WARNING:
            return True
        seen.append(record)
        return len(seen) == 1
    if not sandboxed:
        logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


@contextlib.contextmanager
def _sandbox_setting(sandboxed: bool):
    """``--no-sandbox`` reaches nbgrader's preprocessor through the environment."""
    saved = os.environ.get("COURSE_NO_SANDBOX")
    if not sandboxed:
        os.environ["COURSE_NO_SANDBOX"] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("COURSE_NO_SANDBOX", None)
        else:
            os.environ["COURSE_NO_SANDBOX"] = saved


def _judged_in_parallel(api, assignment, located, workers, scheduler, sandboxed):
    """Yield the students in the order their notebooks have been judged.

    Sequential (``workers`` 1, no scheduler): every student at once, judged inside nbgrader.
    Otherwise each prepared notebook goes to a worker, its outputs are kept in
    ``batch.PRECOMPUTED`` and the student is yielded when they are back; a notebook that
    cannot be prepared (not valid, say) is yielded last and handled by nbgrader as usual.
    """
    if workers <= 1 and not scheduler:
        yield from located
        return
    from grader.judge import batch

    timeout = float(api.config.JudgeExecute.get("timeout", 60))
    exported = tuple(sorted(exported_names(notebooks.read(SOLUTIONS_DIR / assignment / f"{assignment}.ipynb"))))
    executor = batch.DaskExecutor(scheduler) if scheduler else batch.local_executor(workers)
    unprepared, pending = [], {}
    try:
        for student, (path, _) in located.items():
            nb = _sanitized(api, assignment, student, path) if path is not None else None
            if nb is None:
                unprepared.append(student)
                continue
            job = batch.JudgeJob(student, nbformat.writes(nb), exported, timeout, sandboxed)
            pending[executor.submit(batch.judge_job, job)] = student
        completed = (executor.as_completed(pending) if scheduler else futures.as_completed(pending))
        for future in completed:
            student = pending[future]
            try:
                result = future.result()
            except Exception:  # the worker failed: nbgrader's own run judges this one
                yield student
                continue
            batch.PRECOMPUTED[student, result["fingerprint"]] = result
            yield student
        yield from unprepared
    finally:
        if scheduler:
            executor.shutdown(wait=True)  # the local pool stays for later batches of this process


def _sanitized(api, assignment: str, student: str, path: pathlib.Path):
    """The notebook as nbgrader's autograde will judge it (its own sanitizing steps)."""
    from nbgrader.preprocessors import (CheckCellMetadata, ClearOutput, DeduplicateIds,
                                        OverwriteCells, OverwriteKernelspec)

    resources = {"nbgrader": {"assignment": assignment, "notebook": path.stem, "student": student,
                              "db_url": api.coursedir.db_url}}
    try:
        nb = notebooks.read(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for step in (ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadata):
                nb, resources = step(config=api.config).preprocess(nb, resources)
    except Exception:
        return None
    return nb


def _grade_one(api, root: pathlib.Path, assignment: str, student: str, max_score: float, located) -> Outcome:
    path, note = located
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
        if not _looks_like(path, assignment):
            reason = (f"this is not the {assignment} notebook: it has none of the assignment's "
                      f"graded cells (another assignment's notebook?); {reason}")
        return _from_gradebook(api, assignment, student, max_score, "failed", reason)
    autograded = root / "autograded" / student / assignment / f"{assignment}.ipynb"
    reason = "; ".join(r for r in (note, _judge_note(autograded)) if r)
    return _from_gradebook(api, assignment, student, max_score, "graded", reason)


def _late_note(api, assignment: str, student: str) -> str:
    """How late the submission was and its penalty (nbgrader's AssignLatePenalties), if late."""
    with warnings.catch_warnings(), api.gradebook as gb:
        warnings.simplefilter("ignore")
        try:
            sub = gb.find_submission(assignment, student)
        except Exception:
            return ""
        late, penalty = float(sub.total_seconds_late), float(sub.late_submission_penalty or 0.0)
    if late <= 0:
        return ""
    return f"late by {late / 3600:.1f} h: penalty {penalty:g} points"


def _looks_like(path: pathlib.Path, assignment: str) -> bool:
    """Whether the submission shares at least one graded cell with the assignment."""
    try:
        theirs = notebooks.graded_cells(notebooks.read(path))
        ours = notebooks.graded_cells(notebooks.read(SOLUTIONS_DIR / assignment / f"{assignment}.ipynb"))
    except (ValueError, OSError):
        return True
    return bool(set(theirs) & set(ours))


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


def _record(root: pathlib.Path, assignment: str, outcome: Outcome, sha256, event: str,
            previous_score: float | None) -> None:
    """Append the grading to the history (invalid and missing submissions have nothing to regrade)."""
    history.append_history(history.history_path(root, assignment), outcome,
                           sha256 if outcome.status == "graded" else None, event, previous_score)


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
