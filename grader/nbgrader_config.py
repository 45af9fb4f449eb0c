"""nbgrader configuration of the course: the one place where grading settings live.

Plain nbgrader commands work from this folder (``cd grader && nbgrader generate_assignment
activations``); ``python -m grader`` loads this same file. Course data (releases,
submissions, the gradebook) lives in ``grader/course/``, which git ignores.

Environment overrides, for deployments and tests:
  COURSE_ROOT    another course data folder
  COURSE_DB_URL  any SQLAlchemy URL for the gradebook (default: SQLite in the course folder)
  COURSE_CELL_TIMEOUT  seconds a cell may run while grading (default 60)
  COURSE_TIMEZONE      time zone of due dates and LMS file times without one (default UTC)
"""

import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
_root = os.path.abspath(os.environ.get("COURSE_ROOT") or os.path.join(_here, "course"))

# nbgrader resolves "<root>/../solutions" through it. (`python -m grader` checks the folder
# before loading this file and creates it only for the commands that start a course.)
os.makedirs(_root, exist_ok=True)
os.makedirs(os.path.join(_root, "exchange"), exist_ok=True)
# nbgrader runs `alembic` when it creates a gradebook: this Python's bin folder on PATH lets
# plain `../.venv/bin/nbgrader ...` work without activating the environment.
_bin = os.path.dirname(sys.executable)
if _bin not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = os.pathsep.join([_bin, os.environ.get("PATH", "")])

c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = "training-deep-nets"
c.CourseDirectory.root = _root
# Source notebooks stay in the repository's solutions/ folder.
c.CourseDirectory.source_directory = os.path.relpath(os.path.join(_here, "..", "solutions"), _root)
# Instructor files beside a source notebook never travel into the student release.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback",
                            "equivalent_mutants.yaml"]
c.CourseDirectory.db_url = os.environ.get(
    "COURSE_DB_URL", "sqlite:///" + os.path.join(_root, "gradebook.db")
)

# Grading: each cell may run this many seconds before it is interrupted and scores 0.
c.JudgeExecute.timeout = int(os.environ.get("COURSE_CELL_TIMEOUT", 60))
# nbgrader's autograding steps, with the trusted judge (grader/judge/) in place of its Execute:
# the student's cells run in a sandboxed kernel, the test cells in the grader's own process.
# And one more step: a warning on stderr does not fail a test cell (grader/preprocessors.py).
c.Autograde.autograde_preprocessors = [
    "grader.judge.preprocessor.JudgeExecute",
    "grader.preprocessors.WarningsAreNotFailures",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# Deadlines: `python -m grader deadline ASSIGNMENT WHEN` sets nbgrader's due date; times
# without a zone (due dates, the file times in an LMS zip) are read in this time zone.
c.Exchange.root = os.path.join(_root, "exchange")  # the formgrader looks for it
c.Exchange.timezone = os.environ.get("COURSE_TIMEZONE", "UTC")
# Late submissions lose 10% of the autograded score per started day late (grader/late.py).
c.AssignLatePenalties.plugin_class = "grader.late.PercentPerDay"
c.PercentPerDay.percent_per_day = 10.0
c.PercentPerDay.grace_minutes = 0.0

# Release: only the notebooks, without outputs, hidden tests or solutions.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Feedback: grades and messages, never the hidden tests' code (see grader/preprocessors.py).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "grader.preprocessors.RedactHiddenTests",
    "grader.preprocessors.MarkAwaitingHandGrading",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
