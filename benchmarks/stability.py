"""Does the same program get the same advice run after run?

Each of ``count`` generated corpus programs (``benchmarks/corpus``) is profiled ``runs``
times through the CLI, one run after another, and the models are compared. A program is
stable when every run gave the same model; an unstable one is excused only when each of
its runs that disagreed said it was a close call naming the models in play
(``recommendation.close_call``). Target: stable or excused for at least 95%.

    python -m benchmarks stability [--count 60] [--seed 1] [--backends auto]
"""
from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from pathlib import Path

from .common import table
from .corpus.generate import generate
from .corpus.run import profiled_run

TARGET = 0.95


def _verdict(result: dict | None) -> tuple[str, set]:
    """(model, the models a close call names: empty when the run made no such call)."""
    if result is None:
        return "", set()
    rec = result["recommendation"]
    close = rec.get("close_call") or {}
    return rec["model"], set(close.get("models") or [])


def judge(runs: list[tuple[str, set]]) -> str:
    """"stable", "close call" (runs differ, but every run named the disagreeing models as a
    close call) or "unstable"."""
    models = {model for model, _ in runs}
    if "" in models:
        return "failed"
    if len(models) == 1:
        return "stable"
    if all(models <= named for _, named in runs):
        return "close call"
    return "unstable"


def run(backend: str = "auto", count: int = 60, seed: int = 1, runs: int = 3, keep: str | None = None,
        progress=None) -> tuple[str, float]:
    folder = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="concadvisor-stability-"))
    try:
        specs = generate(folder, count, seed)
        kinds, rows = Counter(), []
        for number, spec in enumerate(specs, 1):
            seen = []
            for _ in range(runs):
                result, _problem = profiled_run(spec, folder, backend)
                seen.append(_verdict(result))
            kind = judge(seen)
            kinds[kind] += 1
            if kind != "stable":
                rows.append([spec.name, spec.shape(), " / ".join(m or "-" for m, _ in seen), kind])
            if progress:
                progress(f"[{number}/{len(specs)}] {kind:10s} {spec.name} {spec.shape()}: "
                         + " / ".join(m or "-" for m, _ in seen))
        held = (kinds["stable"] + kinds["close call"]) / max(len(specs), 1)
        lines = [f"## stability: {len(specs)} corpus programs (seed {seed}), {runs} runs each under {backend}; "
                 f"target: same model, or a close call naming both, for >= {TARGET:.0%}\n",
                 table(["outcome", "programs"], [[k, str(kinds[k])] for k in ("stable", "close call", "unstable", "failed")]),
                 f"\nheld: {held:.1%}\n"]
        if rows:
            lines += ["", table(["program", "shape", "models", "outcome"], rows)]
        return "\n".join(lines), held
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
