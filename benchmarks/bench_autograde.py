"""Plain nbgrader against the trusted judge, on the same batch of submissions.

    .venv/bin/python benchmarks/bench_autograde.py [--assignment activations] [--students 24] [--workers N]

Builds one batch (correct submissions, the wrong submissions of ``tests/mistakes/``, one that
hangs and one that crashes its kernel), grades it twice in the same process, each time in a
fresh course with nbgrader's gradebook:

* **plain nbgrader**: nbgrader's own ``Execute`` preprocessor (every cell, hidden tests
  included, runs in the student's kernel), one submission after another, as
  ``nbgrader autograde`` does without the judge;
* **the judge**: ``python -m grader autograde``'s code path, student code sandboxed, test
  cells in trusted worker processes, ``--workers`` submissions at once.

It prints whether the scores agree (per submission, with the expected difference: a crash
costs plain nbgrader the whole notebook and the judge only the crashed part), the throughput
ratio, and where the judge's time goes: the per-submission overhead beside the time the
student's own code runs.
"""

from __future__ import annotations

import argparse
import importlib
import pathlib
import sys
import tempfile
import time
import warnings

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
from grader import notebooks  # noqa: E402
from grader.autograde import autograde_batch  # noqa: E402
from grader.course import SOLUTIONS_DIR, course_environment, load_config  # noqa: E402
from grader.judge.batch import default_workers  # noqa: E402
from grader.release import release_all  # noqa: E402

PLAIN_PIPELINE_STEP = "nbgrader.preprocessors.Execute"
HANG = "import time\ntime.sleep(3600)"
CRASH = "import os\nos._exit(1)"


def build_batch(name: str, students: int) -> dict:
    source = notebooks.read(SOLUTIONS_DIR / name / f"{name}.ipynb")
    wrong = importlib.import_module(f"mistakes.{name}").WRONG
    first_solution = next(notebooks.grade_id(c) for c in source.cells
                          if c.get("metadata", {}).get("nbgrader", {}).get("solution") and c.cell_type == "code")
    batch = {"hangs": notebooks.with_answers(source, {first_solution: HANG}),
             "crashes": notebooks.with_answers(source, {first_solution: CRASH})}
    for i, mistake in enumerate(wrong[: max(0, students // 2)]):
        batch[f"wrong{i:02d}"] = notebooks.with_answers(source, mistake.answers)
    i = 0
    while len(batch) < students:
        batch[f"correct{i:02d}"] = notebooks.with_answers(source)
        i += 1
    return batch


def grade(name: str, batch: dict, *, plain: bool, workers: int, timeout: str) -> tuple[dict, float]:
    import os

    os.environ["COURSE_CELL_TIMEOUT"] = timeout
    with tempfile.TemporaryDirectory() as tmp, course_environment(tmp, f"sqlite:///{tmp}/gradebook.db"):
        from nbgrader.apps import NbGraderAPI

        config = load_config()
        if plain:
            steps = list(config.Autograde.autograde_preprocessors)
            steps[0] = PLAIN_PIPELINE_STEP
            config.Autograde.autograde_preprocessors = steps
            config.Execute.timeout = int(timeout)
            config.Execute.interrupt_on_timeout = True
        api = NbGraderAPI(config=config)
        release_all(api, [name])
        for student, nb in batch.items():
            notebooks.write(nb, pathlib.Path(tmp) / "submitted" / student / name / f"{name}.ipynb")
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            outcomes = autograde_batch(api, name, progress=False, workers=1 if plain else workers)
        seconds = time.perf_counter() - start
    return {o.student_id: o.score for o in outcomes}, seconds


def student_code_seconds(name: str, batch: dict) -> float:
    """How long the students' own cells take, run once each in one plain kernel."""
    from nbclient import NotebookClient

    total = 0.0
    for student, nb in batch.items():
        if student in ("hangs", "crashes"):
            continue
        only_student = notebooks.new_notebook([c for c in nb.cells if c.cell_type == "code"
                                               and not c.get("metadata", {}).get("nbgrader", {}).get("grade")])
        start = time.perf_counter()
        NotebookClient(only_student, kernel_name="python3", allow_errors=True).execute()
        total += time.perf_counter() - start
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--assignment", default="activations")
    parser.add_argument("--students", type=int, default=24)
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--timeout", default="10", help="per-cell time limit, seconds")
    args = parser.parse_args()
    name = args.assignment
    batch = build_batch(name, args.students)
    plain_scores, plain_seconds = grade(name, batch, plain=True, workers=1, timeout=args.timeout)
    judge_scores, judge_seconds = grade(name, batch, plain=False, workers=args.workers, timeout=args.timeout)
    own = student_code_seconds(name, batch)

    disagree = {s for s in batch if plain_scores[s] != judge_scores[s]}
    print(f"assignment {name}: {len(batch)} submissions "
          f"({sum(s.startswith('correct') for s in batch)} correct, {sum(s.startswith('wrong') for s in batch)} wrong, "
          f"1 hanging, 1 crashing), cell time limit {args.timeout} s")
    print(f"{'student':12s} {'plain nbgrader':>15s} {'judge':>8s}")
    for student in batch:
        mark = "" if student not in disagree else "   <- differs"
        print(f"{student:12s} {plain_scores[student]:15.2f} {judge_scores[student]:8.2f}{mark}")
    expected = {"crashes"} & disagree
    print(f"scores agree on {len(batch) - len(disagree)} of {len(batch)} submissions"
          + (f"; expected difference: {', '.join(sorted(expected))} (plain nbgrader gives a crashed "
             "kernel 0 for the whole notebook, the judge loses only the crashed part)" if expected else ""))
    unexpected = disagree - expected
    if unexpected:
        print(f"UNEXPECTED differences: {', '.join(sorted(unexpected))}")
    n = len(batch)
    print(f"plain nbgrader, one at a time:   {plain_seconds:7.1f} s  ({plain_seconds / n:5.2f} s per submission)")
    print(f"judge, {args.workers} worker(s):              {judge_seconds:7.1f} s  ({judge_seconds / n:5.2f} s per submission)")
    print(f"throughput ratio (judge / plain): {plain_seconds / judge_seconds:.1f}x")
    graded = n - 2
    print(f"students' own code, run alone:   {own / graded:5.2f} s per submission; judge overhead per "
          f"submission (time per submission x workers - own code): "
          f"{judge_seconds * args.workers / n - own / graded:5.2f} s")


if __name__ == "__main__":
    main()
