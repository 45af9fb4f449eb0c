"""Command line of the grader: ``python -m grader <command>``.

  release   [ASSIGNMENT ...]         student versions of the assignments (all by default)
  deadline  ASSIGNMENT [WHEN]        set or show a due date (late submissions are penalized)
  roster    FILE                     import the students (CSV from the LMS)
  autograde ASSIGNMENT [SUBMISSIONS] grade a folder in nbgrader's layout or an LMS .zip
                                     (--workers N, --scheduler ADDRESS, --no-sandbox)
  feedback  ASSIGNMENT               HTML feedback without hidden tests
  export    [--output FILE]          every grade to CSV, per submission and per part
            --lms canvas|moodle --assignment NAME   the LMS's grade-import file
  mutants   [ASSIGNMENT ...]         mutation testing of the hidden tests (all by default;
                                     --sample N, --part ID, --survivors,
                                     --workers N, --timeout S); uses throw-away courses

Each wraps nbgrader, configured by ``grader/nbgrader_config.py``. One command at a time
writes a course: the others wait for it (``--wait SECONDS`` to give up), naming it.
``release`` creates the course folder, and so does ``autograde`` given submissions to
import; the other commands need an existing one.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys

from grader.course import (GRADER_DIR, GradingError, assignment_names, check_assignment, course_environment,
                           course_root, load_config)
from grader.judge.stop import sigint_handler


def _api():
    from nbgrader.apps import NbGraderAPI

    return NbGraderAPI(config=load_config())


def cmd_release(args) -> None:
    from grader.release import release_all

    names = [check_assignment(n) for n in args.assignments] or None
    copy_to = pathlib.Path(args.copy_to) if args.copy_to else None
    for path in release_all(_api(), names, copy_to):
        print(f"released {path}")


def cmd_autograde(args) -> None:
    from grader import submissions
    from grader.autograde import BatchInterrupted, autograde_batch, submitted_students
    from grader.judge.batch import default_workers

    assignment = check_assignment(args.assignment)
    sandboxed = not args.no_sandbox
    if sandboxed:
        from grader.judge.sandbox import SandboxUnavailable, check_available

        try:
            check_available()
        except SandboxUnavailable as err:
            raise GradingError(f"{err}") from None
    else:
        from grader.judge.preprocessor import NO_SANDBOX_WARNING

        print(NO_SANDBOX_WARNING, file=sys.stderr)
    api = _api()
    root = course_root(api.config)
    submitted = root / "submitted"
    _ensure_released(api, assignment)
    if args.submissions:
        source = pathlib.Path(args.submissions)
        if source.suffix.lower() == ".zip":
            imported = submissions.import_zip(source, assignment, submitted, args.student_pattern,
                                              timezone=_timezone(api))
        else:
            imported = submissions.import_folder(source, assignment, submitted)
        for item in imported:
            print(f"imported {item.student}: {item.source}" + (f" ({item.note})" if item.note else ""))
    students = [item.student for item in imported] if args.submissions else None
    _check_roster(root, students if students is not None else submitted_students(api, assignment),
                  args.allow_unknown)
    try:
        outcomes = autograde_batch(api, assignment, students, force=args.force,
                                   progress=not args.no_progress, workers=args.workers or default_workers(),
                                   scheduler=args.scheduler, sandboxed=sandboxed)
    except BatchInterrupted as stop:
        print(f"\ninterrupted: {_interruption_summary(stop)}", file=sys.stderr)
        _print_outcomes(stop.done)
        raise
    if not outcomes:
        raise GradingError(f"no submissions of {assignment} in {submitted}")
    _print_outcomes(outcomes)
    pending = _awaiting_hand_grading(api, assignment, [o.student_id for o in outcomes if o.status == "graded"])
    if pending:
        print(f"awaiting hand grading (in the formgrader): "
              + ", ".join(f"{s} ({p:g} points)" for s, p in pending.items()))
    print(f"report: {root / 'reports' / (assignment + '.csv')}")


def _awaiting_hand_grading(api, assignment: str, students) -> dict[str, float]:
    """Points of each student's answers that still need a hand grade."""
    import warnings

    pending = {}
    with warnings.catch_warnings(), api.gradebook as gb:
        warnings.simplefilter("ignore")
        for sub in gb.find_assignment(assignment).submissions:
            if sub.student.id in students:
                points = sum(float(g.max_score) for nb in sub.notebooks for g in nb.grades
                             if g.needs_manual_grade)
                if points:
                    pending[sub.student.id] = points
    return dict(sorted(pending.items()))


def _interruption_summary(stop) -> str:
    graded = [o.student_id for o in stop.done]
    parts = [f"{len(graded)} graded ({', '.join(graded) or 'none'}), kept"]
    if stop.stopped:
        parts.append(f"{stop.stopped} was being graded and is left as before this run (not graded, not failed)")
    if stop.not_started:
        parts.append(f"not started: {', '.join(stop.not_started)}")
    return "; ".join(parts) + ". Run the same command again to grade the rest."


def _print_outcomes(outcomes) -> None:
    if not outcomes:
        return
    width = max(len(o.student_id) for o in outcomes)
    for o in outcomes:
        print(f"{o.student_id:<{width}}  {o.score:6.2f} / {o.max_score:g}  {o.status:8s} {o.reason}")


def _check_roster(root: pathlib.Path, students: list[str], allow_unknown: bool) -> None:
    """Refuse (or, with ``--allow-unknown``, warn about) students who are not on the roster."""
    from grader import roster

    known = roster.load(root)
    if known is None:
        print("note: no roster imported, so student ids are not checked "
              "(python -m grader roster FILE)", file=sys.stderr)
        return
    unknown = sorted(set(students) - set(known))
    if not unknown:
        return
    listed = ", ".join(unknown)
    if not allow_unknown:
        raise GradingError(
            f"not on the roster: {listed}. Nothing was graded; their notebooks are in "
            f"{root / 'submitted'}. Import the full roster (python -m grader roster FILE), remove "
            f"them, or pass --allow-unknown to grade them anyway")
    print(f"warning: not on the roster, graded anyway (--allow-unknown): {listed}", file=sys.stderr)


def cmd_roster(args) -> None:
    from grader import roster

    api = _api()
    root = course_root(api.config)
    students, problems = roster.parse(pathlib.Path(args.file), args.id_column)
    for problem in problems:
        print(f"warning: {args.file}: {problem}", file=sys.stderr)
    roster.save(root, students, api)
    missing = sorted(roster.graded_students(api) - {s["id"] for s in students})
    if missing:
        print(f"warning: graded but not on the roster: {', '.join(missing)}", file=sys.stderr)
    print(f"roster: {len(students)} students ({root / roster.ROSTER_NAME})")


def _ensure_released(api, assignment: str) -> None:
    if not (course_root(api.config) / "release" / assignment).exists():
        from grader.release import release_all

        release_all(api, [assignment])  # the gradebook needs the assignment's cells


def _timezone(api) -> str:
    return api.config.Exchange.get("timezone", "UTC")


def cmd_deadline(args) -> None:
    from grader.late import parse_time

    assignment = check_assignment(args.assignment)
    api = _api()
    _ensure_released(api, assignment)
    with api.gradebook as gb:
        if args.clear:
            gb.update_or_create_assignment(assignment, duedate=None)
        elif args.when:
            gb.update_or_create_assignment(assignment, duedate=parse_time(args.when, _timezone(api)))
        due = gb.find_assignment(assignment).duedate
    print(f"{assignment} is due {due:%Y-%m-%d %H:%M} UTC" if due else f"{assignment} has no due date")


def cmd_feedback(args) -> None:
    from grader.feedback import generate_feedback

    for path in generate_feedback(_api(), check_assignment(args.assignment), args.student or None):
        print(f"feedback {path}")


def cmd_export(args) -> None:
    from grader.export import export_grades, export_lms, parts_path

    api = _api()
    root = course_root(api.config)
    if args.lms:
        if not args.assignment:
            raise GradingError(f"--lms {args.lms} needs --assignment NAME (one grade column)")
        assignment = check_assignment(args.assignment)
        output = pathlib.Path(args.output or root / f"{assignment}_{args.lms}.csv")
        for problem in export_lms(api, args.lms, assignment, output, args.column):
            print(f"warning: {problem}", file=sys.stderr)
        print(f"wrote {output} (for {args.lms.capitalize()}'s grade import)")
        return
    output = pathlib.Path(args.output or root / "grades.csv")
    count = export_grades(api, output)
    print(f"wrote {count} rows to {output}, and the grade of every part to {parts_path(output)}")


def cmd_mutants(args) -> None:
    import json

    from grader import notebooks
    from grader.judge.batch import default_workers
    from grader.course import REPO_ROOT, SOLUTIONS_DIR
    from grader.mutation.generate import assignment_mutants
    from grader.mutation.run import run_mutants, select

    failed = []
    for name in [check_assignment(n) for n in args.assignments] or assignment_names():
        every = assignment_mutants(notebooks.read(SOLUTIONS_DIR / name / f"{name}.ipynb"))
        last_run = REPO_ROOT / "_build" / "mutants" / f"{name}-survivors.json"
        chosen = every
        if args.survivors:
            if not last_run.exists():
                raise GradingError(f"--survivors: no earlier run of {name} recorded in {last_run}")
            keep = {tuple(k) for k in json.loads(last_run.read_text())}
            chosen = [m for m in every if m.key in keep]
        if args.part:
            chosen = [m for m in chosen if m.part in args.part]
        chosen = select(chosen, args.sample, args.seed)
        print(f"{name}: grading {len(chosen)} of {len(every)} mutants", flush=True)
        report = run_mutants(name, mutants=chosen, workers=args.workers or default_workers(), timeout=args.timeout,
                             progress=not args.no_progress)
        print(report.table(), flush=True)
        # Survivors of this run, plus earlier survivors among the mutants not graded this time.
        graded = {m.key for m in chosen}
        earlier = [tuple(k) for k in json.loads(last_run.read_text())] if last_run.exists() else []
        still = [k for k in earlier if k not in graded and k in {m.key for m in every}]
        last_run.parent.mkdir(parents=True, exist_ok=True)
        last_run.write_text(json.dumps(still + [m.key for m in report.survived + report.equivalent], indent=1))
        if not report.passed(args.required):
            failed.append(name)
    if failed:
        raise GradingError(f"below {args.required:g}% or with stale equivalent mutants: {', '.join(failed)}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m grader", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--course-dir", help="course data folder (default grader/course)")
    parser.add_argument("--db-url", help="SQLAlchemy URL of the gradebook (default SQLite)")
    parser.add_argument("--wait", type=float, metavar="SECONDS",
                        help="while another command uses the course, wait at most this long "
                             "(default: until it finishes)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("release", help="generate the student versions")
    p.add_argument("assignments", nargs="*")
    p.add_argument("--copy-to", help="also copy the student notebooks into this folder")
    p.set_defaults(run=cmd_release)

    p = sub.add_parser("deadline", help="set or show an assignment's due date (late penalties)")
    p.add_argument("assignment")
    p.add_argument("when", nargs="?", help="e.g. '2026-03-01 23:59' (course time zone) or "
                                           "'2026-03-01T23:59+01:00'; omitted: show it")
    p.add_argument("--clear", action="store_true", help="remove the due date")
    p.set_defaults(run=cmd_deadline)

    p = sub.add_parser("roster", help="import the students from an LMS's CSV export")
    p.add_argument("file", help="Canvas gradebook export, Moodle grading worksheet, or a CSV "
                                "with id, first_name, last_name, email")
    p.add_argument("--id-column", help="the column holding the student ids")
    p.set_defaults(run=cmd_roster)

    p = sub.add_parser("autograde", help="grade a batch of submissions")
    p.add_argument("assignment")
    p.add_argument("submissions", nargs="?",
                   help="folder <student>/<assignment>/*.ipynb or an LMS .zip (default: "
                        "what is already in the course's submitted/ folder)")
    p.add_argument("--student-pattern", help="regex with a (?P<student>...) group, for zips")
    p.add_argument("--force", action="store_true", help="regrade students already graded")
    p.add_argument("--allow-unknown", action="store_true",
                   help="grade students who are not on the roster (with a warning)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--workers", type=int,
                   help="submissions judged at once (default: one per core)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="judge on a Dask distributed cluster (e.g. tcp://host:8786)")
    p.add_argument("--no-sandbox", action="store_true",
                   help="run student code WITHOUT the sandbox (unsafe; recorded in the report)")
    p.set_defaults(run=cmd_autograde)

    p = sub.add_parser("feedback", help="HTML feedback for graded students")
    p.add_argument("assignment")
    p.add_argument("--student", action="append", help="only this student (repeatable)")
    p.set_defaults(run=cmd_feedback)

    p = sub.add_parser("export", help="all grades to CSV")
    p.add_argument("--output", help="CSV path (default <course>/grades.csv, or "
                                    "<course>/<assignment>_<lms>.csv with --lms)")
    p.add_argument("--lms", choices=("canvas", "moodle"),
                   help="write the grade-import file of this LMS instead (final scores)")
    p.add_argument("--assignment", help="the assignment to export with --lms")
    p.add_argument("--column", help="Canvas: the assignment's column header, e.g. 'Activations (4312)'")
    p.set_defaults(run=cmd_export)

    p = sub.add_parser("mutants", help="mutation testing of the hidden tests")
    p.add_argument("assignments", nargs="*")
    p.add_argument("--sample", type=int, help="grade a seeded random sample of N mutants")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample")
    p.add_argument("--part", action="append", help="only the mutants of this solution cell (repeatable)")
    p.add_argument("--survivors", action="store_true",
                   help="only the mutants that survived the last run (kept in _build/mutants/)")
    p.add_argument("--workers", type=int, help="mutants judged at once (default: one per core)")
    p.add_argument("--timeout", type=float, default=20.0, help="seconds per cell (default 20)")
    p.add_argument("--required", type=float, default=95.0, help="required score in percent")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=cmd_mutants)
    return parser


def _course_dir(args) -> pathlib.Path:
    """The course folder the command works on, checked (or created by the commands that create it)."""
    root = pathlib.Path(args.course_dir or os.environ.get("COURSE_ROOT") or GRADER_DIR / "course")
    if root.exists() and not root.is_dir():
        raise GradingError(f"the course folder {root} is a file, not a folder (check --course-dir)")
    creates = args.command in ("release", "deadline", "roster") or (args.command == "autograde" and args.submissions)
    if not root.exists():
        if not creates:
            raise GradingError(
                f"the course folder {root} does not exist (check --course-dir); `release`, or "
                f"`autograde ASSIGNMENT SUBMISSIONS` with submissions to import, creates it")
        root.mkdir(parents=True)
    if args.command in ("feedback", "export") and not (args.db_url or os.environ.get("COURSE_DB_URL")) \
            and not (root / "gradebook.db").exists():
        raise GradingError(f"{root} holds no gradebook: nothing has been graded there (check --course-dir)")
    return root.resolve()


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    pressed = []  # nbgrader's API catches a KeyboardInterrupt and reports a failed step instead

    def on_ctrl_c(signum, frame):
        pressed.append(signum)
        raise KeyboardInterrupt

    with sigint_handler(on_ctrl_c):
        return _run(args, argv, pressed)


def _run(args, argv, pressed: list) -> int:
    from grader.lock import course_lock

    try:
        if args.command == "mutants":  # grades in throw-away courses of its own: no course, no lock
            args.run(args)
            return 0
        root = _course_dir(args)
        with course_environment(root, args.db_url):
            command = " ".join(["python -m grader", *(argv if argv is not None else sys.argv[1:])])
            with course_lock(root, command, wait=args.wait):
                args.run(args)
    except KeyboardInterrupt as stop:
        if not stop.args:  # a batch says what it had done (BatchInterrupted)
            print("interrupted", file=sys.stderr)
        return 130
    except (GradingError, OSError, _database_errors()) as err:  # a path or gradebook the instructor gave
        if pressed:  # nbgrader turned the KeyboardInterrupt into a failure of its step
            print("interrupted", file=sys.stderr)
            return 130
        print(f"error: {err}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as err:
        url = args.db_url or os.environ.get("COURSE_DB_URL")
        if not url:
            raise
        print(f"error: the gradebook URL {url} needs a database driver that is not installed "
              f"({err})", file=sys.stderr)
        return 2
    return 0


def _database_errors():
    from sqlalchemy.exc import SQLAlchemyError

    return SQLAlchemyError
