"""The drawing process started ahead of the run: draws what it is sent, says why when it
can't, and goes away quietly when it isn't needed."""
from pathlib import Path

import pytest

from concadvisor.renderers.chart_process import ChartNotDrawn, ChartProcess
from concadvisor.result import load

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.chart


def demo_result():
    return load(str(ROOT / "reports" / "demo.json"))


def test_draws_the_chart_it_is_sent(tmp_path):
    with ChartProcess() as drawer:
        drawer.request(demo_result(), tmp_path / "demo.png")
        written = drawer.wait()
    assert written == tmp_path / "demo.png"
    assert written.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_chart_that_cannot_be_written_says_why_in_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with ChartProcess() as drawer:
        drawer.request(demo_result(), blocker / "demo.png")
        with pytest.raises(ChartNotDrawn) as failure:
            drawer.wait()
    assert "\n" not in str(failure.value) and str(failure.value)


def test_an_unused_drawing_process_ends_when_let_go():
    drawer = ChartProcess()
    process = drawer.process
    drawer.close()
    assert process is not None and process.poll() is not None


def test_without_a_process_it_draws_here(tmp_path):
    drawer = ChartProcess.here()
    drawer.request(demo_result(), tmp_path / "here.png")
    assert drawer.wait().exists()
