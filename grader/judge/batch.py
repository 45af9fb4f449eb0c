"""Judging many submissions at once: worker processes (or a Dask cluster) judge, the
coordinator alone writes the gradebook.

The coordinator prepares each submission as nbgrader will see it (nbgrader's own sanitizing
steps: outputs cleared, the instructor's locked and test cells restored), sends it to a worker,
and gets back the cells' outputs as data. It then runs nbgrader's autograde for that student;
``JudgeExecute`` finds the outputs already computed for exactly these cells (by fingerprint)
and uses them instead of running the notebook again. A submission whose preparation fails is
simply judged inside nbgrader's autograde, one at a time, as plain ``nbgrader autograde`` does.

Workers are long-lived: each imports PyTorch once and keeps one sandboxed kernel started ahead
of the next submission (a warm pool of one per worker).
"""

from __future__ import annotations

import atexit
import concurrent.futures as futures
import hashlib
import json
import multiprocessing
import os
import queue
import signal
import threading
import time
from dataclasses import dataclass

import nbformat

from grader.judge import sandbox
from grader.judge.judge import Judge

#: (student, fingerprint) -> outputs computed by a worker, consumed by ``JudgeExecute``.
PRECOMPUTED: dict[tuple, dict] = {}
#: Students whose grade came from a worker's outputs, in this process (for tests and reports).
USED_FROM_WORKERS: list[str] = []


def fingerprint(nb) -> str:
    """What the judge's result depends on: every code cell's source and nbgrader role."""
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        cells.append([cell.source, bool(meta.get("grade")), bool(meta.get("solution")), bool(meta.get("locked"))])
    return hashlib.sha256(json.dumps(cells).encode()).hexdigest()


@dataclass(frozen=True)
class JudgeJob:
    student: str
    notebook_json: str
    exported: tuple
    timeout: float
    use_bwrap: bool


def apply_outputs(nb, result: dict) -> None:
    """Put a worker's outputs (per code cell, in order) into ``nb``."""
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    for cell, (outputs, count) in zip(code_cells, result["cells"]):
        cell.outputs = [nbformat.from_dict(o) for o in outputs]
        cell.execution_count = count


# ------------------------------------------------------------------------- workers

class _WarmKernels:
    """One kernel started ahead, in the background, for the next submission of this worker.

    Kernels are started by one thread that lives as long as the worker: bwrap's
    ``--die-with-parent`` ties the sandbox to the *thread* that started it, so a short-lived
    starter thread would take its kernel down when it ends.
    """

    def __init__(self):
        self._requests: queue.Queue = queue.Queue()
        self._ready: dict = {}
        self._thread = None

    def _serve(self):
        from grader.judge.kernel import StudentKernel

        while True:
            use_bwrap, slot = self._requests.get()
            try:
                slot.put(StudentKernel(sandbox.SandboxSpec(use_bwrap=use_bwrap)))
            except BaseException as err:  # reported when the kernel is taken
                slot.put(err)

    def _order(self, use_bwrap: bool) -> queue.Queue:
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, daemon=True, name="kernel-starter")
            self._thread.start()
        slot: queue.Queue = queue.Queue(maxsize=1)
        self._requests.put((use_bwrap, slot))
        return slot

    def take(self, use_bwrap: bool):
        """The kernel started ahead (or a new one), and start the next one ahead."""
        slot = self._ready.pop(use_bwrap, None) or self._order(use_bwrap)
        self._ready[use_bwrap] = self._order(use_bwrap)  # warm the next one
        return self._wait(slot)

    def fresh(self, use_bwrap: bool):
        """A new kernel now (after a crash), started by the same long-lived thread."""
        return self._wait(self._order(use_bwrap))

    @staticmethod
    def _wait(slot: queue.Queue):
        kernel = slot.get()
        if isinstance(kernel, BaseException):
            raise kernel
        return kernel


_WARM = _WarmKernels()


def _worker_init() -> None:
    """Import what the hidden tests use once per worker, not once per submission.

    A worker ignores Ctrl-C (it reaches the whole process group): the grader's own process
    decides what stops, and ends the workers itself (``autograde._stop_local_workers``). A
    worker whose grader was killed outright exits within a second, with its sandboxes (an
    orphaned pool worker would otherwise wait for work for ever, its warm kernels with it).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True,
                     name="parent-watch").start()
    import torch  # noqa: F401  (the oracle)

    torch.set_num_threads(1)


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def judge_job(job: JudgeJob) -> dict:
    """Judge one prepared notebook; return its outputs as data (runs in a worker)."""
    nb = nbformat.reads(job.notebook_json, as_version=4)
    first = [True]

    def new_kernel():
        if first[0]:
            first[0] = False
            return _WARM.take(job.use_bwrap)
        return _WARM.fresh(job.use_bwrap)

    report = Judge(new_kernel, set(job.exported), timeout=job.timeout).run(nb)
    return {"student": job.student, "fingerprint": fingerprint(nb),
            "cells": [[list(c.get("outputs", [])), c.get("execution_count")]
                      for c in nb.cells if c.cell_type == "code"],
            "problems": report.problems(), "restarts": report.restarts}


_LOCAL_EXECUTORS: dict[int, futures.ProcessPoolExecutor] = {}


def local_executor(workers: int) -> futures.Executor:
    """A pool of ``workers`` judge processes, kept for the rest of this process's life.

    Workers are expensive to start (PyTorch), so later batches of the same process (the
    test suite grades several assignments) reuse them; a broken pool is replaced.
    """
    pool = _LOCAL_EXECUTORS.get(workers)
    if pool is None or getattr(pool, "_broken", False):
        context = multiprocessing.get_context("spawn")
        pool = futures.ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_init)
        _LOCAL_EXECUTORS[workers] = pool
    return pool


@atexit.register
def _shutdown_local_executors() -> None:
    for pool in _LOCAL_EXECUTORS.values():
        pool.shutdown(wait=True, cancel_futures=True)
    _LOCAL_EXECUTORS.clear()


class DaskExecutor:
    """``submit``/``shutdown`` over a Dask distributed scheduler at ``address``."""

    def __init__(self, address: str):
        from distributed import Client

        self.client = Client(address)
        self.client.run(_worker_init)

    def submit(self, fn, *args):
        return self.client.submit(fn, *args, pure=False)

    def as_completed(self, items):
        from distributed import as_completed

        return as_completed(items)

    def shutdown(self, wait=True):
        self.client.close()


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
