"""The mutation-testing tool (``python -m grader mutants``), checked on a sample to stay fast.

``make mutants`` grades every mutant of every assignment (minutes); here the operators are
checked on their examples, the bookkeeping of equivalent mutants on made-up grades, every
assignment's list of equivalent mutants against the mutants that exist, and the whole tool,
through the real grader, on two mutants of one assignment: a wrong one it must kill and a
listed equivalent one it must keep.
"""

from __future__ import annotations

import pytest
from cosmic_ray.mutating import mutate_code

from grader import notebooks
from grader.autograde import Outcome
from grader.course import SOLUTIONS_DIR, GradingError, assignment_names
from grader.mutation.equivalents import Equivalent, equivalents_file, load_equivalents
from grader.mutation.generate import assignment_mutants, cell_mutants
from grader.mutation.operators import COURSE_OPERATORS, WrongRandomSource
from grader.mutation.run import classify, run_mutants
from grader.trial import TrialGrades

EXAMPLES = [(cls, ex) for cls in COURSE_OPERATORS for ex in cls.examples()]


@pytest.mark.parametrize("cls,example", EXAMPLES, ids=[f"{c.__name__}-{i}" for i, (c, _) in enumerate(EXAMPLES)])
def test_operator_makes_its_example_mutation(cls, example):
    assert mutate_code(example.pre_mutation_code, cls(), example.occurrence) == example.post_mutation_code


def test_operators_leave_unrelated_code_alone():
    code = "def f(x, rng):\n    return helper(x)\n"
    for cls in COURSE_OPERATORS:
        if cls.__name__ not in ("WrongRandomSource",):
            assert mutate_code(code, cls(), 0) in (None, code) or cls.__name__ == "RemoveStatement"
    # a def parameter named rng is not a use of the generator
    assert mutate_code("def f(x, rng):\n    return x\n", WrongRandomSource(), 0) is None


CELL = '''def scale(x, lam):
    # unchanged helper line outside the solution region
    y = x * 2
    ### BEGIN SOLUTION
    z = x.mean(axis=0) + lam
    ### END SOLUTION
    return z
'''


def test_only_the_solution_region_is_mutated_and_mutants_are_distinct():
    mutants = cell_mutants("scale", CELL)
    assert mutants, "the solution line has mutation sites"
    assert {m.line for m in mutants} == {4}, "only the line between the markers changes"
    assert len({m.source for m in mutants}) == len(mutants)
    assert all("BEGIN SOLUTION" not in m.source for m in mutants), "submitted as a student writes it"
    kinds = {m.operator for m in mutants}
    assert {"SwapFunction", "DropKeywordArgument", "ReplaceBinaryOperator_Add_Sub"} <= kinds
    assert all(m.before == "z = x.mean(axis=0) + lam" for m in mutants)


def _grades(lost: dict, statuses=None) -> TrialGrades:
    cells = {"test_a": 2.0, "test_b": 1.0}
    scores = {(s, c): (0.0 if c in lost[s] else top) for s in lost for c, top in cells.items()}
    outcomes = {s: Outcome(s, 0, 3, (statuses or {}).get(s, "graded")) for s in lost}
    return TrialGrades(scores, cells, outcomes)


def test_equivalent_mutants_are_counted_only_when_listed_and_stale_entries_are_flagged():
    mutants = cell_mutants("scale", CELL)
    killed, crashed, listed, unlisted, wrongly_listed = mutants[:5]
    grades = _grades({killed.ident: {"test_a"}, crashed.ident: set(), listed.ident: set(),
                      unlisted.ident: set(), wrongly_listed.ident: {"test_b"}},
                     statuses={crashed.ident: "failed"})
    gone = Equivalent("scale", "a line that no longer exists", "x", "was equivalent once")
    equivalents = [Equivalent(*listed.key, "same behavior"), Equivalent(*wrongly_listed.key, "wrong"), gone]
    report = classify("demo", mutants[:5], mutants, grades, equivalents)
    assert set(report.killed) == {killed.ident, crashed.ident, wrongly_listed.ident}
    assert report.equivalent == [listed] and report.survived == [unlisted]
    assert report.listed_but_killed == [equivalents[1]] and report.listed_but_missing == [gone]
    assert report.non_equivalent == 4 and report.score == 75.0
    assert not report.passed()
    table = report.table()
    assert table.splitlines()[-1] == "killed 3 of 4 non-equivalent mutants (75.0%)"
    assert unlisted.describe() in table and "no such mutant" in table and "but killed" in table


def test_a_malformed_equivalents_file_is_a_clear_error(tmp_path):
    path = tmp_path / "equivalent_mutants.yaml"
    path.write_text("- part: a\n  before: b\n  after: c\n")
    with pytest.raises(GradingError, match="expected exactly the fields"):
        load_equivalents(path)
    path.write_text("- part: a\n  before: b\n  after: c\n  reason: ''\n")
    with pytest.raises(GradingError, match="needs a reason"):
        load_equivalents(path)
    path.write_text("part: [")
    with pytest.raises(GradingError, match="not valid YAML"):
        load_equivalents(path)


@pytest.mark.parametrize("name", assignment_names())
def test_every_listed_equivalent_mutant_exists(name):
    existing = {m.key for m in assignment_mutants(notebooks.read(SOLUTIONS_DIR / name / f"{name}.ipynb"))}
    missing = [e for e in load_equivalents(equivalents_file(name)) if e.key not in existing]
    assert not missing, f"{name}: listed as equivalent but no such mutant: {missing}"


def test_the_tool_kills_a_wrong_mutant_and_keeps_a_listed_equivalent_one():
    """Through the real grader, on the dropout assignment."""
    name = "dropout"
    every = assignment_mutants(notebooks.read(SOLUTIONS_DIR / name / f"{name}.ipynb"))
    wrong = next(m for m in every if m.part == "dropout_forward" and m.operator == "ReplaceBinaryOperator_Sub_Add")
    listed = load_equivalents(equivalents_file(name))
    assert listed, "the dropout assignment lists its equivalent mutants"
    equivalent = next(m for m in every if m.key == listed[0].key)
    report = run_mutants(name, mutants=[wrong, equivalent], workers=2,
                         equivalents=listed + [Equivalent(*wrong.key, "claimed wrongly")])
    assert wrong.ident in report.killed, report.table()
    assert "test_dropout_forward" in report.killed[wrong.ident]
    assert report.equivalent == [equivalent]
    assert [e.key for e in report.listed_but_killed] == [wrong.key], "a killed 'equivalent' is flagged"
