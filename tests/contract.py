"""The contract's JSON shape (schema_version 1), checked the way users' tools rely on it."""
from __future__ import annotations

MODELS = {"asyncio", "threads", "multiprocessing", "asyncio+multiprocessing", "none"}


def assert_contract(data: dict) -> None:
    assert data["schema_version"] == 1
    target = data["target"]
    for key in ("argv", "exit_code", "timed_out", "python", "gil_enabled", "cpu_count"):
        assert key in target, key
    assert isinstance(target["argv"], list)
    assert isinstance(target["timed_out"], bool) and isinstance(target["gil_enabled"], bool)
    assert data["backend"] in {"cprofile", "yappi", "pyspy"}
    assert data["wall_seconds"] >= 0
    cats = data["categories"]
    for key in ("io_wait", "cpu_gil", "cpu_nogil"):
        assert 0.0 <= cats[key] <= 1.0, (key, cats)
    assert abs(sum(cats.values()) - 1.0) <= 0.02, cats
    for spot in data["hotspots"]:
        assert {"function", "location", "category", "seconds", "calls"} <= set(spot)
    for finding in data["findings"]:
        assert {"kind", "function", "location", "seconds", "detail"} <= set(finding)
    rec = data["recommendation"]
    assert rec["model"] in MODELS
    assert isinstance(rec["alternatives"], list) and set(rec["alternatives"]) <= MODELS
    assert rec["estimated_speedup"] >= 1.0 - 1e-9
    assert 0.0 <= rec["confidence"] <= 1.0
    for answer in rec["checklist"]:
        assert {"question", "answer", "evidence"} <= set(answer)


def dominant(categories: dict) -> str:
    return max(("io_wait", "cpu_gil", "cpu_nogil"), key=lambda k: categories[k])
