"""A short summary for the terminal (stderr): the verdict, the split, the top findings."""
from __future__ import annotations

from ..result import Result
from .base import Renderer

LABELS = {"io_wait": "waiting (I/O)", "cpu_gil": "CPU holding the GIL",
          "cpu_nogil": "CPU releasing the GIL", "other": "other"}


class TerminalRenderer(Renderer):
    def render(self, result: Result) -> str:
        rec = result.recommendation
        target = result.target
        lines = [
            f"concadvisor: {' '.join(map(str, target.get('argv', [])))} "
            f"ran {result.wall_seconds:.2f} s (exit {target.get('exit_code')}"
            f"{', timed out' if target.get('timed_out') else ''}), backend {result.backend}",
        ]
        for key, label in LABELS.items():
            share = float(result.categories.get(key, 0.0))
            bar = "#" * int(round(share * 30))
            lines.append(f"  {label:<22} {share * 100:5.1f}%  {bar}")
        speed = rec.get("estimated_speedup", 1.0)
        lines.append(f"recommendation: {rec.get('model')}"
                     + (f" (about {speed:.1f}x faster on {target.get('cpu_count')} cores)" if rec.get("model") != "none" else "")
                     + f", confidence {rec.get('confidence', 0):.2f}")
        for reason in rec.get("reasons", [])[:2]:
            lines.append(f"  why: {reason}")
        for finding in result.findings[:3]:
            lines.append(f"  finding: {finding.get('kind')} {finding.get('function')} at {finding.get('location')} "
                         f"({float(finding.get('seconds') or 0):.2f} s)")
        for change in rec.get("changes", [])[:2]:
            lines.append(f"  change: {change.get('loop_location') or change.get('location')} "
                         f"({change.get('unit')}() x{change.get('repeats')})")
        return "\n".join(lines) + "\n"
