"""Command line of the grader: ``python -m grader <command>``.

  release   [ASSIGNMENT ...]         student versions of the assignments (all by default)
  autograde ASSIGNMENT [SUBMISSIONS] grade a folder in nbgrader's layout or an LMS .zip
                                     (--workers N, --scheduler ADDRESS, --no-sandbox)
  feedback  ASSIGNMENT               HTML feedback without hidden tests
  export    [--output FILE]          every grade to CSV
  mutants   [ASSIGNMENT ...]         mutation testing of the hidden tests (all by default;
                                     --sample N, --part ID, --survivors,
                                     --workers N, --timeout S)

Each wraps nbgrader, configured by ``grader/nbgrader_config.py``.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

from grader.judge.batch import default_workers
from grader.course import GradingError, assignment_names, check_assignment, course_environment, course_root, load_config


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
    from grader.autograde import autograde_batch

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
    if not (root / "release" / assignment).exists():
        from grader.release import release_all

        release_all(api, [assignment])  # the gradebook needs the assignment's cells
    if args.submissions:
        source = pathlib.Path(args.submissions)
        if source.suffix.lower() == ".zip":
            imported = submissions.import_zip(source, assignment, submitted, args.student_pattern)
        else:
            imported = submissions.import_folder(source, assignment, submitted)
        for item in imported:
            print(f"imported {item.student}: {item.source}" + (f" ({item.note})" if item.note else ""))
    students = [item.student for item in imported] if args.submissions else None
    outcomes = autograde_batch(api, assignment, students, force=args.force,
                               progress=not args.no_progress, workers=args.workers,
                               scheduler=args.scheduler, sandboxed=sandboxed)
    if not outcomes:
        raise GradingError(f"no submissions of {assignment} in {submitted}")
    width = max(len(o.student_id) for o in outcomes)
    for o in outcomes:
        print(f"{o.student_id:<{width}}  {o.score:6.2f} / {o.max_score:g}  {o.status:8s} {o.reason}")
    print(f"report: {root / 'reports' / (assignment + '.csv')}")


def cmd_feedback(args) -> None:
    from grader.feedback import generate_feedback

    for path in generate_feedback(_api(), check_assignment(args.assignment), args.student or None):
        print(f"feedback {path}")


def cmd_export(args) -> None:
    from grader.export import export_grades

    api = _api()
    output = pathlib.Path(args.output or course_root(api.config) / "grades.csv")
    count = export_grades(api, output)
    print(f"wrote {count} rows to {output}")


def cmd_mutants(args) -> None:
    import json

    from grader import notebooks
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
        report = run_mutants(name, mutants=chosen, workers=args.workers, timeout=args.timeout,
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
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("release", help="generate the student versions")
    p.add_argument("assignments", nargs="*")
    p.add_argument("--copy-to", help="also copy the student notebooks into this folder")
    p.set_defaults(run=cmd_release)

    p = sub.add_parser("autograde", help="grade a batch of submissions")
    p.add_argument("assignment")
    p.add_argument("submissions", nargs="?",
                   help="folder <student>/<assignment>/*.ipynb or an LMS .zip (default: "
                        "what is already in the course's submitted/ folder)")
    p.add_argument("--student-pattern", help="regex with a (?P<student>...) group, for zips")
    p.add_argument("--force", action="store_true", help="regrade students already graded")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--workers", type=int, default=default_workers(),
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
    p.add_argument("--output", help="CSV path (default <course>/grades.csv)")
    p.set_defaults(run=cmd_export)

    p = sub.add_parser("mutants", help="mutation testing of the hidden tests")
    p.add_argument("assignments", nargs="*")
    p.add_argument("--sample", type=int, help="grade a seeded random sample of N mutants")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample")
    p.add_argument("--part", action="append", help="only the mutants of this solution cell (repeatable)")
    p.add_argument("--survivors", action="store_true",
                   help="only the mutants that survived the last run (kept in _build/mutants/)")
    p.add_argument("--workers", type=int, default=default_workers())
    p.add_argument("--timeout", type=float, default=20.0, help="seconds per cell (default 20)")
    p.add_argument("--required", type=float, default=95.0, help="required score in percent")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=cmd_mutants)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with course_environment(args.course_dir, args.db_url):
            args.run(args)
    except GradingError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
