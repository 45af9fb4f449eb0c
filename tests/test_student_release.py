"""A student's download runs with NumPy alone, outside the repository.

An assignment is released into a temporary course folder; its download
(``<name>.zip``: the notebook, the ``coursekit`` check helpers it imports, and
``requirements-student.txt``) is unpacked as a student would, and the notebook runs in a
kernel of the grader's sandbox environment (``.venv-sandbox``: NumPy and ipykernel, no
PyTorch, no ``coursekit`` installed), started in the unpacked folder with an empty
``PYTHONPATH``, as Jupyter starts a kernel next to the notebook:

* filled with the model solution, every visible test passes;
* untouched, the visible tests fail with ``NotImplementedError``, never an import error;
* the notebook alone, without its folder, stops at the set-up cell with
  ``ModuleNotFoundError`` for ``coursekit``, right after a note that names the download.

Also: the release leaves the locked cells as nbgrader generated them (their checksums hold,
so grading is unaffected), refuses a helper that needs more than NumPy, and every chapter
with an assignment links both downloads on its own (first) page.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import zipfile

import nbformat
import pytest

from grader import notebooks
from grader.course import GradingError, SOLUTIONS_DIR, course_environment, load_config
from grader.judge.sandbox import SANDBOX_VENV
from grader import release
from test_book import toc_chapters

ROOT = pathlib.Path(__file__).resolve().parents[1]
ASSIGNMENTS = ["dropout"]  # one release through nbgrader keeps the file under 30 s
SANDBOX_PYTHON = SANDBOX_VENV / "bin" / "python"
KERNEL = "student-numpy-only"
CELL_TIMEOUT = 60

needs_sandbox_env = pytest.mark.skipif(not SANDBOX_PYTHON.exists(),
                                       reason=f"{SANDBOX_PYTHON} is missing: run `make setup`")


@pytest.fixture(scope="module")
def downloads(tmp_path_factory) -> pathlib.Path:
    """The book's download folder after ``python -m grader release --copy-to``."""
    root = tmp_path_factory.mktemp("student_release")
    with course_environment(root / "course", db_url=f"sqlite:///{root}/gradebook.db"):
        from nbgrader.apps import NbGraderAPI

        release.release_all(NbGraderAPI(config=load_config()), ASSIGNMENTS, copy_to=root / "book")
    return root / "book"


def unpack(downloads: pathlib.Path, name: str, dest: pathlib.Path) -> pathlib.Path:
    """Unzip ``<name>.zip`` into ``dest``; the folder holding the notebook."""
    with zipfile.ZipFile(downloads / f"{name}.zip") as z:
        z.extractall(dest)
    return dest / name


def run_as_student(notebook: pathlib.Path, tmp_path: pathlib.Path) -> nbformat.NotebookNode:
    """Run every cell of ``notebook`` in a sandbox-environment kernel started in its folder.

    Errors do not stop the run; each cell keeps its outputs (see :func:`errors`).
    """
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient

    spec = tmp_path / "kernels" / KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(SANDBOX_PYTHON), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "NumPy only", "language": "python"}))
    km = AsyncKernelManager(kernel_name=KERNEL,
                            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec.parent)]))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    nb = notebooks.read(notebook)
    client = NotebookClient(nb, km=km, timeout=CELL_TIMEOUT, allow_errors=True,
                            resources={"metadata": {"path": str(notebook.parent)}})
    client.execute(env=env)
    return nb


def errors(nb) -> dict[int, str]:
    """``cell index -> exception name`` of every cell that raised."""
    return {i: out.ename for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
            for out in cell.outputs if out.output_type == "error"}


def with_model_solution(released, name: str):
    """The released notebook as a student who wrote the model solution would save it."""
    source = notebooks.read(SOLUTIONS_DIR / name / f"{name}.ipynb")
    answers = {notebooks.grade_id(c): notebooks.solution_text(c.source) for c in source.cells
               if c.get("metadata", {}).get("nbgrader", {}).get("solution") and c.cell_type == "code"}
    nb = nbformat.from_dict(released)
    for cell in nb.cells:
        if notebooks.grade_id(cell) in answers:
            cell.source = answers[notebooks.grade_id(cell)]
    return nb


PROBE = ("import importlib.util, pathlib, coursekit\n"
         "print('COURSEKIT', pathlib.Path(coursekit.__file__).resolve().parent.parent)\n"
         "print('TORCH', importlib.util.find_spec('torch') is not None)")


@needs_sandbox_env
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_the_solved_download_passes_its_visible_tests_with_numpy_alone(downloads, name, tmp_path):
    folder = unpack(downloads, name, tmp_path / "student")
    path = folder / f"{name}.ipynb"
    nb = with_model_solution(notebooks.read(path), name)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    notebooks.write(nb, path)
    done = run_as_student(path, tmp_path)
    assert errors(done) == {}, [out.get("evalue") for c in done.cells for out in c.get("outputs", [])
                                if out.output_type == "error"]
    probe = "".join(out.get("text", "") for out in done.cells[-1].outputs)
    assert f"COURSEKIT {folder.resolve()}" in probe, probe  # the unzipped helpers, nothing else
    assert "TORCH False" in probe, probe
    ran = [c for c in done.cells if c.cell_type == "code" and c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    assert ran and all(c.execution_count for c in ran), "every test cell ran"


@needs_sandbox_env
@pytest.mark.parametrize("name", ASSIGNMENTS[:1])
def test_the_untouched_download_fails_with_not_implemented_not_an_import_error(downloads, name, tmp_path):
    folder = unpack(downloads, name, tmp_path / "student")
    done = run_as_student(folder / f"{name}.ipynb", tmp_path)
    failed = errors(done)
    tests = [i for i, c in enumerate(done.cells)
             if c.cell_type == "code" and c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    assert tests and all(i in failed for i in tests), f"test cells that did not fail: {set(tests) - set(failed)}"
    assert set(failed.values()) == {"NotImplementedError"}, failed


@needs_sandbox_env
def test_the_notebook_alone_stops_at_the_setup_cell_after_a_note_naming_the_download(downloads, tmp_path):
    name = ASSIGNMENTS[0]
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / f"{name}.ipynb").write_bytes((downloads / f"{name}.ipynb").read_bytes())
    done = run_as_student(alone / f"{name}.ipynb", tmp_path)
    setup = next(i for i, c in enumerate(done.cells) if notebooks.grade_id(c) == "setup")
    (error,) = [out for out in done.cells[setup].outputs if out.output_type == "error"]
    assert error.ename == "ModuleNotFoundError" and "coursekit" in error.evalue
    note = done.cells[setup - 1]
    assert release.NOTE_TAG in note.metadata.get("tags", [])
    assert f"{name}.zip" in note.source and "No module named 'coursekit'" in note.source


def test_the_download_holds_the_notebook_its_helpers_and_the_student_requirements(downloads):
    for name in ASSIGNMENTS:
        with zipfile.ZipFile(downloads / f"{name}.zip") as z:
            files = {n: z.read(n) for n in z.namelist()}
        assert set(files) == {f"{name}/{name}.ipynb", f"{name}/coursekit/__init__.py",
                              f"{name}/coursekit/checks.py", f"{name}/requirements-student.txt"}
        assert files[f"{name}/{name}.ipynb"] == (downloads / f"{name}.ipynb").read_bytes()
        assert files[f"{name}/coursekit/checks.py"] == (ROOT / "coursekit" / "checks.py").read_bytes()
        assert files[f"{name}/requirements-student.txt"] == (ROOT / "requirements-student.txt").read_bytes()
        assert not notebooks.secret_markers_in(files[f"{name}/{name}.ipynb"].decode())
    again = release.pack(downloads.parent / "course" / "release" / ASSIGNMENTS[0],
                         downloads.parent / "again.zip")
    assert again.read_bytes() == (downloads / f"{ASSIGNMENTS[0]}.zip").read_bytes(), "same release, same bytes"


def test_the_release_leaves_the_locked_cells_as_nbgrader_made_them(downloads):
    from nbgrader.utils import compute_checksum, is_locked

    for name in ASSIGNMENTS:
        nb = notebooks.read(downloads / f"{name}.ipynb")
        locked = [c for c in nb.cells if is_locked(c)]
        assert locked and all(compute_checksum(c) == c.metadata.nbgrader.checksum for c in locked)
        notes = [c for c in nb.cells if release.NOTE_TAG in c.metadata.get("tags", [])]
        assert len(notes) == 1 and "nbgrader" not in notes[0].metadata
        changed = nbformat.from_dict(nb)
        setup = notebooks.find_cell(changed, "setup")
        setup.source = setup.source.replace("from coursekit.checks", "from checks")
        assert compute_checksum(setup) != setup.metadata.nbgrader.checksum, "the check can fail"


def test_releasing_twice_keeps_one_note(downloads, tmp_path):
    copy = tmp_path / "dropout" / "dropout.ipynb"
    copy.parent.mkdir()
    copy.write_bytes((downloads / "dropout.ipynb").read_bytes())
    assert release.make_self_contained(copy) == ["checks"]
    tags = [c.metadata.get("tags", []) for c in notebooks.read(copy).cells]
    assert sum(release.NOTE_TAG in t for t in tags) == 1


def _notebook_importing(source: str):
    return notebooks.new_notebook([notebooks.markdown("# Title"), notebooks.readonly_code("setup", source)])


def test_helpers_are_found_with_what_they_import_and_must_need_numpy_alone(tmp_path, monkeypatch):
    helpers = tmp_path / "coursekit"
    helpers.mkdir()
    (helpers / "checks.py").write_text("import numpy as np\nfrom coursekit import tolerances\n")
    (helpers / "tolerances.py").write_text("import math\nimport numpy\n")
    (helpers / "oracle.py").write_text("import numpy\nimport torch\n")
    monkeypatch.setattr(release, "HELPER_SOURCE", helpers)
    nb = _notebook_importing("import numpy as np\n%matplotlib inline\nfrom coursekit.checks import check_array")
    assert release.imported_helpers(nb) == {"checks"}
    assert release.helper_closure({"checks"}) == ["checks", "tolerances"]
    assert release.imported_helpers(_notebook_importing("from coursekit import oracle, check")) == {"oracle"}
    with pytest.raises(GradingError, match=r"coursekit\.oracle imports torch"):
        release.helper_closure({"oracle"})
    with pytest.raises(GradingError, match="does not exist"):
        release.helper_closure({"missing"})


def test_every_chapter_with_an_assignment_links_both_downloads_on_its_first_page():
    chapters = {pathlib.Path(c).name: c for c in toc_chapters()}
    assigned = sorted(p.name for p in SOLUTIONS_DIR.iterdir() if (p / f"{p.name}.ipynb").exists())
    assert assigned
    for name in assigned:
        assert name in chapters, f"the assignment {name} has no chapter in _toc.yml"
        page = (ROOT / f"{chapters[name]}.md").read_text()
        for suffix in (".zip", ".ipynb"):
            link = re.search(r"\{download\}`[^`<]*<_generated/assignments/" + re.escape(name + suffix) + ">`", page)
            assert link, f"{chapters[name]}.md does not link its assignment's {suffix}"


def test_data_files_the_visible_tests_name_travel_in_a_data_folder(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    for name in ("runs.npz", "big.npz", "README.md"):
        (data / name).write_text(name)
    monkeypatch.setattr(release, "DATA_SOURCE", data)
    named = _notebook_importing('from coursekit.datasets import DATA_DIR\nz = np.load(DATA_DIR / "runs.npz")')
    assert release.data_files(named) == ["runs.npz"]
    assert release.data_files(_notebook_importing('z = np.load("data/runs.npz")')) == ["runs.npz"]
    assert release.data_files(_notebook_importing('z = "elsewhere/runs.npz"; w = "big"')) == []
    path = tmp_path / "release" / "a" / "a.ipynb"
    notebooks.write(_notebook_importing('import numpy as np\nfrom coursekit.checks import check_array\n'
                                        'z = np.load("data/runs.npz")'), path)
    release.make_self_contained(path)
    assert sorted(p.name for p in (path.parent / "data").iterdir()) == ["README.md", "runs.npz"]
    notebooks.write(_notebook_importing("from coursekit.checks import check_array"), path)
    release.make_self_contained(path)
    assert not (path.parent / "data").exists(), "no data named, no data folder"
