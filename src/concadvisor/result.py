"""The saved result: the contract's JSON (schema_version 1) as one plain object.

Everything downstream (Markdown, terminal, ``report``, ``compare``) renders from a
``Result``, so a saved JSON re-renders without re-running the target. Keys beyond the
contract's are additions, never replacements.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1
TOOL = "concadvisor"
CATEGORY_KEYS = ("io_wait", "cpu_gil", "cpu_nogil", "other")
MODELS = ("asyncio", "threads", "multiprocessing", "asyncio+multiprocessing", "none")


class ResultError(ValueError):
    """A file that is not a concadvisor result this version can read."""


@dataclass
class Result:
    target: dict
    backend: str
    wall_seconds: float
    categories: dict[str, float]
    hotspots: list[dict]
    findings: list[dict]
    recommendation: dict
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        data = {
            "schema_version": SCHEMA_VERSION,
            "tool": TOOL,
            "target": self.target,
            "backend": self.backend,
            "wall_seconds": round(self.wall_seconds, 4),
            "categories": self.categories,
            "hotspots": self.hotspots,
            "findings": self.findings,
            "recommendation": self.recommendation,
        }
        for key, value in self.extra.items():
            data.setdefault(key, value)
        return _clean(data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_dict(cls, data: Any) -> "Result":
        if not isinstance(data, dict):
            raise ResultError("not a concadvisor result (expected a JSON object)")
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ResultError(f"unsupported schema_version {data.get('schema_version')!r} (this concadvisor reads 1)")
        if data.get("tool", TOOL) != TOOL:
            raise ResultError(f"written by {data.get('tool')!r}, not concadvisor")
        try:
            categories = {k: float(v) for k, v in dict(data["categories"]).items()}
            target = dict(data["target"])
            recommendation = dict(data["recommendation"])
            hotspots = [dict(h) for h in data.get("hotspots", [])]
            findings = [dict(f) for f in data.get("findings", [])]
            wall = float(data["wall_seconds"])
            backend = str(data["backend"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ResultError(f"not a concadvisor result (missing or malformed {exc})") from None
        missing = [k for k in ("io_wait", "cpu_gil", "cpu_nogil") if k not in categories]
        if missing or "model" not in recommendation:
            raise ResultError("not a concadvisor result (no categories or recommendation)")
        known = {"schema_version", "tool", "target", "backend", "wall_seconds", "categories",
                 "hotspots", "findings", "recommendation"}
        extra = {k: v for k, v in data.items() if k not in known}
        return cls(target, backend, wall, categories, hotspots, findings, recommendation, extra)


def load(path: str) -> Result:
    """Read a saved result; ``ResultError`` (one line) for anything unreadable."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise ResultError(f"result file not found: {path}") from None
    except IsADirectoryError:
        raise ResultError(f"result path is a folder, not a file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultError(f"cannot read result file {path}: {exc.__class__.__name__}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ResultError(f"{path} is not valid JSON (truncated or corrupt: {exc.msg} at line {exc.lineno})") from None
    return Result.from_dict(data)


def _clean(value):
    """JSON-safe: no NaN or infinity, numpy numbers as Python numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
