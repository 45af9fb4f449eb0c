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
