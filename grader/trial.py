"""Grade a set of made-up submissions of one assignment in a throw-away course.

The assignment tests (``tests/test_assignments.py``) and the mutation tool
(``python -m grader mutants``) both need the same thing: many notebooks of one assignment,
graded exactly as a real batch is (release, nbgrader's gradebook, the trusted judge), and the
score of every autograded test cell of every notebook. This module does that in a temporary
course folder, so the course's own gradebook is never touched.
"""

from __future__ import annotations

import pathlib
import tempfile
import warnings
from dataclasses import dataclass

from grader import notebooks
from grader.course import course_environment, load_config


@dataclass
class TrialGrades:
    """What a trial batch earned.

    ``scores[student, test_cell]`` is the score of an autograded test cell, ``maxima[test_cell]``
    its points, ``outcomes[student]`` the batch report's row (status, reason, total).
    """

    scores: dict
    maxima: dict
    outcomes: dict

    def lost(self, student: str) -> set[str]:
        """The test cells in which ``student`` did not earn every point."""
        return {cell for cell, top in self.maxima.items() if self.scores[student, cell] < top}


def grade_trial(assignment: str, submissions: dict, *, release_as: str | None = None,
                workers: int = 1, timeout: float | None = None,
                root: str | pathlib.Path | None = None, progress: bool = False) -> TrialGrades:
    """Grade ``submissions`` (``student id -> notebook``) of ``assignment`` in a fresh course.

    ``release_as`` also submits the untouched student release under that id. ``timeout``
    overrides the per-cell time limit (seconds); ``root`` keeps the course folder (default: a
    temporary folder removed afterwards).
    """
    if root is None:
        with tempfile.TemporaryDirectory(prefix=f"trial_{assignment}_") as tmp:
            return grade_trial(assignment, submissions, release_as=release_as, workers=workers,
                               timeout=timeout, root=tmp, progress=progress)
    from grader.autograde import autograde_batch
    from grader.release import release_all

    root = pathlib.Path(root)
    with course_environment(root, db_url=f"sqlite:///{root}/gradebook.db"):
        from nbgrader.apps import NbGraderAPI
        from nbgrader.api import MissingEntry

        config = load_config()
        if timeout is not None:
            config.JudgeExecute.timeout = timeout
        api = NbGraderAPI(config=config)
        (release,) = release_all(api, [assignment])
        submissions = dict(submissions)
        if release_as is not None:
            submissions[release_as] = notebooks.read(release)
        for student, nb in submissions.items():
            notebooks.write(nb, root / "submitted" / student / assignment / f"{assignment}.ipynb")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            outcomes = autograde_batch(api, assignment, list(submissions), progress=progress,
                                       workers=workers)
            scores, maxima = {}, {}
            with api.gradebook as gb:
                test_cells = [c for c in gb.find_notebook(assignment, assignment).grade_cells
                              if c.cell_type == "code"]
                for cell in test_cells:
                    maxima[cell.name] = float(cell.max_score)
                    for student in submissions:
                        try:
                            grade = gb.find_grade(cell.name, assignment, assignment, student)
                        except MissingEntry:  # a submission that could not be graded at all
                            scores[student, cell.name] = 0.0
                        else:
                            scores[student, cell.name] = float(grade.score)
    return TrialGrades(scores, maxima, {o.student_id: o for o in outcomes})
