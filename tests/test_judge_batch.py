"""Judging in parallel gives the grades of judging one by one: local workers and Dask.

A small batch of the activations assignment (the model solution, the release, wrong
submissions, one that crashes its kernel) is graded three times, each in its own course: one
submission at a time inside nbgrader, by two local worker processes, and on a Dask
``LocalCluster`` through ``--scheduler``. Every cell's score must be the same.
"""

from __future__ import annotations

import importlib
import warnings

import pytest

from grader import notebooks
from grader.autograde import autograde_batch
from grader.course import SOLUTIONS_DIR, course_environment, load_config
from grader.release import release_all

ASSIGNMENT = "activations"


def _batch():
    source = notebooks.read(SOLUTIONS_DIR / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    wrong = importlib.import_module(f"mistakes.{ASSIGNMENT}").WRONG
    batch = {"solution": notebooks.with_answers(source),
             "crashes": notebooks.with_answers(source, {"swish": "import os\nos._exit(1)"})}
    batch.update({f"wrong{i}": notebooks.with_answers(source, w.answers) for i, w in enumerate(wrong[:3])})
    return batch


def _grade(root, batch, **how) -> dict:
    """Scores per (student, cell); with workers, also checks that the workers judged them all."""
    from grader.judge import batch as judge_batch

    judge_batch.USED_FROM_WORKERS.clear()
    with course_environment(root, db_url=f"sqlite:///{root}/gradebook.db"):
        from nbgrader.apps import NbGraderAPI

        api = NbGraderAPI(config=load_config())
        (release,) = release_all(api, [ASSIGNMENT])
        batch = dict(batch, release=notebooks.read(release))
        for student, nb in batch.items():
            notebooks.write(nb, root / "submitted" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            autograde_batch(api, ASSIGNMENT, progress=False, **how)
            if how.get("workers", 1) > 1 or how.get("scheduler"):
                assert sorted(judge_batch.USED_FROM_WORKERS) == sorted(batch), "not judged by the workers"
            with api.gradebook as gb:
                cells = [c.name for c in gb.find_notebook(ASSIGNMENT, ASSIGNMENT).grade_cells if c.cell_type == "code"]
                return {(s, c): float(gb.find_grade(c, ASSIGNMENT, ASSIGNMENT, s).score)
                        for s in batch for c in cells}


@pytest.fixture(scope="module")
def sequential(tmp_path_factory):
    return _grade(tmp_path_factory.mktemp("sequential"), _batch(), workers=1)


def test_local_workers_grade_as_one_at_a_time(tmp_path, sequential):
    assert sequential[("solution", "test_log_sigmoid")] == 2.0 and sequential[("release", "test_log_sigmoid")] == 0.0
    assert _grade(tmp_path, _batch(), workers=2) == sequential


def test_a_dask_cluster_grades_as_one_at_a_time(tmp_path, sequential):
    distributed = pytest.importorskip("distributed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None, silence_logs=50)
    try:
        assert _grade(tmp_path, _batch(), scheduler=cluster.scheduler_address) == sequential
    finally:
        cluster.close()


def test_workers_of_a_killed_grader_exit():
    """A grader killed outright (SIGKILL, out of memory) leaves no pool worker waiting for work."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import psutil

    from grader.course import REPO_ROOT

    code = ("import os, signal\nfrom grader.judge.batch import local_executor\n"
            "pid = local_executor(1).submit(os.getpid).result()\n"
            "print(pid, flush=True)\nos.kill(os.getpid(), signal.SIGKILL)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)))  # an orphan holds the pipes
    assert done.returncode == -signal.SIGKILL, done.stderr
    worker = int(done.stdout.split()[0])
    deadline = time.monotonic() + 10
    while psutil.pid_exists(worker) and psutil.Process(worker).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the pool worker outlived its grader"
        time.sleep(0.2)
