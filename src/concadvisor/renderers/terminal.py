"""A short summary for the terminal (stderr): the verdict, the split, the top findings.

On a terminal it is a small Rich table with colour; piped or redirected it is plain text
(the same facts, one per line, easy to grep in CI logs).
"""
from __future__ import annotations

from ..result import Result
from .base import Renderer

LABELS = {"io_wait": "waiting (I/O)", "cpu_gil": "CPU holding the GIL",
          "cpu_nogil": "CPU releasing the GIL", "other": "other"}
STYLES = {"io_wait": "blue", "cpu_gil": "red", "cpu_nogil": "green", "other": "grey50"}


def _headline(result: Result) -> str:
    target = result.target
    return (f"concadvisor: {' '.join(map(str, target.get('argv', [])))} "
            f"ran {result.wall_seconds:.2f} s (exit {target.get('exit_code')}"
            f"{', timed out' if target.get('timed_out') else ''}), backend {result.backend}")


def _verdict(result: Result) -> str:
    rec = result.recommendation
    speed = float(rec.get("estimated_speedup") or 1.0)
    return (f"recommendation: {rec.get('model')}"
            + (f" (about {speed:.1f}x faster on {result.target.get('cpu_count')} cores)"
               if rec.get("model") != "none" else "")
            + f", confidence {float(rec.get('confidence') or 0):.2f}")


def _details(result: Result) -> list[str]:
    rec = result.recommendation
    lines = [f"  why: {reason}" for reason in rec.get("reasons", [])[:2]]
    for finding in result.findings[:3]:
        lines.append(f"  finding: {finding.get('kind')} {finding.get('function')} at {finding.get('location')} "
                     f"({float(finding.get('seconds') or 0):.2f} s)")
    for change in rec.get("changes", [])[:2]:
        lines.append(f"  change: {change.get('loop_location') or change.get('location')} "
                     f"({change.get('unit')}() x{change.get('repeats')}"
                     f"{' or more' if change.get('repeats_at_least') else ''})")
    return lines


class TerminalRenderer(Renderer):
    """Plain text: what a log keeps."""

    def render(self, result: Result) -> str:
        lines = [_headline(result)]
        for key, label in LABELS.items():
            share = float(result.categories.get(key, 0.0))
            bar = "#" * int(round(share * 30))
            lines.append(f"  {label:<22} {share * 100:5.1f}%  {bar}")
        lines.append(_verdict(result))
        lines.extend(_details(result))
        return "\n".join(lines) + "\n"


def print_summary(result: Result, stream) -> None:
    """The summary on ``stream``: a Rich table on a terminal, plain text otherwise."""
    if not _is_terminal(stream):
        stream.write(TerminalRenderer().render(result))
        stream.flush()
        return
    from rich.console import Console
    from rich.table import Table

    console = Console(file=stream, highlight=False)
    seconds = result.extra.get("category_seconds") or {}
    console.print(_headline(result), style="italic", markup=False)
    table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
    table.add_column("where the time went")
    table.add_column("share", justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("", no_wrap=True)
    for key, label in LABELS.items():
        share = float(result.categories.get(key, 0.0))
        table.add_row(label, f"{share * 100:.1f}%",
                      f"{float(seconds[key]):.2f}" if key in seconds else "",
                      f"[{STYLES[key]}]{'█' * int(round(share * 24))}[/]")
    console.print(table)
    console.print(f"[bold]{_verdict(result)}[/bold]")
    for line in _details(result):
        console.print(line, markup=False)


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
