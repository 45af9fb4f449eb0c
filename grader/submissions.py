"""Bringing submissions into the course's ``submitted/<student>/<assignment>/`` folders.

Two sources are accepted:

* a folder already in nbgrader's layout, ``<folder>/<student>/<assignment>/*.ipynb``;
* a zip downloaded from a learning-management system. The student of each notebook is
  read from its path: Moodle's ``<Name>_<id>_assignsubmission_file_/x.ipynb`` gives the id,
  a folder per student ``<student>/x.ipynb`` gives the folder name, and Canvas's flat
  ``<student>_<ids>_x.ipynb`` gives the first ``_``-separated word. ``student_pattern``
  (a regular expression with a group named ``student``) replaces these rules.

Each imported submission gets nbgrader's ``timestamp.txt`` (when it was submitted, for due
dates): the file's time in the zip (read in the course's time zone), or the one the folder
already has, or the notebook's modification time. Canvas marks late files ``_LATE_`` in
their names; that is noted.
"""

from __future__ import annotations

import datetime
import pathlib
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass

from grader.course import GradingError
from grader.late import parse_time, timestamp_text

_MOODLE = re.compile(r"^[^/]*_(?P<student>\d+)_assignsubmission_file_?/")
_SAFE_ID = re.compile(r"[^A-Za-z0-9._-]+")
_LATE_MARK = re.compile(r"(^|[_/])LATE(_|$)")


@dataclass
class Imported:
    student: str
    source: str  # where the notebook came from (path inside the zip or folder)
    note: str = ""


def student_from_path(relative_path: str, student_pattern: str | None = None) -> str | None:
    """The student id a notebook's path names, or ``None`` if it names none."""
    if student_pattern:
        match = re.search(student_pattern, relative_path)
        student = match.group("student") if match else None
    elif match := _MOODLE.match(relative_path):
        student = match.group("student")
    elif "/" in relative_path:
        student = relative_path.split("/", 1)[0]
    else:
        student = relative_path.split("_", 1)[0] if "_" in relative_path else None
    if not student:
        return None
    return _SAFE_ID.sub("-", student).strip("-") or None


def import_zip(zip_path, assignment: str, submitted_dir: pathlib.Path,
               student_pattern: str | None = None, timezone: str = "UTC") -> list[Imported]:
    """Unpack an LMS download into ``submitted_dir``; one notebook per student."""
    zip_path = pathlib.Path(zip_path)
    if not zip_path.is_file():
        raise GradingError(f"{zip_path} does not exist or is not a file")
    if not zipfile.is_zipfile(zip_path):
        raise GradingError(f"{zip_path} is not a zip archive")
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(zip_path) as archive:
        notebooks = [n for n in archive.namelist()
                     if n.endswith(".ipynb") and "__MACOSX" not in n and ".ipynb_checkpoints" not in n]
        if not notebooks:
            raise GradingError(f"{zip_path} holds no .ipynb file")
        by_student: dict[str, list[str]] = {}
        unmatched = []
        for name in notebooks:
            student = student_from_path(name, student_pattern)
            (by_student.setdefault(student, []) if student else unmatched).append(name)
        if unmatched:
            raise GradingError(
                "cannot tell the student of: " + ", ".join(unmatched[:5])
                + ("..." if len(unmatched) > 5 else "")
                + "; pass --student-pattern with a (?P<student>...) group"
            )
        imported = []
        for student, names in sorted(by_student.items()):
            chosen, note = _choose(names, assignment)
            archive.extract(chosen, tmp)
            target = submitted_dir / student / assignment
            if target.exists():
                shutil.rmtree(target)  # a resubmission replaces the whole submission
            _place(pathlib.Path(tmp) / chosen, target / f"{assignment}.ipynb")
            when = datetime.datetime(*archive.getinfo(chosen).date_time).isoformat(sep=" ")
            (target / "timestamp.txt").write_text(timestamp_text(parse_time(when, timezone)))
            if _LATE_MARK.search(chosen):
                note = "; ".join(n for n in (note, "marked LATE by the LMS") if n)
            imported.append(Imported(student, chosen, note))
        return imported


def import_folder(folder, assignment: str, submitted_dir: pathlib.Path) -> list[Imported]:
    """Copy ``<folder>/<student>/<assignment>/`` into the course (a no-op if it is the course's)."""
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        raise GradingError(f"{folder} is not a folder")
    imported = []
    students = sorted(p.parent.name for p in folder.glob(f"*/{assignment}") if p.is_dir())
    if not students:
        raise GradingError(
            f"{folder} has no <student>/{assignment}/ folders (nbgrader's layout); "
            f"for an LMS download pass the .zip file itself"
        )
    same = folder.resolve() == submitted_dir.resolve()
    for student in students:
        if not same:
            target = submitted_dir / student / assignment
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(folder / student / assignment, target)
        stamp = submitted_dir / student / assignment / "timestamp.txt"
        if not stamp.exists():
            times = [p.stat().st_mtime for p in stamp.parent.glob("*.ipynb")]
            if times:
                when = datetime.datetime.fromtimestamp(max(times), datetime.timezone.utc)
                stamp.write_text(timestamp_text(when.replace(tzinfo=None)))
        imported.append(Imported(student, str(folder / student / assignment)))
    return imported


def _choose(names: list[str], assignment: str) -> tuple[str, str]:
    exact = [n for n in names if pathlib.PurePosixPath(n).name == f"{assignment}.ipynb"]
    if len(exact) == 1:
        return exact[0], ""
    if len(names) == 1:
        return names[0], f"renamed {pathlib.PurePosixPath(names[0]).name} to {assignment}.ipynb"
    latest = sorted(names)[-1]
    return latest, f"{len(names)} notebooks uploaded; graded {latest}"


def _place(source: pathlib.Path, target: pathlib.Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def expected_notebook(student_dir: pathlib.Path, assignment: str) -> tuple[pathlib.Path | None, str]:
    """The notebook to grade in ``submitted/<student>/<assignment>/``, renaming a lone
    differently named notebook (``activations (1).ipynb``) to the expected name."""
    expected = student_dir / f"{assignment}.ipynb"
    if expected.exists():
        return expected, ""
    others = sorted(p for p in student_dir.glob("*.ipynb"))
    if len(others) == 1:
        others[0].rename(expected)
        return expected, f"renamed {others[0].name} to {expected.name}"
    if not others:
        return None, f"no notebook submitted (expected {expected.name})"
    return None, f"several notebooks and none named {expected.name}: {', '.join(p.name for p in others)}"
