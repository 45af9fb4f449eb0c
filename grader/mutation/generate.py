"""Mutants of an assignment's model solution: one small change to one solution cell each.

Only the lines a student writes (between ``### BEGIN SOLUTION`` and ``### END SOLUTION``) are
mutated. A mutant that does not compile, or that parses to the same program as the model
solution, is not a mutant; two changes that give the same program count once.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
from dataclasses import dataclass

from cosmic_ray.ast import ast_nodes, get_ast
from cosmic_ray.mutating import mutate_code

from grader import notebooks
from grader.mutation.operators import all_operators


@dataclass(frozen=True)
class Mutant:
    """One change to one solution cell.

    ``before`` and ``after`` are the changed lines of the model solution and of the mutant
    (stripped, joined by `` / ``): with ``part`` they name the mutant in reports and in the
    list of equivalent mutants, and stay the same when other lines of the cell change.
    """

    part: str        # grade_id of the solution cell
    operator: str
    line: int        # first changed line, counted in the cell as the student sees it
    before: str
    after: str
    source: str      # the whole mutated cell, as a student would submit it

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.part, self.before, self.after)

    @property
    def ident(self) -> str:
        """A short id, usable as a student id: the part and a hash of the change."""
        digest = hashlib.sha1("\0".join(self.key).encode()).hexdigest()[:8]
        return f"{self.part}-{digest}"

    def describe(self) -> str:
        return f"{self.part} line {self.line} [{self.operator}]: `{self.before}` -> `{self.after}`"


def solution_lines(source: str) -> set[int]:
    """Line numbers (1-based) of the solution region's lines in ``notebooks.solution_text(source)``."""
    inside, number, lines = False, 0, set()
    for line in source.splitlines():
        if notebooks.BEGIN_SOLUTION in line:
            inside = True
            continue
        if notebooks.END_SOLUTION in line:
            inside = False
            continue
        number += 1
        if inside:
            lines.add(number)
    return lines


def _changed(before: str, after: str) -> tuple[int, str, str]:
    """First changed line and the changed lines of each side."""
    old, new = before.splitlines(), after.splitlines()
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    changes = [op for op in matcher.get_opcodes() if op[0] != "equal"]
    _, i1, _, j1, _ = changes[0]
    _, _, i2, _, j2 = changes[-1]
    join = lambda lines: " / ".join(x.strip() for x in lines)  # noqa: E731
    return i1 + 1, join(old[i1:i2]), join(new[j1:j2])


def _program(code: str) -> str | None:
    try:
        return ast.dump(ast.parse(code))
    except SyntaxError:
        return None


def cell_mutants(part: str, source: str, operators=None) -> list[Mutant]:
    """Every distinct mutant of the solution cell ``part`` whose nbgrader source is ``source``."""
    text = notebooks.solution_text(source)
    region = solution_lines(source)
    original = _program(text)
    operators = operators or all_operators()
    seen, mutants = {original}, []
    for name, operator in operators.items():
        positions = [pos for node in ast_nodes(get_ast(text)) for pos in operator.mutation_positions(node)]
        for occurrence, (start, _end) in enumerate(positions):
            if start[0] not in region:
                continue
            mutated = mutate_code(text, operator, occurrence)
            program = _program(mutated) if mutated is not None else None
            if program is None or program in seen:
                continue
            seen.add(program)
            line, before, after = _changed(text, mutated)
            mutants.append(Mutant(part, name, line, before, after, mutated))
    return mutants


def assignment_mutants(nb) -> list[Mutant]:
    """The mutants of every solution code cell of the source notebook ``nb``, in cell order."""
    operators = all_operators()
    return [m for cell in nb.cells
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution")
            for m in cell_mutants(notebooks.grade_id(cell), cell.source, operators)]
