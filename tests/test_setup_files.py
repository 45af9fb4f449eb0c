"""The set-up files agree: environment.yml carries exactly the pins of requirements.txt."""

import pathlib

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_environment_yml_pins_equal_requirements_txt():
    requirements = {line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
                    if line.strip() and not line.startswith("#")}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert set(pip_section) - {"-e ."} == requirements
    assert all("==" in r for r in requirements), "every requirement is pinned"
    assert "torch==2.13.0" in requirements


def test_no_control_characters_in_the_sources():
    """A formula written into a non-raw string turns ``\\frac`` into a form feed and ``\\right``
    into a carriage return; such characters break the book's build and the rendered math."""
    import re
    import subprocess

    files = subprocess.run(["git", "ls-files", "*.py", "*.md", "*.yml", "*.bib", "*.txt"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    bad = [f for f in files if re.search(r"[\x00-\x08\x0b-\x1f]", (ROOT / f).read_text(errors="replace"))]
    assert not bad, f"control characters in {bad}"


def _pins(path) -> dict[str, str]:
    """``canonical name -> NAME==VERSION line`` of a requirements file (comments skipped)."""
    from packaging.utils import canonicalize_name

    lines = [line.strip() for line in (ROOT / path).read_text().splitlines()]
    return {canonicalize_name(line.split("==")[0]): line for line in lines
            if line and not line.startswith("#")}


def _unmet_dependencies(pins: dict[str, str]) -> set[str]:
    """Packages that a pinned package needs here (markers evaluated) but ``pins`` lacks."""
    import importlib.metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    unmet = set()
    for name in pins:
        for text in importlib.metadata.requires(name) or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                unmet.add(canonicalize_name(requirement.name))
    return unmet - set(pins)


def test_student_requirements_are_a_light_closure_with_the_pins_of_requirements_txt():
    full, student = _pins("requirements.txt"), _pins("requirements-student.txt")
    assert all("==" in line for line in student.values()), "every requirement is pinned"
    differ = {name: line for name, line in student.items() if full.get(name) != line}
    assert not differ, f"not the pins of requirements.txt: {sorted(differ.values())}"
    assert {"numpy", "matplotlib", "jupyterlab", "ipykernel"} <= set(student)
    heavy = {"torch", "jupyter-book", "nbgrader", "sphinx", "onnxruntime", "dask"} & set(student)
    assert not heavy, f"the student environment must stay light: {heavy}"
    assert _unmet_dependencies(student) == set(), "every dependency is pinned too"
    without_tornado = {k: v for k, v in student.items() if k != "tornado"}
    assert "tornado" in _unmet_dependencies(without_tornado), "the closure check can fail"


def _student_setup_blocks(text: str) -> list[str]:
    """The fenced ``bash`` blocks that create the student environment (``course-env``)."""
    import re

    return [b for b in re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL) if "course-env" in b]


def test_the_intro_page_gives_the_readme_student_setup_steps():
    readme = _student_setup_blocks((ROOT / "README.md").read_text())
    intro = _student_setup_blocks((ROOT / "book" / "intro.md").read_text())
    assert len(readme) == 1 and intro == readme
    assert "requirements-student.txt" in readme[0] and "jupyter lab" in readme[0]
    assert _student_setup_blocks("```bash\nmake setup\n```") == [], "other blocks are not counted"
