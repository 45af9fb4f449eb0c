"""How a chapter describes the submissions its assignment must grade correctly.

``tests/mistakes/<assignment>.py`` defines two lists:

* ``WRONG``: realistic wrong answers. Each replaces some solution cells (by ``grade_id``)
  and names the test cells that must lose points; every other test cell must keep full marks.
* ``ALTERNATIVE``: correct answers in another style, which must get full marks.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Wrong:
    mistake: str
    answers: dict  # grade_id of a solution cell -> the wrong source
    loses: frozenset = field(default_factory=frozenset)  # grade_ids of test cells that must fail

    def __init__(self, mistake: str, answers: dict, loses):
        object.__setattr__(self, "mistake", mistake)
        object.__setattr__(self, "answers", dict(answers))
        object.__setattr__(self, "loses", frozenset([loses] if isinstance(loses, str) else loses))


@dataclass(frozen=True)
class Alternative:
    style: str
    answers: dict
