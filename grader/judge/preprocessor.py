"""The judge as an nbgrader preprocessor: it takes the place of nbgrader's ``Execute``.

nbgrader restores the instructor's locked and test cells (hidden tests included) before this
step, and scores the cells after it from their outputs; the judge only decides *where* each
cell runs (see ``judge.py``). Everything nbgrader does around it (checksums, the gradebook,
feedback, export) is unchanged, and plain ``nbgrader autograde`` uses the judge too.
"""

from __future__ import annotations

import logging
import os
import pathlib

from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool, Integer

from grader import notebooks
from grader.judge import batch, sandbox
from grader.judge.judge import Judge, exported_names
from grader.judge.kernel import StudentKernel

log = logging.getLogger(__name__)

NO_SANDBOX_WARNING = ("WARNING: grading WITHOUT the sandbox (--no-sandbox): the student's code runs "
                      "unconfined and can read and change this account's files")


class JudgeExecute(NbGraderPreprocessor):
    """Run the student's cells in a sandboxed kernel and the test cells in this process."""

    timeout = Integer(60, help="Seconds a cell may run before it is stopped.").tag(config=True)
    sandbox = Bool(True, help="Confine the student's kernel with bubblewrap (False: --no-sandbox).").tag(config=True)
    enabled = Bool(True)

    def preprocess(self, nb, resources):
        info = resources.get("nbgrader", {})
        judged = batch.PRECOMPUTED.pop((info.get("student"), batch.fingerprint(nb)), None)
        if judged is not None:  # judged already by a worker of this batch, for exactly these cells
            batch.apply_outputs(nb, judged)
            batch.USED_FROM_WORKERS.append(info.get("student"))
            resources.setdefault("judge", {}).update(problems=judged["problems"], restarts=judged["restarts"])
            return nb, resources
        exported = exported_names(notebooks.read(source_notebook(self.parent, info)))
        spec = sandbox.SandboxSpec(use_bwrap=self.sandbox and os.environ.get("COURSE_NO_SANDBOX") != "1")
        if not spec.use_bwrap:
            log.warning(NO_SANDBOX_WARNING)
        judge = Judge(lambda: StudentKernel(spec), exported, timeout=self.timeout)
        report = judge.run(nb)
        resources.setdefault("judge", {})["problems"] = report.problems()
        resources["judge"]["restarts"] = report.restarts
        return nb, resources


def source_notebook(parent, info: dict) -> pathlib.Path:
    """The instructor's source notebook of the notebook being graded.

    nbgrader's converter (an ancestor of this preprocessor: converter -> exporter -> us) knows
    the course's directories.
    """
    coursedir = None
    while parent is not None and coursedir is None:
        coursedir = getattr(parent, "coursedir", None)
        parent = getattr(parent, "parent", None)
    if coursedir is None:
        from grader.course import SOLUTIONS_DIR

        return SOLUTIONS_DIR / info["assignment"] / f"{info['notebook']}.ipynb"
    return pathlib.Path(coursedir.format_path(coursedir.source_directory, ".", info["assignment"])) \
        / f"{info['notebook']}.ipynb"
