"""Judging one notebook: student cells in the sandbox, test cells in the grader's process.

Cells run in notebook order:

* every code cell that is not an autograded test cell (set-up, the student's answers, demos)
  runs in the student's sandboxed kernel, and its outputs are the kernel's;
* an autograded test cell (nbgrader ``grade`` on a code cell) runs here, with ``exec``, in a
  namespace of this submission where the names the assignment asks for (``exported``) are
  proxies into the sandbox (``proxy.py``); its outputs are what it printed, and an ``error``
  output if it raised, which is how nbgrader scores a cell;
* a locked set-up cell that uses no student name also runs here first, so test cells see its
  imports (``numpy``, the course's checks) as trusted objects.

A crash, hang or limit hit fails only the cell it happened in: the kernel is replaced by a new
one, the student's earlier cells are replayed in it (their outputs kept from the first run),
and the remaining cells are judged.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Callable

import nbformat

from grader.judge import stop
from grader.judge.kernel import CellTimeout, KernelDied, OutputLimit, StudentKernel
from grader.judge.proxy import ProtocolError, StudentSession
from grader.notebooks import solution_text

MAX_RESTARTS = 4
START_ATTEMPTS = 3
_TEST_OUTPUT_CHARS = 20_000


def is_test_cell(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def _is_locked_setup(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("locked")) and not meta.get("grade") and not meta.get("solution")


def exported_names(source_nb) -> set[str]:
    """The top-level names the model solution's cells define: what the tests may ask for."""
    names: set[str] = set()
    for cell in source_nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("solution"):
            continue
        try:
            tree = ast.parse(solution_text(cell.source))
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return {n for n in names if not hasattr(builtins, n)}


def _names_used(source: str) -> set[str]:
    try:
        return {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)}
    except SyntaxError:
        return set()


@dataclass
class CellOutcome:
    index: int
    where: str             # "sandbox" or "trusted"
    status: str            # "ok", "error", "timeout", "died", "output_limit"


@dataclass
class JudgeReport:
    cells: list = field(default_factory=list)
    restarts: int = 0

    def problems(self) -> list[str]:
        return [f"cell {c.index}: {c.status}" for c in self.cells if c.status in ("timeout", "died", "output_limit")]


def _error_output(ename: str, evalue: str, lines=None):
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue,
                                  traceback=list(lines) if lines else [f"{ename}: {evalue}"])


_FAILURE_MESSAGES = {
    "timeout": ("CellTimeoutError", "the cell ran past the time limit of {timeout:g} s and was stopped"),
    "died": ("KernelDiedError", "the kernel died while this cell ran (a crash, os._exit, or a resource "
                                "limit such as memory); the kernel was restarted for the next cells"),
    "output_limit": ("OutputLimitError", "the cell printed more than the output limit and was stopped"),
}

_STATUS_OF_ERROR = {ename: status for status, (ename, _) in _FAILURE_MESSAGES.items()}


class Judge:
    """Judges one notebook in place; ``new_kernel()`` starts a fresh sandboxed kernel."""

    def __init__(self, new_kernel: Callable[[], StudentKernel], exported: set[str], timeout: float = 60.0):
        self.new_kernel, self.exported, self.timeout = new_kernel, set(exported), timeout
        self.kernel: StudentKernel | None = None
        self.namespace: dict = {"__name__": "__main__", "__builtins__": builtins}
        self.report = JudgeReport()
        self._replay: list[str] = []  # sandbox cells run so far, to rebuild a new kernel
        self._count = 0
        self._kernels_started = 0

    def run(self, nb) -> JudgeReport:
        try:
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                stop.check()
                self._count += 1
                cell.execution_count = self._count
                if is_test_cell(cell):
                    cell.outputs = self._run_trusted(cell.source)
                    self._record(index, "trusted", cell.outputs)
                else:
                    if _is_locked_setup(cell) and not (_names_used(cell.source) & self.exported):
                        self._run_setup_trusted(cell.source)
                    cell.outputs, status = self._run_sandbox(cell.source)
                    self.report.cells.append(CellOutcome(index, "sandbox", status))
        finally:
            if self.kernel is not None:
                self.kernel.shutdown()
                self.kernel = None
        return self.report

    def _record(self, index, where, outputs):
        status = "ok"
        for output in outputs:
            if output.get("output_type") == "error":
                status = _STATUS_OF_ERROR.get(output.get("ename"), "error")
        self.report.cells.append(CellOutcome(index, where, status))

    # ------------------------------------------------------------------ kernel
    def _ensure_kernel(self) -> StudentKernel:
        if self.kernel is not None and self.kernel.alive():
            return self.kernel
        if self.kernel is not None:
            self.kernel.shutdown()
        self.kernel = None
        if self._kernels_started > 0:
            self.report.restarts += 1
            if self.report.restarts > MAX_RESTARTS:
                raise KernelDied(f"the kernel died {MAX_RESTARTS} times; the remaining cells were not run")
        self._kernels_started += 1
        kernel = self._start_kernel()
        for source in self._replay:  # rebuild the student's state in the new kernel
            if kernel.execute(source, self.timeout).killed:
                kernel = self._start_kernel()  # this cell cannot be replayed: go on without it
        self.kernel = kernel
        return kernel

    def _start_kernel(self) -> StudentKernel:
        """A new kernel; a start that fails (no student code has run in it) is retried."""
        for attempt in range(START_ATTEMPTS):
            try:
                return self.new_kernel()
            except KernelDied:
                if attempt == START_ATTEMPTS - 1:
                    raise

    def _run_sandbox(self, source: str):
        try:
            kernel = self._ensure_kernel()
        except KernelDied as err:
            return [_error_output("KernelDiedError", str(err))], "died"
        result = kernel.execute(source, self.timeout)
        outputs = list(result.outputs)
        if result.status in _FAILURE_MESSAGES:
            ename, evalue = _FAILURE_MESSAGES[result.status]
            outputs.append(_error_output(ename, evalue.format(timeout=self.timeout)))
        if not result.killed:
            self._replay.append(source)
        return outputs, result.status

    # ------------------------------------------------------------------ trusted side
    def _run_setup_trusted(self, source: str) -> None:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            try:
                exec(compile(source, "<set-up cell>", "exec"), self.namespace)
            except Exception:
                pass  # the same cell runs in the sandbox, where its error is shown

    def _run_trusted(self, source: str) -> list:
        buffer = io.StringIO()
        error = None
        session = None
        try:
            kernel = self._ensure_kernel()
            session = StudentSession(kernel)
            session.deadline_seconds = self.timeout
            self.namespace.update(session.lookup(self.exported))
            with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer), \
                    warnings.catch_warnings():
                warnings.simplefilter("ignore")
                exec(compile(source, "<test cell>", "exec"), self.namespace)
        except CellTimeout as err:
            error = _error_output("CellTimeoutError", _FAILURE_MESSAGES["timeout"][1].format(timeout=self.timeout)
                                  + f" ({err})")
        except KernelDied as err:
            error = _error_output("KernelDiedError", _FAILURE_MESSAGES["died"][1] + f" ({err})")
        except OutputLimit as err:
            error = _error_output("OutputLimitError", str(err))
        except ProtocolError as err:
            error = _error_output("ProtocolError", str(err))
        except Exception as err:  # a failed check, or the student's exception
            error = _error_output(type(err).__name__, str(err),
                                  traceback.format_exception(type(err), err, err.__traceback__))
        finally:
            if self.kernel is not None and not self.kernel.alive():
                self.kernel = None
        outputs = list(session.outputs) if session is not None else []
        text = buffer.getvalue()
        if len(text) > _TEST_OUTPUT_CHARS:
            text = text[:_TEST_OUTPUT_CHARS] + "\n[output truncated]\n"
        if text:
            outputs.append(nbformat.v4.new_output("stream", name="stdout", text=text))
        if error is not None:
            outputs.append(error)
        return outputs
