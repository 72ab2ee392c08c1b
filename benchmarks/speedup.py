"""Speedup: each sample app's sequential run vs its hand-written concurrent variant
(benchmarks/variants/), measured speedup vs concadvisor's estimated_speedup.

Error factor = max(estimate / measured, measured / estimate). Targets: every app within
2x, median within 1.3x. Whole-process wall times, interleaved, median of the repeats.
"""
from __future__ import annotations

from .common import PYTHON, ROOT, median, profile, table, timed

VARIANTS = ROOT / "benchmarks" / "variants"
SAMPLES = ROOT / "sample_apps"
QUICK = ("hash_buffers",)


def run(backend="auto", repeats=3, quick=False) -> tuple[str, list[float]]:
    rows, factors = [], []
    for variant in sorted(VARIANTS.glob("*.py")):
        name = variant.stem
        if quick and name not in QUICK:
            continue
        app = SAMPLES / f"{name}.py"
        if not app.exists():
            continue
        sequential, concurrent = [], []
        for _ in range(1 if quick else repeats):
            sequential.append(timed([PYTHON, str(app)]))
            concurrent.append(timed([PYTHON, str(variant)]))
        measured = median(sequential) / median(concurrent)
        result, _ = profile(str(app), [], backend)
        if result is None:
            rows.append([name, "", f"{measured:.2f}x", "failed", ""])
            continue
        rec = result["recommendation"]
        estimate = float(rec["estimated_speedup"])
        factor = max(estimate / measured, measured / estimate)
        factors.append(factor)
        rows.append([name, rec["model"], f"{median(sequential):.2f}", f"{median(concurrent):.2f}",
                     f"{measured:.2f}x", f"{estimate:.2f}x", f"{factor:.2f}"])
    text = table(["app", "model", "sequential s", "variant s", "measured", "estimated", "error factor"], rows)
    return text, factors
