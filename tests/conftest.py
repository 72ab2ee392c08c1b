"""Shared fixtures: run the real CLI in a real subprocess, read what it wrote."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_apps"
CLI = [sys.executable, "-m", "concadvisor"]


def run_cli(*args, cwd=None, timeout=300, env=None, input=None):
    """Run ``concadvisor ARGS`` as a user would; returns the CompletedProcess.

    Without ``env``, any virtualenv active in the caller's shell is left out, so the
    targets run with concadvisor's own interpreter whatever shell runs the tests."""
    if env is None:
        env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    return subprocess.run([*CLI, *map(str, args)], cwd=cwd or ROOT, capture_output=True,
                          text=True, timeout=timeout, env=env, input=input)


def profile_json(tmp_path: Path, target, *extra, cwd=None, timeout=300):
    """Profile ``target``; returns (completed process, parsed JSON result or None)."""
    out = tmp_path / "result.json"
    done = run_cli("profile", "-o", tmp_path / "report.md", "--json", out, *extra, target,
                   cwd=cwd, timeout=timeout)
    data = json.loads(out.read_text()) if out.exists() else None
    return done, data


@pytest.fixture(autouse=True)
def _no_chart_unless_the_test_is_about_it(request, monkeypatch):
    """Drawing a chart costs each CLI run about a second; only tests marked ``chart`` pay it."""
    if request.node.get_closest_marker("chart") is None:
        monkeypatch.setenv("CONCADVISOR_NO_CHART", "1")


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def write_script(tmp_path):
    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path
    return write
