"""Where the course's files are, and nbgrader's configuration loaded from one file."""

from __future__ import annotations

import functools
import os
import pathlib
import sys
from contextlib import contextmanager

from traitlets.config import Config, PyFileConfigLoader

GRADER_DIR = pathlib.Path(__file__).resolve().parent
REPO_ROOT = GRADER_DIR.parent
SOLUTIONS_DIR = REPO_ROOT / "solutions"
CONFIG_FILE = GRADER_DIR / "nbgrader_config.py"


class GradingError(RuntimeError):
    """A problem the instructor must fix (wrong path, unknown assignment); shown without traceback."""


def assignment_names() -> list[str]:
    """Every assignment: a folder ``solutions/<name>/`` holding ``<name>.ipynb``."""
    return sorted(p.parent.name for p in SOLUTIONS_DIR.glob("*/*.ipynb")
                  if p.stem == p.parent.name)


def check_assignment(name: str) -> str:
    names = assignment_names()
    if name not in names:
        raise GradingError(f"unknown assignment {name!r}; the assignments are: {', '.join(names)}")
    return name


@contextmanager
def course_environment(course_root: str | os.PathLike | None = None, db_url: str | None = None):
    """Apply the overrides that ``nbgrader_config.py`` reads from the environment.

    Also puts this Python's ``bin`` folder on ``PATH``: nbgrader runs ``alembic`` from there
    when it creates a gradebook (inside these commands it asks ``alembic_head`` instead).
    """
    _use_alembic_head()
    saved = {k: os.environ.get(k) for k in ("COURSE_ROOT", "COURSE_DB_URL", "PATH")}
    if course_root is not None:
        os.environ["COURSE_ROOT"] = str(pathlib.Path(course_root).resolve())
    if db_url is not None:
        os.environ["COURSE_DB_URL"] = db_url
    os.environ["PATH"] = os.pathsep.join([str(pathlib.Path(sys.executable).parent),
                                          saved["PATH"] or ""])
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@functools.cache
def alembic_head() -> str:
    """The newest revision of nbgrader's gradebook schema (what ``alembic heads`` prints).

    nbgrader stamps every new gradebook with it and runs the ``alembic`` program to find it:
    a new process (about 3 s) per gradebook, which every trial course of the tests and of
    mutation testing pays. Alembic's own API reads the same migration scripts in-process.
    """
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR

    config = AlembicConfig()
    config.set_main_option("script_location", ALEMBIC_DIR)
    return ScriptDirectory.from_config(config).get_current_head()


def _use_alembic_head() -> None:
    import nbgrader.api

    nbgrader.api.get_alembic_version = alembic_head


def load_config() -> Config:
    """nbgrader's configuration, read from ``grader/nbgrader_config.py`` as nbgrader would."""
    loader = PyFileConfigLoader(CONFIG_FILE.name, path=str(GRADER_DIR))
    return loader.load_config()


def course_root(config: Config) -> pathlib.Path:
    return pathlib.Path(config.CourseDirectory.root)
