"""Generating the student version of every assignment with nbgrader, and checking it."""

from __future__ import annotations

import pathlib
import shutil

from grader import notebooks
from grader.course import GradingError, assignment_names, course_root


def release_all(api, names=None, copy_to: pathlib.Path | None = None) -> list[pathlib.Path]:
    """Run nbgrader's ``generate_assignment`` for each assignment and return the notebooks.

    Each release is checked to hold no solution or hidden-test markers. With ``copy_to``,
    the student notebooks are also copied there (the book links to them).
    """
    released = []
    for name in names or assignment_names():
        result = api.generate_assignment(name, force=True, create=True)
        if not result["success"]:
            raise GradingError(f"generating the release of {name!r} failed:\n{result['error']}")
        path = course_root(api.config) / "release" / name / f"{name}.ipynb"
        leaked = notebooks.secret_markers_in(path.read_text())
        if leaked:
            raise GradingError(f"the release {path} still contains {leaked}")
        released.append(path)
        if copy_to is not None:
            copy_to.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, copy_to / path.name)
    return released
