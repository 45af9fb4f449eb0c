"""Every assignment, graded through real nbgrader by the course's grader.

For each ``solutions/<name>/<name>.ipynb`` one batch is graded: the model solution, the
untouched student release, every wrong submission of ``tests/mistakes/<name>.py`` and every
alternative correct one. Then:

* the solution earns every autograded point, the release earns none;
* each wrong submission loses points in exactly the test cells its mistake should break;
* each alternative earns every autograded point.
"""

from __future__ import annotations

import importlib

import pytest

from grader import notebooks
from grader.course import SOLUTIONS_DIR, assignment_names
from grader.judge.batch import default_workers
from grader.trial import grade_trial

ASSIGNMENTS = assignment_names()


def cases(name):
    module = importlib.import_module(f"mistakes.{name}")
    return module.WRONG, module.ALTERNATIVE


def _student(prefix, i):
    return f"{prefix}{i:02d}"


@pytest.fixture(scope="session")
def graded():
    """``assignment -> TrialGrades`` of its batch, graded once, lazily."""
    results = {}

    def grade(name):
        if name not in results:
            source = notebooks.read(SOLUTIONS_DIR / name / f"{name}.ipynb")
            wrong, alternative = cases(name)
            submissions = {"solution": notebooks.with_answers(source)}
            submissions.update({_student("wrong", i): notebooks.with_answers(source, w.answers)
                                for i, w in enumerate(wrong)})
            submissions.update({_student("alternative", i): notebooks.with_answers(source, a.answers)
                                for i, a in enumerate(alternative)})
            results[name] = grade_trial(name, submissions, release_as="release", workers=default_workers())
        return results[name]

    return grade


def test_every_assignment_has_wrong_and_alternative_submissions():
    assert ASSIGNMENTS, "no assignment found in solutions/"
    for name in ASSIGNMENTS:
        wrong, alternative = cases(name)
        assert len(wrong) >= 4, f"{name}: at least one wrong submission per named mistake"
        assert alternative, f"{name}: at least one alternative correct submission"


def test_every_assignment_has_autograded_parts_and_a_written_answer():
    for name in ASSIGNMENTS:
        nb = notebooks.read(SOLUTIONS_DIR / name / f"{name}.ipynb")
        meta = [c.metadata.get("nbgrader", {}) for c in nb.cells]
        tests = [m for m in meta if m.get("grade") and not m.get("solution")]
        written = [m for m in meta if m.get("grade") and m.get("solution")]
        assert len(tests) >= 4, f"{name}: at least four autograded parts"
        assert written, f"{name}: at least one manually graded written answer"
        assert all(m.get("points", 0) > 0 for m in tests + written), f"{name}: a graded cell without points"
        for cell in nb.cells:
            assert not cell.get("outputs"), f"{name}: source notebook committed with outputs"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_solution_gets_full_marks_and_release_gets_zero(graded, name):
    trial = graded(name)
    scores, maxima, outcomes = trial.scores, trial.maxima, trial.outcomes
    assert outcomes["solution"].status == "graded", outcomes["solution"].reason
    for cell, top in maxima.items():
        assert scores["solution", cell] == top, f"solution lost points in {cell}"
        assert scores["release", cell] == 0, f"the unanswered release earned points in {cell}"


@pytest.mark.parametrize("name,index", [(n, i) for n in ASSIGNMENTS for i in range(len(cases(n)[0]))])
def test_wrong_submission_loses_the_points_of_its_part(graded, name, index):
    mistake = cases(name)[0][index]
    trial = graded(name)
    scores, maxima = trial.scores, trial.maxima
    student = _student("wrong", index)
    unknown = mistake.loses - set(maxima)
    assert not unknown, f"{mistake.mistake}: no test cells named {sorted(unknown)}"
    for cell, top in maxima.items():
        if cell in mistake.loses:
            assert scores[student, cell] < top, f"'{mistake.mistake}' was not caught by {cell}"
        else:
            assert scores[student, cell] == top, f"'{mistake.mistake}' also lost points in {cell}"


@pytest.mark.parametrize("name,index", [(n, i) for n in ASSIGNMENTS for i in range(len(cases(n)[1]))])
def test_alternative_correct_submission_gets_full_marks(graded, name, index):
    alternative = cases(name)[1][index]
    trial = graded(name)
    scores, maxima = trial.scores, trial.maxima
    student = _student("alternative", index)
    for cell, top in maxima.items():
        assert scores[student, cell] == top, f"correct style '{alternative.style}' lost points in {cell}"
