"""Generating the student version of every assignment with nbgrader, and checking it.

Each release is made self-contained by ``grader.student_download`` (the check helpers beside
the notebook, ``<name>.zip`` for the book).
"""

from __future__ import annotations

import pathlib
import shutil

from grader import notebooks
from grader.course import GradingError, assignment_names, course_root
from grader.student_download import make_self_contained, pack


def release_all(api, names=None, copy_to: pathlib.Path | None = None) -> list[pathlib.Path]:
    """Run nbgrader's ``generate_assignment`` for each assignment and return the notebooks.

    Each release is checked to hold no solution or hidden-test markers, and gets its check
    helpers beside it (see the module's docstring). With ``copy_to``, the student notebook
    and ``<name>.zip`` (the whole release folder) are also written there (the book links to
    them).
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
        make_self_contained(path)
        released.append(path)
        if copy_to is not None:
            copy_to.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, copy_to / path.name)
            pack(path.parent, copy_to / f"{name}.zip")
    return released
