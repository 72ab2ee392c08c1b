"""The pictures beside the Markdown report: where the time went, at a glance.

One PNG per report: the run's time split by category, the hot call sites stacked by
category, and (for threaded programs) one bar per working thread. ``compare`` gets its
own: each category and the top call sites before and after. matplotlib is imported here
only, on the Agg canvas (no display needed), so ``concadvisor --help`` stays quick.
"""
from __future__ import annotations

from pathlib import Path

from ..result import Result

CATEGORIES = ("io_wait", "cpu_gil", "cpu_nogil", "other")
COLORS = {"io_wait": "#4C78A8", "cpu_gil": "#E45756", "cpu_nogil": "#54A24B", "other": "#B7B0AA"}
LABELS = {"io_wait": "waiting (I/O, sleep, locks)", "cpu_gil": "CPU holding the GIL",
          "cpu_nogil": "CPU releasing the GIL", "other": "other"}
TOP_SITES = 8
TOP_THREADS = 12
WIDTH = 10.0
LABEL_CHARS = 58
MIN_SITE_SHARE = 0.01


def write_chart(result: Result, path: Path) -> Path:
    """Draw the report's chart to ``path`` (PNG or SVG by its suffix); returns the path.

    Laid out by hand (see ``_stack_axes``), not by matplotlib's constrained layout: that
    measures every label in an extra drawing pass, a third of the drawing's time, and the
    command waits for this picture."""
    figure = _figure(layout=None)
    sites = _site_rows(result.hotspots)
    threads = _thread_rows(result)
    heights = [1.0, max(1.0, 0.42 * len(sites) + 0.3)]
    if threads:
        heights.append(max(1.0, 0.36 * len(threads) + 0.3))
    labels = [r[0] for r in sites + threads]
    axes = _stack_axes(figure, heights, left=_label_inches(figure, labels, LABEL_FONT) + 0.2)
    _split_bar(axes[0], result)
    _stacked(axes[1], sites, "Hot call sites (seconds, by category)",
             "no call sites in your code were measured")
    if threads:
        _stacked(axes[2], threads, "Working threads (seconds, by category)", "")
    rec = result.recommendation
    model = rec.get("model", "none")
    verdict = (f"recommendation: {model}, about {float(rec.get('estimated_speedup') or 1):.1f}x on "
               f"{result.target.get('cpu_count', '?')} cores" if model != "none" else "recommendation: none")
    name = Path(str((result.target.get("argv") or ["target"])[0])).name
    figure.suptitle(f"concadvisor: {name}, {result.wall_seconds:.2f} s wall time\n{verdict}",
                    fontsize=12, fontweight="bold", y=1 - 0.1 / figure.get_figheight(), va="top")
    _legend(figure, loc="lower center", bbox_to_anchor=(0.5, 0.1 / figure.get_figheight()))
    return _save(figure, path)


# The hand-made layout, in inches: room for the two-line title above the first axes, for
# x tick labels plus the next axes' title between two, for ticks and the legend below.
TOP_INCHES, GAP_INCHES, BOTTOM_INCHES, RIGHT_INCHES = 0.85, 0.65, 0.75, 0.35
LABEL_FONT = 8


def _stack_axes(figure, heights: list[float], left: float) -> list:
    """Axes of these heights (inches) one under the other, all starting ``left`` inches in."""
    total = TOP_INCHES + sum(heights) + GAP_INCHES * (len(heights) - 1) + BOTTOM_INCHES
    figure.set_size_inches(WIDTH, total)
    left = min(left, WIDTH / 2)
    axes, top = [], total - TOP_INCHES
    for height in heights:
        bottom = top - height
        axes.append(figure.add_axes((left / WIDTH, bottom / total,
                                     (WIDTH - left - RIGHT_INCHES) / WIDTH, height / total)))
        top = bottom - GAP_INCHES
    return axes


def _label_inches(figure, labels: list[str], size: float) -> float:
    """Width of the widest label, in inches, as the Agg canvas will draw it."""
    if not labels:
        return 0.0
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.font_manager import FontProperties

    renderer = FigureCanvasAgg(figure).get_renderer()
    font = FontProperties(size=size)
    widest = max(renderer.get_text_width_height_descent(text, font, ismath=False)[0]
                 for text in labels)
    return widest / figure.dpi


def write_compare_chart(before: Result, after: Result, path: Path) -> Path:
    """Categories and top call sites, before and after, side by side."""
    import numpy as np

    figure = _figure()
    sites = _compare_sites(before, after)
    heights = [2.6, max(1.8, 0.5 * len(sites) + 1.0)]
    figure.set_size_inches(WIDTH, sum(heights) + 1.1)
    top, bottom = figure.subplots(2, 1, gridspec_kw={"height_ratios": heights})
    names = ["wall time", *CATEGORIES]
    b = [before.wall_seconds, *(_category_seconds(before, c) for c in CATEGORIES)]
    a = [after.wall_seconds, *(_category_seconds(after, c) for c in CATEGORIES)]
    y = np.arange(len(names))
    top.barh(y - 0.2, b, 0.38, color="#9E9E9E", label="before")
    top.barh(y + 0.2, a, 0.38, color=[("#333333" if n == "wall time" else COLORS[n]) for n in names],
             label="after")
    _values(top, y - 0.2, b, "#555555")
    _values(top, y + 0.2, a, "black")
    top.set_yticks(y, [n if n == "wall time" else LABELS[n] for n in names], fontsize=9)
    top.invert_yaxis()
    top.set_title("Seconds before (grey) and after (colour)", loc="left", fontsize=10)
    _tidy(top, max(b + a))
    if sites:
        y = np.arange(len(sites))
        bs = [s[1] for s in sites]
        as_ = [s[2] for s in sites]
        bottom.barh(y - 0.2, bs, 0.38, color="#9E9E9E")
        bottom.barh(y + 0.2, as_, 0.38, color=[COLORS.get(s[3], COLORS["other"]) for s in sites])
        _values(bottom, y - 0.2, bs, "#555555")
        _values(bottom, y + 0.2, as_, "black")
        bottom.set_yticks(y, [s[0] for s in sites], fontsize=8)
        bottom.invert_yaxis()
        _tidy(bottom, max(bs + as_))
    else:
        _empty(bottom, "no call sites to compare")
    bottom.set_title("Top call sites, seconds before (grey) and after (colour)", loc="left", fontsize=10)
    figure.suptitle(f"concadvisor compare: {before.wall_seconds:.2f} s -> {after.wall_seconds:.2f} s "
                    f"({_ratio(before.wall_seconds, after.wall_seconds)})", fontsize=12, fontweight="bold")
    _legend(figure, before=True)
    return _save(figure, path)


def warm_up() -> None:
    """Load what the first drawing would (the figure classes, the Agg canvas, the font)
    by drawing a tiny throwaway figure: a drawing process does this while it waits."""
    import io

    figure = _figure()
    figure.add_subplot().set_title("warm-up", fontsize=10, fontweight="bold")
    figure.savefig(io.BytesIO(), format="png", dpi=20)


def _figure(layout: str | None = "constrained"):
    from matplotlib.figure import Figure

    return Figure(dpi=100, layout=layout)


def _save(figure, path: Path) -> Path:
    path = Path(path)
    kind = "svg" if path.suffix.lower() == ".svg" else "png"
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        figure.savefig(tmp, format=kind, dpi=110, facecolor="white",
                       metadata={"Software": "concadvisor"} if kind == "png" else {"Date": None})
        tmp.replace(path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _legend(figure, before: bool = False, **where) -> None:
    from matplotlib.patches import Patch

    handles = [Patch(color=COLORS[c], label=LABELS[c]) for c in CATEGORIES]
    if before:
        handles.insert(0, Patch(color="#9E9E9E", label="before"))
    figure.legend(handles=handles, ncols=len(handles), fontsize=9, frameon=False,
                  **(where or {"loc": "outside lower center"}))


def _values(ax, ys, values, color: str) -> None:
    """Seconds written at the end of each bar; nothing for an empty bar."""
    for yy, value in zip(ys, values):
        if value >= 0.005:
            ax.text(value, yy, f" {value:.2f}", va="center", fontsize=8, color=color)


def _split_bar(ax, result: Result) -> None:
    seconds = result.extra.get("category_seconds") or {}
    left = 0.0
    for c in CATEGORIES:
        share = float(result.categories.get(c, 0.0))
        if share <= 0:
            continue
        ax.barh(0, share, left=left, color=COLORS[c], height=0.6)
        if share >= 0.07:
            text = f"{share * 100:.0f}%"
            if c in seconds:
                text += f"\n{float(seconds[c]):.2f} s"
            ax.text(left + share / 2, 0, text, ha="center", va="center", fontsize=9,
                    color="white" if c != "other" else "black", fontweight="bold")
        left += share
    ax.set_xlim(0, max(left, 1.0))
    ax.set_ylim(-0.5, 0.5)
    ax.set_yticks([])
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0], ["0%", "25%", "50%", "75%", "100%"], fontsize=8)
    working = [t for t in result.extra.get("threads") or [] if t.get("counted")]
    over = f", summed over {len(working)} working threads" if len(working) > 1 else ""
    ax.set_title(f"Where the time went (share of the measured time{over})", loc="left", fontsize=10)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)


def _stacked(ax, rows, title: str, empty: str) -> None:
    """Horizontal bars, one per row (label, {category: seconds}), biggest on top."""
    ax.set_title(title, loc="left", fontsize=10)
    if not rows:
        _empty(ax, empty)
        return
    labels = [r[0] for r in rows]
    y = list(range(len(rows)))
    lefts = [0.0] * len(rows)
    for c in CATEGORIES:
        values = [float(r[1].get(c, 0.0)) for r in rows]
        if any(values):
            ax.barh(y, values, left=lefts, color=COLORS[c], height=0.65)
        lefts = [a + b for a, b in zip(lefts, values)]
    for yy, total in zip(y, lefts):
        ax.text(total, yy, f" {total:.2f} s", va="center", fontsize=8)
    ax.set_yticks(y, labels, fontsize=LABEL_FONT)
    ax.invert_yaxis()
    _tidy(ax, max(lefts))


def _tidy(ax, largest: float) -> None:
    ax.set_xlim(0, max(largest, 1e-3) * 1.15)
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(axis="x", color="#E6E6E6", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=9, color="#777777", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _site_rows(hotspots: list[dict]) -> list[tuple[str, dict]]:
    rows = []
    largest = max([float(h.get("seconds") or 0) for h in hotspots] or [0.0])
    for h in hotspots[:TOP_SITES]:
        if float(h.get("seconds") or 0) < max(MIN_SITE_SHARE * largest, 0.005):
            continue
        seconds = float(h.get("seconds") or 0)
        split = {k: float(v or 0) for k, v in (h.get("split") or {}).items()}
        known = sum(split.values())
        # the bar is the call site's seconds; its split gives the colours (a sampler's split
        # may cover only part of the seconds, so it is scaled to them)
        split = ({k: v * seconds / known for k, v in split.items()} if known > 0
                 else {h.get("category", "other"): seconds})
        rows.append((site_label(h.get("function"), h.get("location")), split))
    return rows


def _thread_rows(result: Result) -> list[tuple[str, dict]]:
    threads = [t for t in result.extra.get("threads") or [] if t.get("counted")]
    if len(threads) < 2:
        return []
    rows = []
    for t in threads[:TOP_THREADS]:
        split = t.get("categories") or {}
        if not split:
            cpu = float(t.get("cpu_seconds") or 0)
            split = {"cpu_gil": cpu, "io_wait": max(float(t.get("wall_seconds") or 0) - cpu, 0.0)}
        rows.append((_short(str(t.get("name"))), split))
    return rows


def _category_seconds(result: Result, category: str) -> float:
    seconds = result.extra.get("category_seconds") or {}
    if category in seconds:
        return float(seconds[category])
    return float(result.categories.get(category, 0.0)) * result.wall_seconds


def _compare_sites(before: Result, after: Result) -> list[tuple[str, float, float, str]]:
    from .compare import matched_hotspots

    return [(site_label(row.function, row.location), row.before, row.after, row.category)
            for row in matched_hotspots(before, after)[:TOP_SITES]]


def _ratio(before: float, after: float) -> str:
    if after > 0 and before > 0:
        return f"{before / after:.2f}x faster" if before >= after else f"{after / before:.2f}x slower"
    return "n/a"


def site_label(function, location) -> str:
    """``function (file.py:12)``: the call and the file's own name, short enough for an axis."""
    where = Path(str(location or "")).name
    name = _short(str(function or "?"), LABEL_CHARS - len(where) - 3)
    return f"{name} ({where})" if where else name


def _short(text: str, limit: int = LABEL_CHARS) -> str:
    text = " ".join(str(text).split())
    limit = max(limit, 12)
    return text if len(text) <= limit else "..." + text[-(limit - 3):]
