"""Every sample app, profiled through the CLI, gets the model and dominant category its
docstring names, in a contract-clean JSON and a Markdown report with sections and tables."""
from __future__ import annotations

import re

import pytest

from conftest import SAMPLES, profile_json
from contract import assert_contract, dominant


def expectations():
    out = []
    for path in sorted(SAMPLES.glob("*.py")):
        text = path.read_text()
        model = re.search(r"^Expected model:\s*(\S+)", text, re.M)
        category = re.search(r"^Dominant category:\s*(.+)$", text, re.M)
        if model and category:
            cats = re.findall(r"\b(io_wait|cpu_gil|cpu_nogil)\b", category.group(1))
            out.append(pytest.param(path, model.group(1), cats, id=path.stem))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("app, model, categories", expectations())
def test_sample_app_gets_the_model_its_docstring_names(tmp_path, app, model, categories):
    done, data = profile_json(tmp_path, app, "--backend", "cprofile", timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert data is not None, done.stderr[-2000:]
    assert_contract(data)
    assert data["recommendation"]["model"] == model, _why(data)
    assert dominant(data["categories"]) in categories, data["categories"]
    answered = [a for a in data["recommendation"]["checklist"] if a["answer"] in ("yes", "no", "partly") and a["evidence"]]
    assert len(answered) >= 4
    assert data["hotspots"], "no hotspots"
    report = (tmp_path / "report.md").read_text()
    for heading in ("## Where the time goes", "## Decision checklist", "## Recommendation", "## Hotspots"):
        assert heading in report
    assert report.count("|---") >= 3


def _why(data):
    rec = data["recommendation"]
    return f"got {rec['model']} {rec.get('estimates')} {data['categories']} {rec.get('reasons')}"
