"""The Markdown report: what a reviewer needs to decide a refactor, with the numbers."""
from __future__ import annotations

import os
import re

from ..result import Result
from .base import Renderer
from .scale import beyond_one_machine
from .sketch import render as render_sketch, repeats_text, sketches_for

LABELS = {"io_wait": "Waiting (I/O, sleep, locks, child processes)",
          "cpu_gil": "CPU holding the GIL (Python code, json, re...)",
          "cpu_nogil": "CPU in native code releasing the GIL (hashlib, zlib...)",
          "other": "Other (not attributable)"}
MODEL_NAMES = {"asyncio": "asyncio", "threads": "threads", "multiprocessing": "multiprocessing",
               "asyncio+multiprocessing": "asyncio + a process pool", "none": "no change"}

_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&#])")
_BLOCK_START = re.compile(r"^(\s*\d{0,9})([-+.)])(?=\s|$)")  # would start a list
_BACKTICKS = re.compile(r"`+")


def _one_line(text) -> str:
    """Every kind of line break (\\r, \\n, \\u2028...) as a space: a table row is one line."""
    return " ".join(str(text).splitlines())


def md(text) -> str:
    """Escape Markdown and HTML in names that come from the user's program."""
    return _BLOCK_START.sub(r"\1\\\2", _SPECIAL.sub(r"\\\1", _one_line(text)))


def code(text) -> str:
    """Inline code that survives backticks and pipes in the text: the fence is longer
    than any run of backticks inside, padded when the text starts or ends with one."""
    text = _one_line(text).replace("|", "\\|")
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(text)), default=0) + 1)
    pad = " " if (text[:1] == "`" or text[-1:] == "`"
                  or (text[:1] == " " and text[-1:] == " " and text.strip())) else ""
    return f"{fence}{pad}{text}{pad}{fence}"


class MarkdownRenderer(Renderer):
    extension = ".md"

    def __init__(self, chart: str | None = None):
        self.chart = chart

    def render(self, result: Result) -> str:
        parts = [self._summary(result), self._split(result), self._checklist(result),
                 self._recommendation(result), beyond_one_machine(result), self._findings(result),
                 self._hotspots(result), self._threads(result), children_section(result), self._method(result)]
        return "\n".join(p for p in parts if p).rstrip() + "\n"

    def _summary(self, r: Result) -> str:
        rec, target = r.recommendation, r.target
        argv = " ".join(map(str, target.get("argv", [])))
        model = rec.get("model", "none")
        verdict = (f"**Recommendation: {MODEL_NAMES.get(model, md(model))}**, estimated "
                   f"**{float(rec.get('estimated_speedup', 1)):.1f}x** faster on this machine's "
                   f"{target.get('cpu_count')} cores (confidence {float(rec.get('confidence', 0)):.2f})."
                   if model != "none" else
                   f"**Recommendation: none**: run the work without concurrency, estimated "
                   f"**{float(rec.get('estimated_speedup', 1)):.1f}x** faster on this machine "
                   f"(confidence {float(rec.get('confidence', 0)):.2f})."
                   if float(rec.get("estimated_speedup", 1) or 1) > 1 else
                   f"**Recommendation: none**: no concurrency model is worth the change here "
                   f"(confidence {float(rec.get('confidence', 0)):.2f}).")
        reasons = "".join(f"\n- {md(x)}" for x in rec.get("reasons", []))
        status = []
        if target.get("timed_out"):
            status.append("stopped by --timeout")
        if target.get("interrupted"):
            status.append("interrupted (Ctrl-C)")
        if target.get("signal"):
            status.append(f"ended by signal {target.get('signal')}")
        if target.get("error"):
            status.append(f"raised {md(target.get('error'))}")
        partial = f"\n\n> Partial profile: the target was {', '.join(status)}; the figures cover what ran." if status else ""
        partial += busy_warning(r)
        rows = [("Command", code(argv)), ("Python", f"{md(target.get('python', ''))} "
                                                   f"({'GIL enabled' if target.get('gil_enabled', True) else 'free-threaded, GIL disabled'})"
                                                   + (f" {code(target['python_executable'])}" if target.get("python_executable") else "")),
                ("Backend", md(r.backend)), ("Wall time", f"{r.wall_seconds:.2f} s"),
                ("Exit code", md(target.get("exit_code"))), ("Cores", md(target.get("cpu_count")))]
        table = _table(["", ""], rows)
        chart = (f"\n\n![Where the time went: the split by category, the hot call sites and the threads]"
                 f"({self.chart})" if self.chart else "")
        title = md((target.get("argv") or ["target"])[0])
        return f"# concadvisor report: {title}\n\n{verdict}{reasons}{partial}\n\n{table}{chart}\n"

    def _split(self, r: Result) -> str:
        seconds = r.extra.get("category_seconds", {})
        rows = [(LABELS[k], code(k), f"{float(r.categories.get(k, 0)) * 100:.1f}%",
                 f"{float(seconds.get(k, 0)):.2f}") for k in LABELS]
        gil = float(r.extra.get("gil_wait_seconds") or 0)
        note = (f"\n\nOf the GIL-holding time, {gil:.2f} s was threads queueing for the GIL." if gil > 0.01 else "")
        note += _worker_wait_note(r)
        return "## Where the time goes\n\n" + _table(["Category", "Key", "Share", "Seconds"], rows) + note + "\n"

    def _checklist(self, r: Result) -> str:
        rows = [(md(a.get("question", "")), f"**{md(a.get('answer', ''))}**", md(a.get("evidence", "")))
                for a in r.recommendation.get("checklist", [])]
        return "## Decision checklist\n\n" + _table(["Question", "Answer", "Evidence (measured)"], rows) + "\n"

    def _recommendation(self, r: Result) -> str:
        rec = r.recommendation
        model = rec.get("model", "none")
        lines = ["## Recommendation", ""]
        lines.append(f"Model: **{MODEL_NAMES.get(model, md(model))}**"
                     + (f"; alternatives: {', '.join(md(a) for a in rec.get('alternatives', []))}"
                        if rec.get("alternatives") else ""))
        current = rec.get("current_model")
        if current:
            lines.append(f"\nThe program already uses {md(current)}.")
        estimates = rec.get("estimates", {})
        if estimates:
            rows = [(MODEL_NAMES.get(m, md(m)), f"{float(s):.2f}x") for m, s in estimates.items()]
            lines += ["", "Estimated speedup of each model on this machine:", "",
                      _table(["Model", "Estimated speedup"], rows)]
        close = rec.get("close_call") or {}
        named = [m for m in (close.get("models") or []) if isinstance(m, str)] if isinstance(close, dict) else []
        if len(named) >= 2:
            current = rec.get("current_model")
            # For a program already concurrent, "none" is running without it, not leaving it.
            first, second = (("no concurrency (a plain loop)" if m == "none" and current else MODEL_NAMES.get(m, md(m)))
                             for m in named[:2])
            lines += ["", f"**Close call**: {md(close.get('why', ''))}. Another run may pick {second}; "
                          f"{first} is chosen here (within the margin, the smaller change and the "
                          "checklist's order decide). Measure both if the choice matters."]
        changes = rec.get("changes", [])
        if changes:
            lines += ["", "### The change to make", ""]
            for change in changes:
                loop = change.get("loop_location")
                lines.append(f"- {code(change.get('call'))} at {code(change.get('location'))} "
                             f"in {code(change.get('function'))}: {float(change.get('seconds', 0)):.2f} s"
                             + (f"; the loop at {code(loop)} runs {code(change.get('unit'))} "
                                f"{repeats_text(change)} times" if loop else ""))
        sketches = sketches_for(model, changes, r.findings,
                                child_cores=int(r.target.get("cpu_count") or 1) if cpu_bound_children(r) else None)
        if sketches:
            lines += ["", "### Before and after, at your lines", ""]
            for sketch in sketches:
                lines += [render_sketch(sketch), ""]
        return "\n".join(lines).rstrip() + "\n"

    def _findings(self, r: Result) -> str:
        if not r.findings:
            return "## Findings\n\nNone: no blocking call in an event loop, no GIL contention.\n"
        rows = [(code(f.get("kind")), code(f.get("function")), code(f.get("location")),
                 f"{float(f.get('seconds') or 0):.2f}", md(f.get("detail", "")), md(f.get("fix", "")))
                for f in r.findings]
        return "## Findings\n\n" + _table(["Kind", "Call", "Where", "Seconds", "What happened", "Fix"], rows) + "\n"

    def _hotspots(self, r: Result) -> str:
        if not r.hotspots:
            return "## Hotspots\n\nNo call sites were measured.\n"
        rows = [(code(h.get("function")), code(h.get("location")), code(h.get("category")),
                 f"{float(h.get('seconds') or 0):.3f}",
                 ("≥ " if h.get("calls_at_least") else "") + md(h.get("calls")))
                for h in r.hotspots]
        return "## Hotspots\n\n" + _table(["Call", "Where", "Category", "Seconds", "Calls"], rows) + "\n"

    def _threads(self, r: Result) -> str:
        threads = r.extra.get("threads") or []
        if len(threads) <= 1:
            return ""
        rows = [(md(t.get("name")), f"{float(t.get('wall_seconds') or 0):.2f}",
                 "?" if t.get("cpu_seconds") is None else f"{float(t['cpu_seconds']):.2f}",
                 "yes" if t.get("counted") else "no (idle)") for t in threads[:40]]
        more = f"\n\n({len(threads) - 40} more threads not shown)" if len(threads) > 40 else ""
        return "## Threads\n\n" + _table(["Thread", "Wall s", "CPU s", "Counted"], rows) + more + "\n"

    def _method(self, r: Result) -> str:
        work = r.recommendation.get("work", {})
        notes = "".join(f"\n- {md(n)}" for n in r.extra.get("notes", []))
        inputs = ", ".join(f"{k} = {v}" for k, v in work.items())
        where = ("The block ran in the measuring program's own process" if r.target.get("block")
                 else "The target ran in its own process")
        return ("## How this was measured\n\n"
                f"{where} under the `{md(r.backend)}` backend. Native calls are "
                "classified from a catalog (waits, GIL-holding, GIL-releasing); the rest from each thread's "
                "CPU clock. The estimate divides today's measured time by the time each model would take, "
                "bounded by lanes (the independent repeats measured), the GIL and this machine's cores "
                "(see the README, \"How the estimate works\")."
                + (f"\n\nSpeedup model inputs: {md(inputs)}." if inputs else "") + notes + "\n")


# Child processes that were on a CPU this share of their lives or more are CPU-bound.
CPU_BOUND_CHILDREN = 0.5
CHILD_ROWS = 40


def children_section(r: Result) -> str:
    """Which child process ran what (``children``, py-spy), or their total CPU (rusage)
    when the backend saw the target's process only."""
    children = [c for c in (r.extra.get("children") or []) if isinstance(c, dict)]
    total = float(r.extra.get("children_cpu_seconds") or 0.0)
    if not children:
        if total < 0.05:
            return ""
        if r.extra.get("children_detail") == "per_process":
            why = ("py-spy sampled none of them (too short-lived to be caught, or not Python): "
                   "the figure is rusage's, for the children the target waited for.")
        else:
            why = ("rusage's figure, for the children the target waited for. What each one ran, and "
                   "its own split, needs the default backend (py-spy: `--backend auto` or `pyspy`).")
        return (f"## Child processes\n\nThe target's child processes used {total:.2f} s of CPU: "
                + why + "\n" + _children_advice(r, total, None))
    rows = []
    for c in children[:CHILD_ROWS]:
        cats = c.get("categories") or {}
        entry = c.get("entry") or {}
        ran = (f"{code(entry.get('function'))} at {code(entry.get('location'))}" if entry.get("function") else "?")
        tops = c.get("top_functions") or []
        hot = (f"{code(tops[0].get('function'))} at {code(tops[0].get('location'))} "
               f"({float(tops[0].get('seconds') or 0):.2f} s, {md(tops[0].get('category'))})" if tops else "")
        rows.append((md(c.get("pid")), code(c.get("command") or "?"), ran,
                     f"{float(c.get('wall_seconds') or 0):.2f}", f"{float(c.get('cpu_seconds') or 0):.2f}",
                     *(f"{float(cats.get(k) or 0) * 100:.0f}%" for k in ("io_wait", "cpu_gil", "cpu_nogil")), hot))
    more = f"\n\n({len(children) - CHILD_ROWS} more child processes not shown)" if len(children) > CHILD_ROWS else ""
    cpu = sum(float(c.get("cpu_seconds") or 0) for c in children)
    head = (f"The target started {len(children)} child process{'es' if len(children) != 1 else ''} that py-spy "
            f"sampled (their own split below; the split above is the target's, its waiting on them included). "
            f"Sampled CPU in them: {cpu:.2f} s; rusage of the children the target waited for: {total:.2f} s.")
    table = _table(["PID", "Command", "Ran", "Wall s", "CPU s", "io_wait", "cpu_gil", "cpu_nogil", "Hottest"], rows)
    return "## Child processes\n\n" + head + "\n\n" + table + more + "\n" + _children_advice(r, max(cpu, total), children)


def cpu_bound_children(r: Result) -> float:
    """CPU seconds of the target's child processes when they computed (CPU-bound, a good
    share of the target's waiting), else 0."""
    children = [c for c in (r.extra.get("children") or []) if isinstance(c, dict)]
    cpu = max(float(r.extra.get("children_cpu_seconds") or 0.0),
              sum(float(c.get("cpu_seconds") or 0) for c in children))
    wall = sum(float(c.get("wall_seconds") or 0) for c in children)
    waited = float((r.extra.get("category_seconds") or {}).get("io_wait") or 0.0)
    if cpu < 0.1 or cpu < 0.2 * waited or (children and wall > 0 and cpu / wall < CPU_BOUND_CHILDREN):
        return 0.0
    return cpu


def _children_advice(r: Result, cpu: float, children) -> str:
    """What the target's wait on its children means for concurrency."""
    if cpu < 0.1:
        return ""
    cores = int(r.target.get("cpu_count") or 1)
    wall = sum(float(c.get("wall_seconds") or 0) for c in children) if children else 0.0
    if children and wall > 0 and cpu / wall < CPU_BOUND_CHILDREN:
        return (f"\nThe children were on a CPU {cpu / wall * 100:.0f}% of their lives: mostly waiting "
                "themselves, so running more of them at once needs few cores.\n")
    return (f"\nThe target's waiting on its child processes is not I/O to overlap: they computed {cpu:.2f} s "
            f"of CPU{' (CPU-bound)' if children else ''}. Overlapped, they share this machine's {cores} cores: "
            f"running the jobs concurrently gains at most {cores}x on that part ({cpu / max(cores, 1):.2f} s at "
            f"best instead of {cpu:.2f} s). For sequential CPU-bound jobs, run them concurrently bounded by the "
            f"cores: at most {cores} at a time (a `ThreadPoolExecutor(max_workers={cores})` around the "
            f"`subprocess.run` calls, {cores} `Popen` in flight, or {cores} `multiprocessing.Process` at once).\n")


def busy_warning(r: Result) -> str:
    """A warning under the verdict when the target waited long for a CPU (``run_queue``)."""
    found = r.extra.get("run_queue")
    if not isinstance(found, dict) or not found.get("measured"):
        return ""
    share, limit = float(found.get("share") or 0.0), float(found.get("warn_share") or 0.20)
    if share < limit:
        return ""
    return (f"\n\n> **Busy machine**: the target waited {float(found.get('working_threads_seconds') or 0):.2f} s "
            f"for a CPU ({share * 100:.0f}% of its time): another program was running. That time is "
            "taken out of the split, but from this much waiting on the split is uncertain (its "
            "shares may be off by 0.05 or more): profile again on a quieter machine to confirm.")


def _table(headers, rows) -> str:
    head = "| " + " | ".join(headers) + " |"
    rule = "|" + "|".join("---" for _ in headers) + "|"
    body = ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join([head, rule, *body])


def _worker_wait_note(r: Result) -> str:
    """Waiting on the program's own threads: not in the split (the work is in the workers)."""
    seconds = float(r.extra.get("worker_wait_seconds") or 0)
    if seconds < 0.01:
        return ""
    parts = r.extra.get("worker_wait") or {}
    kinds = [("joins", "futures, joins and locks"), ("idle_workers", "pool threads idle between tasks"),
             ("event_loop", "the event loop idle while its executor threads worked"),
             ("processes", "waiting on its worker processes")]
    listed = ", ".join(f"{float(parts.get(key) or 0):.2f} s {label}" for key, label in kinds
                       if float(parts.get(key) or 0) >= 0.005)
    at = parts.get("where") or {}
    place = ""
    if at:
        line = f"{os.path.basename(str(at.get('file', '')))}:{at.get('line', 0)}"
        place = f"; the longest at {md(str(at.get('callee', '')))} in {md(str(at.get('function', '')))}() at {code(line)}"
    work = parts.get("children_work") or {}
    instead = (f" In its place the split counts the worker processes' {sum(float(v) for v in work.values()):.2f} s "
               "inside the program's tasks.") if work else ""
    return (f"\n\nNot in the split: {seconds:.2f} s waiting on the program's own workers ({listed}{place}). "
            "The work is where the workers are: this is neither I/O to overlap nor work to spread." + instead)
