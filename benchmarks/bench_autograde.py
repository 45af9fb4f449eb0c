"""How long the grader takes to autograde a batch of submissions.

    .venv/bin/python benchmarks/bench_autograde.py [--assignment activations] [--students 8]

Builds a batch of correct submissions in a temporary course, grades it with the same code as
``python -m grader autograde``, and prints the total, the time per submission, and the ratio
to the baseline measured in the same process: executing the completed notebook once with
nbclient, without nbgrader (what grading cannot go below).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import nbformat  # noqa: E402
from nbclient import NotebookClient  # noqa: E402

from grader import notebooks  # noqa: E402
from grader.autograde import autograde_batch  # noqa: E402
from grader.course import SOLUTIONS_DIR, course_environment, load_config  # noqa: E402
from grader.release import release_all  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--assignment", default="activations")
    parser.add_argument("--students", type=int, default=8)
    args = parser.parse_args()
    name = args.assignment
    source = notebooks.read(SOLUTIONS_DIR / name / f"{name}.ipynb")

    # Baseline: one plain execution of a completed notebook (hidden tests included).
    full = nbformat.from_dict(source)
    for cell in full.cells:
        cell.source = notebooks.solution_text(cell.source)
    start = time.perf_counter()
    NotebookClient(full, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(SOLUTIONS_DIR / name)}}).execute()
    baseline = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as tmp, course_environment(tmp, f"sqlite:///{tmp}/gradebook.db"):
        from nbgrader.apps import NbGraderAPI

        api = NbGraderAPI(config=load_config())
        release_all(api, [name])
        for i in range(args.students):
            notebooks.write(notebooks.with_answers(source),
                            pathlib.Path(tmp) / "submitted" / f"student{i:03d}" / name / f"{name}.ipynb")
        start = time.perf_counter()
        outcomes = autograde_batch(api, name, progress=False)
        total = time.perf_counter() - start

    graded = sum(o.status == "graded" for o in outcomes)
    per = total / len(outcomes)
    print(f"assignment {name}: {graded}/{len(outcomes)} submissions graded")
    print(f"plain execution of one notebook (baseline): {baseline:6.1f} s")
    print(f"autograding the batch:                       {total:6.1f} s")
    print(f"per submission:                              {per:6.1f} s  ({per / baseline:.2f} x baseline)")


if __name__ == "__main__":
    main()
