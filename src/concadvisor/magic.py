"""``%load_ext concadvisor``: measure a notebook cell as ``with advise():`` measures a block.

``%%concadvisor [-o PATH] [--json PATH] [--backend NAME]`` on a cell, or ``%concadvisor
[options] statement`` on one line, runs the code in the notebook's namespace under
measurement and shows the report below it: the Markdown and the chart. The cell's value
(its last expression) is the magic's, as without it; the Result is kept as
``_concadvisor`` in the namespace. A cell with ``await`` at its top level runs as a
coroutine on an event loop, as IPython runs it, and is measured as asyncio code.

The cell is written to a file of its own (``concadvisor-cells/cellN.py`` in the temporary
folder) and compiled from there: the report's call sites point at its lines, and its
loops are counted as a script's are. An exception in the cell shows the report for what
ran, then goes on to IPython unchanged.
"""
from __future__ import annotations

import ast
import asyncio
import hashlib
import inspect
import os
import tempfile
import threading
from pathlib import Path

from IPython.core.error import UsageError as IPythonUsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class

from .api import Advice, UsageError

VALUE = "__concadvisor_value__"  # where the cell's last expression is put while it runs
USAGE = "%%concadvisor [-o PATH] [--json PATH] [--backend auto|pyspy|cprofile|yappi]"


@magics_class
class ConcadvisorMagics(Magics):

    @line_cell_magic
    def concadvisor(self, line: str, cell: str | None = None):
        """Measure a cell (``%%concadvisor``) or a statement (``%concadvisor STATEMENT``)
        and show concadvisor's report below it: where the time goes, the recommended
        concurrency model and its estimated speedup, the chart.

        Options: ``-o PATH`` also writes the Markdown report there (the chart beside
        it, .png); ``--json PATH`` the JSON result; ``--backend NAME``: auto (py-spy
        from outside, cProfile where it can't), pyspy, cprofile or yappi. The Result is
        kept as ``_concadvisor``.
        """
        opts, rest = self.parse_options(line, "o:", "backend=", "json=", posix=False, strict=False,
                                        preserve_non_opts=True)
        source = cell if cell is not None else rest
        if cell is not None and rest.strip():
            raise IPythonUsageError(f"unexpected {rest.strip()!r} after the options ({USAGE})")
        if not source.strip():
            raise IPythonUsageError(f"nothing to measure ({USAGE}, or %concadvisor STATEMENT)")
        shell = self.shell
        number = getattr(shell, "execution_count", 0)
        filename = cell_file(source, number)
        try:
            advice = Advice(report=_option(opts, "o"), json=_option(opts, "json"),
                            backend=_option(opts, "backend") or "auto",
                            label=f"%%concadvisor cell In[{number}]", namespaces=(shell.user_ns,),
                            first_file=filename)
        except UsageError as exc:
            raise IPythonUsageError(str(exc)) from None
        code = CellCode(shell.transform_cell(source), filename)  # a SyntaxError stops here
        try:
            with advice:
                return code.run(advice, shell)
        except UsageError as exc:
            if advice.result is None:
                raise IPythonUsageError(str(exc)) from None
            raise
        finally:
            if advice.result is not None:
                shell.user_ns["_concadvisor"] = advice.result
                show(advice)


class CellCode:
    """A cell's code, run as IPython runs it: in the notebook's namespace, its last
    expression's value returned (and shown), ``await`` at the top level run on an event
    loop. Compiled from the cell's file, with call counters when the block counts them."""

    def __init__(self, python: str, filename: str):
        self.python, self.filename = python, filename
        self.tree = ast.parse(python, filename)  # a SyntaxError is the user's, before any measuring
        self.keeps_value = _keep_last_value(self.tree)
        compile(self.tree, filename, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)

    def run(self, advice: Advice, shell):
        namespace, globals_ = shell.user_ns, shell.user_global_ns
        code = advice.compile(self.tree, self.python, self.filename, flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        try:
            outcome = eval(code, globals_, namespace)
            if inspect.iscoroutine(outcome):
                run_coroutine(outcome, shell, advice.runs_in)
            return namespace.get(VALUE) if self.keeps_value else None
        finally:
            namespace.pop(VALUE, None)


def _keep_last_value(tree: ast.Module) -> bool:
    """A cell ending in an expression shows its value: it is kept in ``VALUE`` instead."""
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        return False
    last = tree.body[-1]
    keep = ast.Assign(targets=[ast.Name(id=VALUE, ctx=ast.Store())], value=last.value)
    tree.body[-1] = ast.fix_missing_locations(ast.copy_location(keep, last))
    return True


def run_coroutine(coroutine, shell, runs_in=None):
    """Run the cell's coroutine to its end: on IPython's event loop, as IPython runs an
    ``await`` cell; where a loop already runs in this thread (a Jupyter kernel's), on a
    loop of its own in a helper thread, this thread waiting for it (``runs_in(native
    id)`` tells the measurement that the helper is the thread the cell runs in)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return shell.loop_runner(coroutine)
    outcome: dict = {}
    loop = asyncio.new_event_loop()

    def drive():
        if runs_in is not None:
            runs_in(threading.get_native_id())
        try:
            outcome["value"] = loop.run_until_complete(coroutine)
        except BaseException as exc:  # handed to the waiting thread, unchanged
            outcome["error"] = exc
        finally:
            loop.close()

    helper = threading.Thread(target=drive, name="concadvisor-cell-loop")
    helper.start()
    try:
        while helper.is_alive():
            helper.join(0.05)
    except KeyboardInterrupt:
        for task in asyncio.all_tasks(loop) if not loop.is_closed() else ():
            loop.call_soon_threadsafe(task.cancel)
        helper.join()
        raise
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def cell_file(source: str, number: int) -> str:
    """The cell's source in a file of its own (the report's locations point at it)."""
    folder = Path(tempfile.gettempdir()) / f"concadvisor-cells-{os.getuid() if hasattr(os, 'getuid') else 0}"
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha1(source.encode("utf-8", "replace")).hexdigest()[:8]
    path = folder / f"cell{number}_{digest}.py"
    if not path.exists() or path.read_text(encoding="utf-8", errors="replace") != source:
        path.write_text(source, encoding="utf-8")
    return str(path)


def show(advice: Advice) -> None:
    """The report below the cell: its Markdown, then the chart as a picture."""
    from IPython.display import display

    result = advice.result
    display(ReportView(result.to_markdown(), result.summary()))
    chart = advice.chart
    if chart is None and not advice.report:
        chart = _draw(result)
    if chart is not None and Path(chart).exists():
        kept = advice.report is not None
        display(ChartView(Path(chart).read_bytes(), str(chart) if kept else None))
        if not kept:
            Path(chart).unlink(missing_ok=True)
    for problem in advice.problems:
        print(f"concadvisor: {problem}")


def _draw(result) -> Path | None:
    """The chart in a temporary file (it is shown, then removed); None when charts are off
    or it could not be drawn."""
    from .renderers.bundle import chart_drawer
    from .renderers.chart_process import ChartNotDrawn

    path = Path(tempfile.mkstemp(prefix="concadvisor-chart-", suffix=".png")[1])
    with chart_drawer() as drawer:
        if not drawer.may_start:
            path.unlink(missing_ok=True)
            return None
        drawer.start()
        try:
            return drawer.draw(result, path)
        except ChartNotDrawn as exc:
            print(f"concadvisor: chart not drawn ({exc})")
            path.unlink(missing_ok=True)
            return None


class ReportView:
    """The report for a notebook (Markdown) and for a terminal (the summary)."""

    def __init__(self, markdown: str, summary: str):
        self.markdown, self.summary = markdown, summary

    def _repr_markdown_(self) -> str:
        return self.markdown

    def __repr__(self) -> str:
        return self.summary.rstrip()


class ChartView:
    """The chart for a notebook (PNG) and for a terminal (where it was written, if kept)."""

    def __init__(self, png: bytes, path: str | None):
        self.png, self.path = png, path

    def _repr_png_(self) -> bytes:
        return self.png

    def __repr__(self) -> str:
        return f"chart: {self.path}" if self.path else "(the chart shows in a notebook; -o PATH writes it beside the report)"


def _option(opts, name: str):
    value = opts.get(name)
    if isinstance(value, list):  # given twice: the last one counts
        value = value[-1]
    return value.strip("'\"") if isinstance(value, str) else value


def load_ipython_extension(ipython) -> None:
    ipython.register_magics(ConcadvisorMagics)
