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
