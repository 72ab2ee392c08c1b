"""Writing a report with what goes beside it: the Markdown, its chart, the JSON.

The chart is a picture next to the report (same stem, ``.png``), linked by a relative
path so the folder can be moved or committed as a whole. A chart that can't be drawn
never costs the report: the report is written without the link and the reason is given.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from ..output import write_atomic
from ..result import Result
from .chart_process import ChartNotDrawn, ChartProcess


@dataclass
class Written:
    report: Path
    json: Path | None = None
    chart: Path | None = None
    speedscope: Path | None = None
    problems: list[str] = field(default_factory=list)


def chart_path(report: Path) -> Path:
    """``app.md`` -> ``app.png`` (``app.chart.png`` if the report itself is called ``.png``)."""
    report = Path(report)
    return report.with_suffix(".chart.png" if report.suffix.lower() == ".png" else ".png")


def link(target: Path, page: Path) -> str:
    """``target`` relative to the page's folder, safe inside a Markdown link."""
    rel = os.path.relpath(Path(target).absolute(), Path(page).absolute().parent)
    return quote(rel.replace(os.sep, "/"))


def write_report(result: Result, report: Path, json_path: Path | None = None,
                 chart: bool = True, drawer=None) -> Written:
    """``drawer``: a ``ChartProcess`` started earlier, which draws while the rest is written."""
    from .json import JSONRenderer
    from .markdown import MarkdownRenderer

    written = Written(Path(report), Path(json_path) if json_path else None)
    chart = chart and not _charts_off()
    if chart and json_path and Path(json_path).absolute() == chart_path(report).absolute():
        written.problems.append(f"chart not written: {json_path} is the JSON result")
        chart = False
    if not chart:
        if drawer is not None:
            drawer.close()
        drawer = None
    elif drawer is None:
        drawer = ChartProcess.here()
    if drawer is not None:
        drawer.request(result, chart_path(report))
    if json_path:
        write_atomic(json_path, JSONRenderer().render(result))
    if drawer is not None:
        written.chart = _draw(lambda path: drawer.wait(), report, written)
    page = MarkdownRenderer(chart=link(written.chart, report) if written.chart else None)
    write_atomic(report, page.render(result))
    return written


def write_comparison(before: Result, after: Result, report: Path, names: tuple[str, str],
                     chart: bool = True) -> Written:
    from .compare import CompareRenderer

    written = Written(Path(report))
    if chart and not _charts_off():
        written.chart = _draw(lambda path: _chart_module().write_compare_chart(before, after, path),
                              report, written)
    page = CompareRenderer(chart=link(written.chart, report) if written.chart else None, names=names)
    write_atomic(report, page.render(before, after))
    return written


def chart_drawer():
    """A drawer to ``start`` once the target runs (it then draws in a process of its own,
    prepared meanwhile); use it with ``with`` so an unused one is let go. With charts
    off, ``start`` does nothing."""
    return ChartProcess(start=False, may_start=not _charts_off())


def _charts_off() -> bool:
    """CONCADVISOR_NO_CHART=1 skips the picture (matplotlib's import and drawing)."""
    return os.environ.get("CONCADVISOR_NO_CHART", "") not in ("", "0")


def _chart_module():
    from . import chart

    return chart


def _draw(draw, report: Path, written: Written) -> Path | None:
    path = chart_path(report)
    try:
        return draw(path)
    except Exception as exc:  # a picture is a nicety; never lose the report over it
        why = str(exc) if isinstance(exc, ChartNotDrawn) else f"{exc.__class__.__name__}: {exc}"
        written.problems.append(f"chart not written ({why})")
        return None


def write_speedscope(measurement, path: Path, name: str) -> Path:
    from .speedscope import to_json

    write_atomic(path, to_json(measurement, name))
    return Path(path)
