"""The GitHub Pages workflow builds the book exactly as ``make book`` does and publishes it."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"


def steps() -> list[dict]:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    return workflow["jobs"]["build"]["steps"]


def test_the_workflow_runs_make_book_and_publishes_its_html():
    runs = [step.get("run", "").strip() for step in steps()]
    assert "make book" in runs, "the book is built by the README's command, nothing else"
    upload = next(s for s in steps() if "upload-pages-artifact" in s.get("uses", ""))
    assert upload["with"]["path"] == "_build/html"
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert "deploy-pages" in str(workflow["jobs"]["deploy"]["steps"])


@pytest.mark.skipif(shutil.which("sed") is None, reason="needs sed")
def test_the_workflow_points_the_book_at_its_repository(tmp_path):
    """Its sed changes exactly the repository URL and branch of _config.yml, nothing else."""
    step = next(s for s in steps() if "GITHUB_REPOSITORY" in s.get("run", ""))
    config = tmp_path / "_config.yml"
    config.write_text((ROOT / "_config.yml").read_text())
    env = dict(os.environ, GITHUB_REPOSITORY="someone/fork", GITHUB_REF_NAME="spring-2027")
    subprocess.run(["bash", "-euc", step["run"]], cwd=tmp_path, env=env, check=True,
                   capture_output=True)
    before = yaml.safe_load((ROOT / "_config.yml").read_text())
    after = yaml.safe_load(config.read_text())
    assert after["repository"]["url"] == "https://github.com/someone/fork"
    assert after["repository"]["branch"] == "spring-2027"
    after["repository"] = before["repository"]
    assert after == before, "the workflow changed more than the repository URL and branch"
