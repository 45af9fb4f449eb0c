"""Generating the student version of every assignment with nbgrader, and checking it.

A released notebook's locked set-up cell imports the course's check helpers
(``from coursekit.checks import check_array, ...``). So that the notebook runs anywhere with
NumPy alone, outside the repository too, each release is a self-contained folder::

    release/<name>/<name>.ipynb           nbgrader's student version, plus a note before the set-up cell
    release/<name>/coursekit/__init__.py  a minimal package file
    release/<name>/coursekit/<module>.py  each helper module the notebook imports, copied
    release/<name>/requirements-student.txt
    release/<name>/data/<file>            each file of data/ the notebook names (and data/README.md)

and, with ``copy_to`` (the book's downloads), the notebook alone and ``<name>.zip`` holding
that folder. The helper modules are copied from ``coursekit/`` at release time, never kept
twice in the repository, and must need nothing but NumPy and the standard library. A data file
that a visible test loads is named in the notebook (``DATA_DIR / "training_runs.npz"``, with
``DATA_DIR`` from ``coursekit.datasets``, which finds ``data/`` next to ``coursekit/``). Grading
is unaffected: the judge's sandbox mounts the course's own ``coursekit/``, and nbgrader grades
from the source notebook, whose locked cells and checksums the release does not touch.
"""

from __future__ import annotations

import ast
import pathlib
import shutil
import sys
import zipfile

import nbformat

from grader import notebooks
from grader.course import REPO_ROOT, GradingError, assignment_names, course_root

HELPER_PACKAGE = "coursekit"
HELPER_SOURCE = REPO_ROOT / HELPER_PACKAGE
DATA_SOURCE = REPO_ROOT / "data"
STUDENT_REQUIREMENTS = REPO_ROOT / "requirements-student.txt"
#: Top-level modules a helper may import besides the standard library: a student has NumPy.
STUDENT_MODULES = frozenset({"numpy", HELPER_PACKAGE})
#: The metadata tag of the note the release adds before the set-up cell.
NOTE_TAG = "student-setup-note"

HELPER_INIT = '''"""The course's check helpers, as the visible tests of an assignment use them.

Copied from the course's ``coursekit`` package when the assignment was released; NumPy only.
Keep this folder next to the assignment notebook.
"""
'''

ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so that the same release gives the same bytes


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


def make_self_contained(notebook: pathlib.Path) -> list[str]:
    """Put the helpers the released ``notebook`` imports beside it, and a note that says so.

    Returns the helper modules copied (``["checks"]`` for ``from coursekit.checks import ...``).
    Raises :class:`GradingError` if a helper needs a package that students do not have.
    """
    nb = notebooks.read(notebook)
    modules = helper_closure(imported_helpers(nb))
    folder = notebook.parent / HELPER_PACKAGE
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    (folder / "__init__.py").write_text(HELPER_INIT)
    for module in modules:
        shutil.copyfile(HELPER_SOURCE / f"{module}.py", folder / f"{module}.py")
    data = notebook.parent / DATA_SOURCE.name
    shutil.rmtree(data, ignore_errors=True)
    named = data_files(nb)
    if named:
        data.mkdir()
        for name in named + ["README.md"]:  # the README gives the sources and licenses
            if (DATA_SOURCE / name).is_file():
                shutil.copyfile(DATA_SOURCE / name, data / name)
    shutil.copyfile(STUDENT_REQUIREMENTS, notebook.parent / STUDENT_REQUIREMENTS.name)
    add_setup_note(nb, notebook.stem)
    notebooks.write(nb, notebook)
    return modules


def _python_source(cell_source: str) -> str:
    """A code cell as plain Python (IPython magics and shell escapes turned into calls)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(cell_source)


def _imports(tree: ast.AST) -> list[tuple[str, list[str]]]:
    """``(module, imported names)`` for every import statement (absolute imports only)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, [alias.name for alias in node.names]))
    return found


def _helper_modules_of(imports) -> set[str]:
    """The ``coursekit`` modules named by ``imports`` (``coursekit.checks`` -> ``checks``)."""
    modules = set()
    for module, names in imports:
        parts = module.split(".")
        if parts[0] != HELPER_PACKAGE:
            continue
        if len(parts) > 1:
            modules.add(parts[1])
        else:  # from coursekit import checks
            modules.update(n for n in names if (HELPER_SOURCE / f"{n}.py").exists())
    return modules


def _code_trees(nb):
    """The syntax tree of each code cell of ``nb`` that parses."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            yield ast.parse(_python_source(cell.source))
        except SyntaxError:
            continue  # a student stub need not parse; the set-up cell does


def imported_helpers(nb) -> set[str]:
    """The ``coursekit`` modules that the code cells of ``nb`` import."""
    return {m for tree in _code_trees(nb) for m in _helper_modules_of(_imports(tree))}


def data_files(nb) -> list[str]:
    """The files of ``data/`` that a code cell of ``nb`` names in a string.

    ``"training_runs.npz"`` and ``"data/training_runs.npz"`` both name ``data/training_runs.npz``.
    """
    available = {p.name for p in DATA_SOURCE.iterdir() if p.is_file()} if DATA_SOURCE.is_dir() else set()
    named = set()
    for node in (n for tree in _code_trees(nb) for n in ast.walk(tree)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) < 256:
            path = pathlib.PurePosixPath(node.value)
            if path.name in available and path.parent.as_posix() in (".", DATA_SOURCE.name):
                named.add(path.name)
    return sorted(named)


def helper_closure(modules) -> list[str]:
    """``modules`` and the ``coursekit`` modules they import, checked to need only NumPy.

    Raises :class:`GradingError` naming the helper and the package when one imports anything
    but the standard library, NumPy and other such helpers.
    """
    todo, done = sorted(modules), set()
    while todo:
        module = todo.pop()
        if module in done:
            continue
        path = HELPER_SOURCE / f"{module}.py"
        if not path.exists():
            raise GradingError(f"the assignment imports {HELPER_PACKAGE}.{module}, which does not exist")
        imports = _imports(ast.parse(path.read_text(), filename=str(path)))
        needs = sorted({m.split(".")[0] for m, _ in imports}
                       - set(sys.stdlib_module_names) - STUDENT_MODULES)
        if needs:
            raise GradingError(
                f"{HELPER_PACKAGE}.{module} imports {', '.join(needs)}: a student's copy of the "
                f"assignment would not run with NumPy alone; move what the visible tests need "
                f"into a NumPy-only helper module"
            )
        done.add(module)
        todo += sorted(_helper_modules_of(imports) - done)
    return sorted(done)


def setup_note(name: str) -> str:
    """The note a release carries before its set-up cell: where the helpers come from."""
    return (
        f"**Before you start.** The tests of this notebook import the course's small check "
        f"helpers (NumPy only) from a folder `{HELPER_PACKAGE}/` that must sit next to this "
        f"notebook. The download `{name}.zip` on the chapter's page of the book holds both: unzip "
        f"it and open `{name}.ipynb` inside the folder `{name}/` it creates. If the next cell stops "
        f"with `ModuleNotFoundError: No module named '{HELPER_PACKAGE}'`, that folder is missing. "
        f"The notebook needs nothing else but NumPy; `requirements-student.txt`, in the same "
        f"folder, installs NumPy, Matplotlib and JupyterLab "
        f"(`pip install -r requirements-student.txt`)."
    )


def add_setup_note(nb, name: str) -> None:
    """Insert :func:`setup_note` before the first code cell (once; an ordinary markdown cell)."""
    nb.cells = [c for c in nb.cells if NOTE_TAG not in c.get("metadata", {}).get("tags", [])]
    note = nbformat.v4.new_markdown_cell(setup_note(name), metadata={"tags": [NOTE_TAG]})
    if (nb.nbformat, nb.nbformat_minor) < (4, 5):
        del note["id"]  # cell ids came with nbformat 4.5
    first_code = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
    nb.cells.insert(first_code, note)


def pack(folder: pathlib.Path, archive: pathlib.Path) -> pathlib.Path:
    """Zip ``folder`` as ``<folder name>/...``, in a fixed order with fixed dates."""
    files = sorted(p for p in folder.rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts and ".ipynb_checkpoints" not in p.parts)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for path in files:
            info = zipfile.ZipInfo(f"{folder.name}/{path.relative_to(folder).as_posix()}", ZIP_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, path.read_bytes())
    return archive
