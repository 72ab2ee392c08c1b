"""Two saved results side by side: did the refactor pay off, and where did the time move?

Wall time, each category (seconds and share), the recommended model and its estimate,
and the top call sites before and after, each with the change. Call sites are matched
by call and file:line first, then by call and file alone (a refactor moves lines), then
by call alone when it is unique (the refactor may be a new file).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..result import Result
from .markdown import LABELS, MODEL_NAMES, _table, code, md

TOP = 10
TINY = 0.01  # seconds below which a change is noise, not news


@dataclass
class SiteChange:
    function: str
    location: str
    category: str
    before: float
    after: float
    moved_from: str = ""


def matched_hotspots(before: Result, after: Result, top: int = TOP) -> list[SiteChange]:
    """The union of both runs' top call sites, biggest (before or after) first."""
    rows: list[SiteChange] = []
    unmatched = list(after.hotspots)
    for h in before.hotspots:
        twin = _twin(h, unmatched)
        if twin is not None:
            unmatched.remove(twin)
        location = (twin or h).get("location", "")
        moved = h.get("location", "") if twin is not None and twin.get("location") != h.get("location") else ""
        rows.append(SiteChange(str(h.get("function")), str(location), str((twin or h).get("category", "")),
                               _seconds(h), _seconds(twin) if twin else 0.0, moved))
    for h in unmatched:
        rows.append(SiteChange(str(h.get("function")), str(h.get("location", "")),
                               str(h.get("category", "")), 0.0, _seconds(h)))
    rows.sort(key=lambda r: max(r.before, r.after), reverse=True)
    return rows[:top]


def _twin(site: dict, candidates: list[dict]) -> dict | None:
    for other in candidates:
        if other.get("function") == site.get("function") and other.get("location") == site.get("location"):
            return other
    same_file = [o for o in candidates if o.get("function") == site.get("function")
                 and _file(o.get("location")) == _file(site.get("location"))]
    if len(same_file) == 1:
        return same_file[0]
    same_call = [o for o in candidates if o.get("function") == site.get("function")]
    return same_call[0] if len(same_call) == 1 else None


def _file(location) -> str:
    return str(location or "").rpartition(":")[0]


def _seconds(site: dict | None) -> float:
    return float((site or {}).get("seconds") or 0.0)


class CompareRenderer:
    """``render(before, after) -> str``: the Markdown comparison."""

    extension = ".md"

    def __init__(self, chart: str | None = None, names: tuple[str, str] = ("before", "after")):
        self.chart = chart
        self.names = names

    def render(self, before: Result, after: Result) -> str:
        parts = [self._summary(before, after), self._measures(before, after),
                 self._hotspots(before, after), self._findings(before, after)]
        return "\n".join(p for p in parts if p).rstrip() + "\n"

    def _summary(self, b: Result, a: Result) -> str:
        left, right = self.names
        verdict = _verdict(b.wall_seconds, a.wall_seconds)
        chart = f"\n\n![Before and after]({self.chart})" if self.chart else ""
        commands = _table(["", "Command", "Result file"], [
            ("Before", code(_argv(b)), code(left)), ("After", code(_argv(a)), code(right))])
        return (f"# concadvisor compare\n\n**{verdict}**: wall time {b.wall_seconds:.2f} s before, "
                f"{a.wall_seconds:.2f} s after.\n\n{commands}{chart}\n")

    def _measures(self, b: Result, a: Result) -> str:
        rows = [("Wall time", f"{b.wall_seconds:.2f} s", f"{a.wall_seconds:.2f} s",
                 _change(b.wall_seconds, a.wall_seconds))]
        for key, label in LABELS.items():
            sb, sa = _category_seconds(b, key), _category_seconds(a, key)
            rows.append((f"{md(label)} ({code(key)})",
                         f"{sb:.2f} s ({float(b.categories.get(key, 0)) * 100:.0f}%)",
                         f"{sa:.2f} s ({float(a.categories.get(key, 0)) * 100:.0f}%)", _change(sb, sa)))
        rb, ra = b.recommendation, a.recommendation
        rows.append(("Recommended model", _model(rb), _model(ra),
                     "same" if rb.get("model") == ra.get("model") else "changed"))
        eb, ea = float(rb.get("estimated_speedup") or 1), float(ra.get("estimated_speedup") or 1)
        rows.append(("Estimated speedup still available", f"{eb:.2f}x", f"{ea:.2f}x",
                     f"{ea - eb:+.2f}x"))
        rows.append(("Findings", str(len(b.findings)), str(len(a.findings)),
                     f"{len(a.findings) - len(b.findings):+d}"))
        note = ("\n\nCategory seconds are summed over the threads that did work: once waits overlap "
                "(threads, asyncio) they can stay as long while the wall time drops.")
        return "## Before and after\n\n" + _table(["Measure", "Before", "After", "Change"], rows) + note + "\n"

    def _hotspots(self, b: Result, a: Result) -> str:
        sites = matched_hotspots(b, a)
        if not sites:
            return "## Top call sites\n\nNo call sites were measured in either run.\n"
        rows = []
        for s in sites:
            where = code(s.location) + (f" (was {code(s.moved_from)})" if s.moved_from else "")
            rows.append((code(s.function), where, code(s.category) if s.category else "",
                         f"{s.before:.3f}" if s.before else "-", f"{s.after:.3f}" if s.after else "-",
                         _change(s.before, s.after)))
        return ("## Top call sites\n\nSeconds at each call site in your code (summed over the working "
                "threads), matched by call and file.\n\n"
                + _table(["Call", "Where", "Category", "Before s", "After s", "Change"], rows) + "\n")

    def _findings(self, b: Result, a: Result) -> str:
        def kinds(r: Result) -> dict:
            out: dict = {}
            for f in r.findings:
                out.setdefault(f.get("kind"), []).append(f)
            return out
        kb, ka = kinds(b), kinds(a)
        if not kb and not ka:
            return ""
        rows = []
        for kind in sorted(set(kb) | set(ka), key=str):
            fb, fa = kb.get(kind, []), ka.get(kind, [])
            state = "fixed" if fb and not fa else "new" if fa and not fb else "still there"
            rows.append((code(kind), str(len(fb)), str(len(fa)), state,
                         ", ".join(code(f.get("location")) for f in fa[:3]) or "-"))
        return "## Findings\n\n" + _table(["Kind", "Before", "After", "", "Where now"], rows) + "\n"


def _argv(r: Result) -> str:
    return " ".join(map(str, r.target.get("argv", []))) or "?"


def _model(rec: dict) -> str:
    model = rec.get("model", "none")
    return MODEL_NAMES.get(model, md(model))


def _category_seconds(r: Result, key: str) -> float:
    seconds = r.extra.get("category_seconds") or {}
    if key in seconds:
        return float(seconds[key])
    return float(r.categories.get(key, 0.0)) * r.wall_seconds


def _change(before: float, after: float) -> str:
    """``-1.20 s (3.1x faster)``: the delta, and the ratio when both sides are measurable."""
    delta = after - before
    if max(before, after) < TINY:
        return "-"
    if before < TINY / 10:
        return f"{delta:+.2f} s (new)"
    if after < TINY / 10:
        return f"{delta:+.2f} s (gone)"
    ratio = before / after
    if abs(ratio - 1) < 0.03:
        return f"{delta:+.2f} s (same)"
    return f"{delta:+.2f} s ({ratio:.1f}x less)" if ratio > 1 else f"{delta:+.2f} s ({1 / ratio:.1f}x more)"


def _verdict(before: float, after: float) -> str:
    if before <= 0 or after <= 0:
        return "Not comparable"
    ratio = before / after
    if ratio >= 1.03:
        return f"{ratio:.2f}x faster"
    if ratio <= 1 / 1.03:
        return f"{1 / ratio:.2f}x slower"
    return "About the same speed"

