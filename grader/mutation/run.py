r"""Mutation testing of an assignment's hidden tests, through the real grader.

Every mutant of the model solution (``grader.mutation.generate``) is submitted as a student
of a throw-away course and graded exactly as real submissions are (``grader.trial``: release,
nbgrader's gradebook, the trusted judge with its sandbox). A mutant is **killed** when it loses
a point in any autograded test cell, or when its notebook cannot be graded at all. The score
is

.. math::  S = \frac{\text{killed}}{\text{mutants} - \text{equivalent}},

where a survivor is equivalent only when it is listed, with a reason, in the assignment's
``equivalent_mutants.yaml``.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field

from grader import notebooks
from grader.course import SOLUTIONS_DIR, GradingError
from grader.mutation.equivalents import Equivalent, equivalents_file, load_equivalents
from grader.mutation.generate import Mutant, assignment_mutants
from grader.trial import grade_trial

#: The score every assignment must reach (percent of non-equivalent mutants killed).
REQUIRED_SCORE = 95.0


@dataclass
class MutationReport:
    assignment: str
    mutants: list[Mutant]
    killed: dict = field(default_factory=dict)          # ident -> test cells that lost points
    equivalent: list[Mutant] = field(default_factory=list)
    survived: list[Mutant] = field(default_factory=list)
    listed_but_killed: list[Equivalent] = field(default_factory=list)
    listed_but_missing: list[Equivalent] = field(default_factory=list)

    @property
    def non_equivalent(self) -> int:
        return len(self.mutants) - len(self.equivalent)

    @property
    def score(self) -> float:
        return 100.0 * len(self.killed) / self.non_equivalent if self.non_equivalent else 100.0

    @property
    def stale(self) -> list[str]:
        """Entries of the equivalents file that are wrong: killed, or matching no mutant."""
        return ([f"listed as equivalent but killed: {e.part}: `{e.before}` -> `{e.after}`"
                 for e in self.listed_but_killed]
                + [f"listed as equivalent but no such mutant: {e.part}: `{e.before}` -> `{e.after}`"
                   for e in self.listed_but_missing])

    def passed(self, required: float = REQUIRED_SCORE) -> bool:
        return self.score >= required and not self.stale

    def table(self) -> str:
        """The per-part table, the survivors, the stale entries and the last line with the score."""
        rows = defaultdict(lambda: [0, 0, 0, 0])
        for m in self.mutants:
            rows[m.part][0] += 1
        for m in self.mutants:
            if m.ident in self.killed:
                rows[m.part][1] += 1
        for m in self.equivalent:
            rows[m.part][2] += 1
        for m in self.survived:
            rows[m.part][3] += 1
        width = max([len("part")] + [len(p) for p in rows])
        lines = [f"{self.assignment}: mutation testing of the hidden tests",
                 f"  {'part':<{width}}  mutants  killed  equivalent  survived"]
        for part, (n, k, e, s) in rows.items():
            lines.append(f"  {part:<{width}}  {n:>7}  {k:>6}  {e:>10}  {s:>8}")
        if self.survived:
            lines.append("survivors (not killed, not listed as equivalent):")
            lines += [f"  {m.describe()}" for m in self.survived]
        lines += [f"stale: {s}" for s in self.stale]
        lines.append(f"killed {len(self.killed)} of {self.non_equivalent} non-equivalent mutants "
                     f"({self.score:.1f}%)")
        return "\n".join(lines)


def select(mutants: list[Mutant], sample: int | None = None, seed: int = 0) -> list[Mutant]:
    """All mutants, or a seeded random ``sample`` of them."""
    if sample is None or sample >= len(mutants):
        return mutants
    return random.Random(seed).sample(mutants, sample)


def run_mutants(assignment: str, *, mutants: list[Mutant] | None = None, workers: int = 1,
                timeout: float = 20.0, progress: bool = False, equivalents=None) -> MutationReport:
    """Grade ``mutants`` (default: every mutant) of ``assignment`` and classify them.

    ``timeout`` is the per-cell time limit for the mutants (a mutant that loops forever is
    killed by it). ``equivalents`` defaults to the assignment's file.
    """
    source = notebooks.read(SOLUTIONS_DIR / assignment / f"{assignment}.ipynb")
    every = assignment_mutants(source)
    mutants = every if mutants is None else mutants
    if equivalents is None:
        equivalents = load_equivalents(equivalents_file(assignment))
    submissions = {"model-solution": notebooks.with_answers(source)}
    submissions.update({m.ident: notebooks.with_answers(source, {m.part: m.source}) for m in mutants})
    grades = grade_trial(assignment, submissions, workers=workers, timeout=timeout, progress=progress)
    lost = grades.lost("model-solution")
    if lost or grades.outcomes["model-solution"].status != "graded":
        raise GradingError(f"{assignment}: the model solution itself loses points in {sorted(lost)} "
                           f"({grades.outcomes['model-solution'].reason}); fix the tests first")
    return classify(assignment, mutants, every, grades, equivalents)


def classify(assignment: str, mutants: list[Mutant], every: list[Mutant], grades,
             equivalents: list[Equivalent]) -> MutationReport:
    """Sort graded ``mutants`` into killed, equivalent (listed and surviving) and survived, and
    find the stale entries of ``equivalents`` (killed, or matching none of ``every``)."""
    report = MutationReport(assignment, list(mutants))
    listed = {e.key: e for e in equivalents}
    for m in mutants:
        cells = grades.lost(m.ident)
        if cells or grades.outcomes[m.ident].status != "graded":
            report.killed[m.ident] = cells or {"(not graded)"}
            if m.key in listed:
                report.listed_but_killed.append(listed[m.key])
        elif m.key in listed:
            report.equivalent.append(m)
        else:
            report.survived.append(m)
    existing = {m.key for m in every}
    report.listed_but_missing = [e for e in equivalents if e.key not in existing]
    return report
