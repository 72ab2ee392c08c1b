"""Verdicts: every sample app under each backend, its model, split and estimated speedup
against what its docstring expects (the table the issues' closing notes show)."""
from __future__ import annotations

import re

from .common import ROOT, profile, table

SAMPLES = ROOT / "sample_apps"


def expected(path) -> tuple[str, str]:
    text = path.read_text()
    model = re.search(r"^Expected model:\s*(\S+)", text, re.M)
    category = re.search(r"^Dominant category:\s*(.+)$", text, re.M)
    return (model.group(1) if model else "", category.group(1).split("(")[0].strip() if category else "")


def run(backends, quick=False) -> tuple[str, int, int]:
    rows, right, total = [], 0, 0
    apps = sorted(p for p in SAMPLES.glob("*.py") if expected(p)[0])
    if quick:
        apps = apps[:1]
    for app in apps:
        model, category = expected(app)
        for backend in backends:
            result, seconds = profile(str(app), [], backend)
            if result is None:
                rows.append([app.stem, backend, model, "failed", "", "", ""])
                continue
            rec, cats = result["recommendation"], result["categories"]
            ok = rec["model"] == model
            right += ok
            total += 1
            split = " / ".join(f"{cats[c]:.2f}" for c in ("io_wait", "cpu_gil", "cpu_nogil"))
            findings = ", ".join(sorted({f["kind"] for f in result["findings"]})) or "-"
            rows.append([app.stem, result["backend"], model, f"{rec['model']}{'' if ok else ' (!)'}",
                         split, f"{rec['estimated_speedup']:.1f}x", findings])
    text = table(["app", "backend", "expected", "model", "io / gil / nogil", "estimated", "findings"], rows)
    return text, right, total
