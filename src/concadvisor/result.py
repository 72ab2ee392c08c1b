"""The saved result: the contract's JSON (schema_version 1) as one plain object.

Everything downstream (Markdown, terminal, ``report``, ``compare``) renders from a
``Result``, so a saved JSON re-renders without re-running the target. Keys beyond the
contract's are additions, never replacements.
"""
from __future__ import annotations

import json
import math
import os
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

    @property
    def model(self) -> str:
        """The recommended model: asyncio, threads, multiprocessing, asyncio+multiprocessing or none."""
        return str(self.recommendation.get("model", "none"))

    def to_markdown(self, chart: str | None = None) -> str:
        """The report as the CLI writes it (``chart``: a link to the chart's picture)."""
        from .renderers.markdown import MarkdownRenderer

        return MarkdownRenderer(chart=chart).render(self)

    def summary(self) -> str:
        """The few lines the CLI prints on stderr: the verdict, the split, the top findings."""
        from .renderers.terminal import TerminalRenderer

        return TerminalRenderer().render(self)

    def write(self, report: str | os.PathLike, json_path: str | os.PathLike | None = None):
        """Write the Markdown report, its chart beside it (same name, .png) and, if asked,
        the JSON; returns what was written (``.report``, ``.chart``, ``.json``,
        ``.problems``: a chart that could not be drawn never costs the report)."""
        from pathlib import Path

        from .renderers.bundle import chart_drawer, write_report

        report = Path(report)
        report.parent.mkdir(parents=True, exist_ok=True)
        if json_path is not None:
            Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        with chart_drawer() as drawer:  # drawn in a process of its own: matplotlib stays out of this one
            drawer.start()
            return write_report(self, report, Path(json_path) if json_path is not None else None,
                                drawer=drawer)

    @classmethod
    def from_dict(cls, data: Any) -> "Result":
        """A Result from the contract's JSON; ``ResultError`` (one line) for anything else.

        The fields the renderers read are checked against ``SHAPE`` first, so a result
        that loads always renders.
        """
        if not isinstance(data, dict):
            raise ResultError(f"not a concadvisor result (a JSON {_kind(data)}, not an object)")
        if "schema_version" not in data:
            raise ResultError("not a concadvisor result (no schema_version)")
        if data.get("tool", TOOL) != TOOL:
            raise ResultError(f"written by another tool ({_short(data.get('tool'))}), not concadvisor")
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ResultError(f"schema_version {_short(data.get('schema_version'))} is not one this "
                              f"concadvisor reads ({SCHEMA_VERSION})")
        missing = [k for k in REQUIRED if k not in data]
        if missing:
            raise ResultError(f"not a concadvisor result (no {', '.join(missing)})")
        data = _shaped(data)
        categories = {str(k): float(v) for k, v in data["categories"].items()}
        recommendation = dict(data["recommendation"])
        absent = [k for k in ("io_wait", "cpu_gil", "cpu_nogil") if k not in categories]
        if absent:
            raise ResultError(f"not a concadvisor result (categories without {', '.join(absent)})")
        if "model" not in recommendation:
            raise ResultError("not a concadvisor result (no recommendation.model)")
        known = {"schema_version", "tool", *REQUIRED}
        extra = {k: v for k, v in data.items() if k not in known}
        return cls(dict(data["target"]), str(data["backend"]), float(data["wall_seconds"]),
                   categories, [dict(h) for h in data["hotspots"]],
                   [dict(f) for f in data["findings"]], recommendation, extra)


REQUIRED = ("target", "backend", "wall_seconds", "categories", "hotspots", "findings",
            "recommendation")
MAX_BYTES = 64 * 1024 * 1024  # results are kilobytes; anything this big is something else
MAX_DEPTH = 64

# What the renderers read, where, and what it must be. A path is keys joined by dots;
# ``[]`` is each item of a list, ``{}`` each value of a mapping. A trailing ``?`` lets the
# value be null, read as if absent (the JSON writer turns NaN into null). Absent keys are
# fine (renderers have defaults); keys not listed pass through untouched.
SHAPE = {
    "target": "mapping",
    "target.argv": "list?",
    "target.cpu_count": "number?",
    "target.exit_code": "scalar?",
    "backend": "scalar",
    "wall_seconds": "number",
    "categories": "mapping",
    "categories{}": "share",
    "hotspots": "list",
    "hotspots[]": "mapping",
    "hotspots[].function": "scalar?",
    "hotspots[].location": "scalar?",
    "hotspots[].category": "scalar?",
    "hotspots[].seconds": "number?",
    "hotspots[].calls": "scalar?",
    "hotspots[].split": "mapping?",
    "hotspots[].split{}": "number",
    "findings": "list",
    "findings[]": "mapping",
    "findings[].kind": "scalar?",
    "findings[].function": "scalar?",
    "findings[].location": "scalar?",
    "findings[].seconds": "number?",
    "recommendation": "mapping",
    "recommendation.model": "scalar",
    "recommendation.current_model": "scalar?",
    "recommendation.estimated_speedup": "number?",
    "recommendation.confidence": "number?",
    "recommendation.reasons": "list?",
    "recommendation.alternatives": "list?",
    "recommendation.estimates": "mapping?",
    "recommendation.estimates{}": "number",
    "recommendation.more_cores": "cores?",
    "recommendation.more_cores{}": "number",
    "recommendation.work": "mapping?",
    "recommendation.work{}": "scalar?",
    "recommendation.work.cores": "number?",
    "recommendation.work.repeats": "number?",
    "recommendation.changes": "list?",
    "recommendation.changes[]": "mapping",
    "recommendation.changes[].seconds": "number?",
    "recommendation.changes[].repeats": "number?",
    "recommendation.changes[].category": "scalar?",
    "recommendation.changes[].family": "scalar?",
    "recommendation.changes[].call": "text?",
    "recommendation.changes[].location": "text?",
    "recommendation.changes[].loop_location": "text?",
    "recommendation.changes[].function": "text?",
    "recommendation.changes[].unit": "text?",
    "recommendation.changes[].driver": "text?",
    "recommendation.close_call": "mapping?",
    "recommendation.close_call.models": "list?",
    "recommendation.close_call.margin": "number?",
    "recommendation.close_call.why": "text?",
    "recommendation.close_call.estimates": "mapping?",
    "recommendation.close_call.estimates{}": "number",
    "recommendation.checklist": "list?",
    "recommendation.checklist[]": "mapping",
    "category_seconds": "mapping?",
    "category_seconds{}": "number",
    "gil_wait_seconds": "number?",
    "worker_wait_seconds": "number?",
    "worker_wait": "mapping?",
    "worker_wait.joins": "number?",
    "worker_wait.idle_workers": "number?",
    "worker_wait.event_loop": "number?",
    "worker_wait.processes": "number?",
    "worker_wait.children_work": "mapping?",
    "worker_wait.children_work{}": "number",
    "worker_wait.where": "mapping?",
    "worker_wait.where.file": "text?",
    "worker_wait.where.line": "number?",
    "worker_wait.where.callee": "text?",
    "worker_wait.where.function": "text?",
    "worker_wait.where.seconds": "number?",
    "threads": "list?",
    "threads[]": "mapping",
    "threads[].wall_seconds": "number?",
    "threads[].cpu_seconds": "number?",
    "notes": "list?",
    "children": "list?",
    "children[]": "mapping",
    "children[].command": "scalar?",
    "children[].pid": "scalar?",
    "children[].wall_seconds": "number?",
    "children[].cpu_seconds": "number?",
    "children[].task_cpu_seconds": "number?",
    "children[].categories": "mapping?",
    "children[].categories{}": "number",
    "children[].entry": "mapping?",
    "children[].entry.function": "scalar?",
    "children[].entry.location": "scalar?",
    "children[].top_functions": "list?",
    "children[].top_functions[]": "mapping",
    "children[].top_functions[].function": "scalar?",
    "children[].top_functions[].location": "scalar?",
    "children[].top_functions[].category": "scalar?",
    "children[].top_functions[].seconds": "number?",
    "children_cpu_seconds": "number?",
    "native_threads": "mapping?",
    "native_threads.cpu_seconds": "number?",
    "native_threads.threads": "number?",
    "gil_measured": "mapping?",
    "gil_measured{}": "number",
    "run_queue": "mapping?",
    "run_queue.share": "number?",
    "run_queue.warn_share": "number?",
    "run_queue.working_threads_seconds": "number?",
}


def _shaped(data: dict) -> dict:
    """``data`` with its nulls dropped where SHAPE allows them; ResultError where a value
    is not what SHAPE says."""
    _check_depth(data)
    data = json.loads(json.dumps(data))  # a private copy to drop nulls from
    for path, kind in SHAPE.items():
        _apply(data, path.replace("[]", ".[]").replace("{}", ".{}").split("."), kind, [])
    return data


def _apply(node, steps: list[str], kind: str, seen: list[str]) -> None:
    step, rest = steps[0], steps[1:]
    if step in ("[]", "{}"):
        if step == "[]" and isinstance(node, list):
            items = list(enumerate(node))
        elif step == "{}" and isinstance(node, dict):
            items = list(node.items())
        else:
            return
        for key, value in items:
            here = seen + [f"[{key}]" if step == "[]" else f".{key}"]
            if rest:
                _apply(value, rest, kind, here)
            elif not _fits(value, kind):
                raise _wrong(here, value, kind)
        return
    if not isinstance(node, dict) or step not in node:
        return
    here = seen + [("." if seen else "") + step]
    if rest:
        _apply(node[step], rest, kind, here)
        return
    value = node[step]
    if value is None and kind.endswith("?"):
        del node[step]
    elif not _fits(value, kind):
        raise _wrong(here, value, kind)


def _fits(value, kind: str) -> bool:
    kind = kind.rstrip("?")
    if kind in ("number", "share"):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return False
        try:
            number = float(value)  # an integer too big for a float overflows here
        except OverflowError:
            return False
        return math.isfinite(number) and (kind == "number" or 0.0 <= number <= 1.0)
    if kind == "text":
        return isinstance(value, str)
    if kind == "scalar":
        return value is None or isinstance(value, (str, int, float, bool))
    if kind == "mapping":
        return isinstance(value, dict)
    if kind == "cores":
        return isinstance(value, dict) and all(str(k).strip().isdecimal() for k in value)
    if kind == "list":
        return isinstance(value, list)
    raise ValueError(kind)


_EXPECTED = {"number": "a number", "share": "a share from 0 to 1", "scalar": "text or a number", "text": "text", "mapping": "an object",
             "cores": "an object keyed by core counts", "list": "a list"}


def _wrong(path: list[str], value, kind: str) -> ResultError:
    where = _one_line("".join(path))
    return ResultError(f"not a concadvisor result ({where[:80]} is {_short(value)}, "
                       f"expected {_EXPECTED[kind.rstrip('?')]})")


def _check_depth(data) -> None:
    stack = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ResultError(f"not a concadvisor result (nested more than {MAX_DEPTH} deep)")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)


def _kind(value) -> str:
    return {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number")


def _short(value) -> str:
    """A value for a one-line message: its JSON, cut short, with no line breaks."""
    try:
        text = json.dumps(value, ensure_ascii=True)
    except (TypeError, ValueError):
        text = _one_line(repr(value))
    return text if len(text) <= 40 else text[:37] + "..."


def load(path: str) -> Result:
    """Read a saved result; ``ResultError`` (one line, naming the file) for anything else."""
    shown = _one_line(path)
    try:
        if os.path.isdir(path):
            raise ResultError(f"result path is a folder, not a file: {shown}")
        if os.path.exists(path) and not os.path.isfile(path):
            raise ResultError(f"result path is not a regular file: {shown}")
        size = os.path.getsize(path)
        if size > MAX_BYTES:
            raise ResultError(f"{shown} is too large to be a concadvisor result ({size // 2**20} MB)")
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ResultError(f"result file not found: {shown}") from None
    except OSError as exc:
        raise ResultError(f"cannot read result file {shown}: {exc.strerror or exc.__class__.__name__}") from None
    if not raw.strip():
        raise ResultError(f"{shown} is empty, not a concadvisor result")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ResultError(f"{shown} is not a concadvisor result (not UTF-8 text)") from None
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise ResultError(f"{shown} is not a concadvisor result (nested too deeply)") from None
    except ValueError as exc:
        detail = f"{exc.msg} at line {exc.lineno}" if hasattr(exc, "lineno") else _one_line(exc)
        raise ResultError(f"{shown} is not valid JSON (truncated or corrupt: {detail})") from None
    try:
        return Result.from_dict(data)
    except ResultError as exc:
        raise ResultError(f"{shown}: {exc}") from None


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _one_line(text) -> str:
    return "".join(ch if ch.isprintable() else "?" for ch in str(text))


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
