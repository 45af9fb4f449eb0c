"""The mutants an assignment's author declares equivalent, each with a reason.

They live beside the source notebook, in ``solutions/<name>/equivalent_mutants.yaml``: a
list of entries ::

    - part: dropout_forward            # grade_id of the solution cell
      before: "return x.copy(), cache"  # the changed lines, as `python -m grader mutants` prints them
      after: "return x, cache"
      reason: "..."                     # why no correct test can tell the two apart

A mutant counts as equivalent only when it is listed here and the tests do not kill it. An
entry whose mutant the tests kill, or that matches no mutant any more, is reported as stale.
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass

import yaml

from grader.course import SOLUTIONS_DIR, GradingError

FILE_NAME = "equivalent_mutants.yaml"
FIELDS = ("part", "before", "after", "reason")


@dataclass(frozen=True)
class Equivalent:
    part: str
    before: str
    after: str
    reason: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.part, self.before, self.after)


def equivalents_file(assignment: str) -> pathlib.Path:
    return SOLUTIONS_DIR / assignment / FILE_NAME


def load_equivalents(path: pathlib.Path) -> list[Equivalent]:
    """The entries of ``path`` (none if it does not exist); a malformed file is an error."""
    if not path.exists():
        return []
    try:
        entries = yaml.safe_load(path.read_text()) or []
    except yaml.YAMLError as err:
        raise GradingError(f"{path} is not valid YAML: {err}") from None
    if not isinstance(entries, list):
        raise GradingError(f"{path} must hold a list of entries with the fields {', '.join(FIELDS)}")
    result = []
    for i, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or set(entry) != set(FIELDS):
            raise GradingError(f"{path}, entry {i}: expected exactly the fields {', '.join(FIELDS)}, "
                               f"got {entry!r}")
        values = {k: str(entry[k]).strip() for k in FIELDS}
        if not values["reason"]:
            raise GradingError(f"{path}, entry {i}: an equivalent mutant needs a reason")
        result.append(Equivalent(**values))
    return result
