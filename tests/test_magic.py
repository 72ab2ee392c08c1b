"""``%load_ext concadvisor`` and ``%%concadvisor`` in a real IPython shell, on real code."""
from __future__ import annotations

import asyncio
import os
import textwrap

import pytest

pytest.importorskip("IPython")
from IPython.core.interactiveshell import InteractiveShell  # noqa: E402
from IPython.utils.capture import capture_output  # noqa: E402

from test_api import helpers_of  # noqa: E402

DEFINITIONS = textwrap.dedent("""
    import asyncio, time

    def fetch(i):
        time.sleep(0.03)  # a blocking download, one at a time
        return i

    async def poll(i):
        time.sleep(0.03)  # blocks the event loop: the other polls wait behind it
        await asyncio.sleep(0)
        return i
""")


@pytest.fixture(scope="module")
def shell():
    ip = InteractiveShell.instance()
    assert ip.run_cell("%load_ext concadvisor").success
    assert ip.run_cell(DEFINITIONS).success
    yield ip
    assert not helpers_of(os.getpid())


def run(shell, cell: str):
    """Run a cell; (its ExecutionResult, what it displayed as mime bundles)."""
    with capture_output() as shown:
        outcome = shell.run_cell(cell)
    return outcome, [output.data for output in shown.outputs]


@pytest.mark.chart
def test_cell_magic_shows_the_report_and_the_chart_and_writes_them(shell, tmp_path):
    report = tmp_path / "cell.md"
    outcome, shown = run(shell, f"%%concadvisor -o {report}\n"
                                "pages = [fetch(i) for i in range(10)]\n"
                                "len(pages)\n")
    assert outcome.success and outcome.result == 10  # the cell's value, as without the magic
    markdown = [data["text/markdown"] for data in shown if "text/markdown" in data]
    assert markdown and "Recommendation" in markdown[0]
    assert any(data.get("image/png", b"")[:8] == b"\x89PNG\r\n\x1a\n" for data in shown)
    assert report.exists() and report.with_suffix(".png").exists()
    result = shell.user_ns["_concadvisor"]
    assert result.categories["io_wait"] > 0.7 and result.model in ("asyncio", "threads")
    assert not helpers_of(os.getpid())


def test_a_top_level_await_is_measured_as_asyncio_code(shell):
    outcome, shown = run(shell, "%%concadvisor\n"
                                "done = await asyncio.gather(*(poll(i) for i in range(8)))\n"
                                "sum(done)\n")
    assert outcome.success and outcome.result == 28
    result = shell.user_ns["_concadvisor"]
    blocking = [f for f in result.findings if f["kind"] == "blocking_in_event_loop"]
    assert blocking and blocking[0]["function"] == "time.sleep"
    assert result.categories["io_wait"] > 0.6
    assert any("text/markdown" in data for data in shown)


def test_an_exception_in_the_cell_is_raised_unchanged_after_the_report(shell):
    outcome, shown = run(shell, "%%concadvisor\n"
                                "fetch(0)\n"
                                "raise LookupError('no such report: 2024-13')\n")
    assert isinstance(outcome.error_in_exec, LookupError)
    assert str(outcome.error_in_exec) == "no such report: 2024-13"
    assert shell.user_ns["_concadvisor"].target["error"] == "LookupError: no such report: 2024-13"
    assert any("text/markdown" in data for data in shown)
    assert not helpers_of(os.getpid())


def test_line_magic_with_a_backend(shell):
    outcome, _ = run(shell, "%concadvisor --backend cprofile [fetch(i) for i in range(8)]")
    assert outcome.success and outcome.result == list(range(8))
    result = shell.user_ns["_concadvisor"]
    assert result.backend == "cprofile" and result.categories["io_wait"] > 0.7


def test_a_bad_option_is_one_line_and_nothing_runs(shell):
    shell.user_ns.pop("ran", None)
    outcome, _ = run(shell, "%%concadvisor --backend fastest\nran = True\n")
    assert not outcome.success and "unknown backend 'fastest'" in str(outcome.error_in_exec)
    assert "ran" not in shell.user_ns


def test_an_await_cell_where_the_kernels_loop_already_runs(shell):
    """A Jupyter kernel runs cells while its own event loop runs in the same thread."""
    async def kernel():
        return run(shell, "%%concadvisor\n"
                          "done = await asyncio.gather(*(poll(i) for i in range(8)))\n"
                          "len(done)\n")

    outcome, _ = asyncio.run(kernel())
    assert outcome.success and outcome.result == 8
    result = shell.user_ns["_concadvisor"]
    assert any(f["kind"] == "blocking_in_event_loop" for f in result.findings)
    # the cell ran in the tool's helper thread, which is counted as the program's work
    assert any(t["name"] == "concadvisor-cell-loop" and t.get("counted", True)
               for t in result.extra["threads"]), result.extra["threads"]
