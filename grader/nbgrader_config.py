"""nbgrader configuration of the course: the one place where grading settings live.

Plain nbgrader commands work from this folder (``cd grader && nbgrader generate_assignment
activations``); ``python -m grader`` loads this same file. Course data (releases,
submissions, the gradebook) lives in ``grader/course/``, which git ignores.

Environment overrides, for deployments and tests:
  COURSE_ROOT    another course data folder
  COURSE_DB_URL  any SQLAlchemy URL for the gradebook (default: SQLite in the course folder)
  COURSE_CELL_TIMEOUT  seconds a cell may run while grading (default 60)
"""

import os

_here = os.path.dirname(os.path.abspath(__file__))
_root = os.path.abspath(os.environ.get("COURSE_ROOT") or os.path.join(_here, "course"))

os.makedirs(_root, exist_ok=True)  # nbgrader resolves "<root>/../solutions" through it

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

# Release: only the notebooks, without outputs, hidden tests or solutions.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Feedback: grades and messages, never the hidden tests' code (see grader/preprocessors.py).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "grader.preprocessors.RedactHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
