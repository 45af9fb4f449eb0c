"""Stopping the judge (Ctrl-C) at any moment leaves no sandbox, kernel or socket behind.

``tests/test_term.py`` sends a real SIGINT to a whole ``autograde`` run; here the judge is
stopped at chosen moments: before its sandbox exists, while the kernel starts, while a
student's cell runs. A stop that left a ZeroMQ socket open made the garbage collector block
for ever in ``zmq.Context.term()`` (the grader never exited), so each case runs in a process
of its own that must finish, with a garbage collection at its end, within a time limit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from grader.course import REPO_ROOT

_PRELUDE = """
import gc, threading, time
import nbformat, psutil
from grader.judge import stop
from grader.judge.judge import Judge
from grader.judge.kernel import StudentKernel
from grader.judge.sandbox import SandboxSpec

def assert_nothing_left():
    children = psutil.Process().children(recursive=True)
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"still running: {[p.cmdline() for p in alive]}"
    gc.collect()
"""


def run_in_child(scenario: str, timeout: float = 60.0) -> None:
    """Run ``scenario`` (after ``_PRELUDE``) in a new Python process; it must finish cleanly."""
    code = _PRELUDE + textwrap.dedent(scenario) + "\nassert_nothing_left()\nprint('finished')\n"
    try:
        done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True,
                              timeout=timeout, env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)))
    except subprocess.TimeoutExpired:
        pytest.fail(f"the process did not finish within {timeout:g} s (blocked after the stop)")
    assert done.returncode == 0 and done.stdout.strip().endswith("finished"), done.stderr[-3000:]


def test_a_stop_before_the_sandbox_starts_starts_nothing():
    run_in_child("""
        stop.request()
        try:
            StudentKernel(SandboxSpec())
        except stop.GradingStopped:
            pass
        else:
            raise AssertionError("a kernel started after the stop")
    """)


@pytest.mark.parametrize("delay", [0.02, 0.1, 0.25, 0.5])
def test_a_stop_while_the_kernel_starts_leaves_nothing_open(delay):
    run_in_child(f"""
        timer = threading.Timer({delay}, stop.request)
        timer.start()
        try:
            kernel = StudentKernel(SandboxSpec())
        except stop.GradingStopped:
            kernel = None
        timer.join()
        if kernel is not None:  # it started before the request: its next wait obeys it
            try:
                kernel.execute("1 + 1", timeout=30)
            except stop.GradingStopped:
                kernel.shutdown()
            else:
                raise AssertionError("the kernel ran a cell after the stop")
        del kernel
    """)


def test_a_stop_while_a_cell_runs_ends_the_judgement_within_a_second():
    run_in_child("""
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"),
                                             nbformat.v4.new_code_cell("import time\\ntime.sleep(600)"),
                                             nbformat.v4.new_code_cell("y = 2")])
        kernels, requested_at = [], []

        def new_kernel():
            kernels.append(StudentKernel(SandboxSpec()))
            return kernels[-1]

        def request_when_busy():
            while not nb.cells[0].get("execution_count"):
                time.sleep(0.05)
            time.sleep(1.0)  # the second cell is sleeping in the sandbox
            requested_at.append(time.monotonic())
            stop.request()

        threading.Thread(target=request_when_busy, daemon=True).start()
        try:
            Judge(new_kernel, exported=set(), timeout=300).run(nb)
        except stop.GradingStopped:
            stopped_at = time.monotonic()
        else:
            raise AssertionError("the judgement was not stopped")
        assert len(kernels) == 1 and not kernels[0].alive()
        assert not nb.cells[2].get("execution_count"), "the judgement went on after the stop"
        assert stopped_at - requested_at[0] < 1.0, stopped_at - requested_at[0]
        del kernels
    """)
