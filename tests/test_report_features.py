"""The report people read and the CLI around it, end to end through the real CLI: the chart
beside the report, refactor sketches at the user's own lines, advice beyond one machine,
``compare``, the CI gate, the terminal status line and summary, the speedscope export,
and help for every command."""
from __future__ import annotations

import json
import os
import re
import select
import struct
import subprocess
import sys
import time

import pytest

from conftest import CLI, ROOT, SAMPLES, profile_json, run_cli

pytestmark = pytest.mark.chart  # these tests look at the chart too

PNG = b"\x89PNG\r\n\x1a\n"

SEQUENTIAL_SLEEPS = """
import time

def wait_for(job):
    time.sleep(0.08)
    return job * 2

def main():
    total = 0
    for job in range(10):
        total += wait_for(job)
    print("total", total)

main()
"""

THREADED_SLEEPS = """
import time
from concurrent.futures import ThreadPoolExecutor

def wait_for(job):
    time.sleep(0.08)
    return job * 2

def main():
    with ThreadPoolExecutor(max_workers=10) as pool:
        total = sum(pool.map(wait_for, range(10)))
    print("total", total)

main()
"""

THREADED_CPU = """
import threading

def spin(n):
    total = 0
    for i in range(n):
        total += i * i
    return total

threads = [threading.Thread(target=spin, args=(1_500_000,), name=f"worker-{k}") for k in range(3)]
for t in threads:
    t.start()
for t in threads:
    t.join()
"""

CLEAN = """
import hashlib

def digest(block):
    return hashlib.sha256(block).hexdigest()

data = bytes(range(256)) * 4096
for _ in range(20):
    digest(data)
"""


def _png_size(path):
    """(width, height) from the PNG header."""
    head = path.read_bytes()[:24]
    assert head[:8] == PNG, head[:8]
    return struct.unpack(">II", head[16:24])


# ---------------------------------------------------------------- 1. the chart

@pytest.mark.slow
def test_report_links_a_chart_written_beside_it(tmp_path, write_script):
    script = write_script("waits.py", SEQUENTIAL_SLEEPS)
    out = tmp_path / "out" / "waits report.md"
    done = run_cli("profile", "-o", out, script, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    chart = out.with_suffix(".png")
    width, height = _png_size(chart)
    assert width >= 800 and height >= 300
    report = out.read_text()
    assert "](waits%20report.png)" in report   # relative, and a valid link despite the space
    assert "chart: " in done.stderr


@pytest.mark.slow
def test_threaded_program_gets_a_per_thread_view_in_its_chart(tmp_path, write_script):
    single = tmp_path / "single.md"
    threaded = tmp_path / "threaded.md"
    assert run_cli("profile", "-o", single, write_script("single.py", SEQUENTIAL_SLEEPS)).returncode == 0
    done = run_cli("profile", "-o", threaded, "--json", tmp_path / "threaded.json",
                   write_script("threaded.py", THREADED_CPU))
    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads((tmp_path / "threaded.json").read_text())
    working = [t for t in data["threads"] if t["counted"]]
    assert len(working) >= 2 and all(set(t["categories"]) >= {"io_wait", "cpu_gil"} for t in working)
    # the per-thread panel makes the threaded program's chart taller
    assert _png_size(threaded.with_suffix(".png"))[1] > _png_size(single.with_suffix(".png"))[1]


# ---------------------------------------------------------------- 2. sketches at the user's lines

@pytest.fixture(scope="module")
def sample_reports(tmp_path_factory):
    """Three sample apps profiled once: their reports and results, by name."""
    folder = tmp_path_factory.mktemp("samples")
    out = {}
    for name in ("http_downloads", "cpu_crunch", "download_and_parse"):
        report, result = folder / f"{name}.md", folder / f"{name}.json"
        done = run_cli("profile", "--backend", "cprofile", "-o", report, "--json", result,
                       SAMPLES / f"{name}.py", timeout=240)
        assert done.returncode == 0, done.stderr[-2000:]
        out[name] = (report.read_text(), json.loads(result.read_text()))
    return out


def _blocks(report: str) -> list[str]:
    return re.findall(r"^(`{3,})python\n(.*?)^\1$", report, re.M | re.S)


def _rendered_as(report: str, data: dict, model: str, folder) -> str:
    """The report as the given model would have it (re-rendered by `report` if advice differed),
    so that these tests check the sketch, not the advice (test_sample_apps checks that)."""
    if data["recommendation"]["model"] == model:
        return report
    data = json.loads(json.dumps(data))
    data["recommendation"]["model"] = model
    saved = folder / f"as-{model}.json"
    saved.write_text(json.dumps(data))
    done = run_cli("report", saved, "-o", saved.with_suffix(".md"))
    assert done.returncode == 0, done.stderr[-2000:]
    return saved.with_suffix(".md").read_text()


@pytest.mark.slow
def test_threads_sketch_maps_the_users_own_download_over_the_loops_items(sample_reports, tmp_path):
    report = _rendered_as(*sample_reports["http_downloads"], "threads", tmp_path)
    codes = [code for _, code in _blocks(report)]
    assert any("for url in report_urls(base_url):" in c and "download(url)" in c for c in codes), codes
    assert any("ThreadPoolExecutor" in c and "pool.map(download, urls)" in c for c in codes), codes
    assert "sample_apps/http_downloads.py:" in report


@pytest.mark.slow
def test_process_pool_sketch_chunks_the_users_cpu_unit(sample_reports, tmp_path):
    report = _rendered_as(*sample_reports["cpu_crunch"], "multiprocessing", tmp_path)
    codes = [code for _, code in _blocks(report)]
    assert any("for chunk in make_chunks():" in c for c in codes), codes
    assert any("ProcessPoolExecutor" in c and "pool.map(count_primes, chunks, chunksize=chunksize)" in c
               for c in codes), codes


def _line_of(path, text):
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


@pytest.mark.slow
def test_mixed_sketch_awaits_the_wait_and_sends_the_parse_to_a_process_pool(sample_reports, tmp_path):
    """Re-rendered with the mixed model and both call sites of download_and_parse's loop."""
    _, data = sample_reports["download_and_parse"]
    app = SAMPLES / "download_and_parse.py"
    wait_line, cpu_line = _line_of(app, "text = download(url)"), _line_of(app, "= parse_export(text)")
    data["recommendation"]["model"] = "asyncio+multiprocessing"
    data["recommendation"]["changes"] = [
        {"call": "urllib.request.urlopen", "location": f"{app}:{_line_of(app, 'urlopen(')}",
         "function": "download", "unit": "download", "repeats": 12, "driver": "main",
         "loop_location": f"{app}:{wait_line}", "seconds": 0.9, "category": "io_wait", "family": "socket"},
        {"call": "split_fields()", "location": f"{app}:{_line_of(app, 'def split_fields')}",
         "function": "split_fields", "unit": "parse_export", "repeats": 12, "driver": "main",
         "loop_location": f"{app}:{cpu_line}", "seconds": 2.9, "category": "cpu_gil", "family": ""}]
    saved = tmp_path / "mixed.json"
    saved.write_text(json.dumps(data))
    done = run_cli("report", saved, "-o", tmp_path / "mixed.md")
    assert done.returncode == 0, done.stderr[-2000:]
    report = (tmp_path / "mixed.md").read_text()
    before = [code for _, code in _blocks(report) if code.startswith("for url in export_urls(base_url):")]
    assert before, report
    after = "\n".join(code for _, code in _blocks(report))
    assert "await asyncio.to_thread(download, url)" in after
    assert "run_in_executor(pool, parse_export, text)" in after
    assert "asyncio.gather" in after


@pytest.mark.slow
def test_asyncio_sketch_for_a_sleep_loop_gathers_the_users_function(tmp_path, write_script):
    script = write_script("sleepy.py", SEQUENTIAL_SLEEPS)
    done, data = profile_json(tmp_path, script, "--backend", "cprofile")
    assert done.returncode == 0, done.stderr[-2000:]
    assert data["recommendation"]["model"] in ("asyncio", "asyncio+multiprocessing")
    report = (tmp_path / "report.md").read_text()
    codes = [code for _, code in _blocks(report)]
    assert any("for job in range(10):" in c and "total += wait_for(job)" in c for c in codes), codes
    after = next(c for c in codes if "asyncio.gather" in c)
    assert "gather(*(wait_for(item) for item in items))" in after   # wait_for made a coroutine
    assert "for result in asyncio.run(wait_for_all(jobs)):" in after
    assert "total += result" in after


@pytest.mark.slow
def test_blocking_call_in_a_coroutine_is_shown_fixed_at_its_line(tmp_path):
    done, data = profile_json(tmp_path, SAMPLES / "asyncio_blocking.py")
    assert done.returncode == 0, done.stderr[-2000:]
    finding = next(f for f in data["findings"] if f["kind"] == "blocking_in_event_loop")
    report = (tmp_path / "report.md").read_text()
    codes = [code for _, code in _blocks(report)]
    assert any(c.startswith("time.sleep(POLL_INTERVAL_S)") for c in codes), codes
    assert any(c.strip() == "await asyncio.sleep(POLL_INTERVAL_S)" for c in codes), codes
    assert f"`{finding['location']}`" in report


@pytest.mark.slow
def test_code_with_backticks_gets_a_longer_fence(tmp_path, write_script):
    script = write_script("ticks.py", SEQUENTIAL_SLEEPS.replace(
        "        total += wait_for(job)", '        label = "```" + str(job)  # ```\n        total += wait_for(job)'))
    done, _ = profile_json(tmp_path, script, "--backend", "cprofile")
    assert done.returncode == 0, done.stderr[-2000:]
    report = (tmp_path / "report.md").read_text()
    fenced = [(fence, code) for fence, code in _blocks(report) if 'label = "```"' in code]
    assert fenced and all(len(fence) >= 4 for fence, _ in fenced)


# ---------------------------------------------------------------- 3. beyond one machine

@pytest.mark.slow
def test_cpu_bound_advice_says_how_far_more_cores_go_and_names_cluster_executors(sample_reports):
    report, data = sample_reports["cpu_crunch"]
    assert data["recommendation"]["model"] == "multiprocessing"
    section = report.split("## Beyond one machine", 1)[1].split("\n## ", 1)[0]
    assert "| Cores | Estimated speedup |" in section
    more = data["recommendation"]["more_cores"]
    assert f"{float(more['4']):.2f}x" in section
    assert "Client(" in section and ".get_executor()" in section
    assert "from ray.util.multiprocessing import Pool" in section
    assert "count_primes" in section


@pytest.mark.slow
def test_io_bound_advice_has_no_cluster_section(sample_reports):
    report, _ = sample_reports["http_downloads"]
    assert "## Beyond one machine" not in report


# ---------------------------------------------------------------- 4. compare

@pytest.mark.slow
def test_compare_shows_wall_time_categories_and_hotspots_before_and_after(tmp_path, write_script):
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    for script, result in ((write_script("seq.py", SEQUENTIAL_SLEEPS), before),
                           (write_script("par.py", THREADED_SLEEPS), after)):
        done = run_cli("profile", "-o", result.with_suffix(".md"), "--json", result, script, cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]
    done = run_cli("compare", before, after, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    page = (tmp_path / "reports" / "compare.md").read_text()
    _png_size(tmp_path / "reports" / "compare.png")
    assert "](compare.png)" in page
    assert "| Measure | Before | After | Change |" in page
    for row in ("| Wall time |", "`io_wait`", "`cpu_gil`", "`cpu_nogil`", "| Recommended model |",
                "| Estimated speedup still available |"):
        assert row in page, row
    wall = next(line for line in page.splitlines() if line.startswith("| Wall time |"))
    assert "x less)" in wall   # ten overlapped sleeps: the after run is clearly shorter
    assert "| Call | Where | Category | Before s | After s | Change |" in page
    assert "time.sleep" in page
    assert re.search(r"faster\*\*", page)


def test_compare_with_an_unreadable_result_is_a_one_line_usage_error(tmp_path):
    good = tmp_path / "good.json"
    good.write_text("{not json")
    done = run_cli("compare", tmp_path / "missing.json", good, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "missing.json" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "reports").exists()


# ---------------------------------------------------------------- 5. the CI gate

@pytest.mark.slow
def test_fail_on_blocking_call_exits_3_after_writing_the_report(tmp_path):
    done, data = profile_json(tmp_path, SAMPLES / "asyncio_blocking.py",
                              "--fail-on", "blocking_in_event_loop,gil_contention")
    assert done.returncode == 3, done.stderr[-2000:]
    assert (tmp_path / "report.md").exists() and data is not None
    assert any(f["kind"] == "blocking_in_event_loop" for f in data["findings"])
    assert "failing on blocking_in_event_loop" in done.stderr


@pytest.mark.slow
def test_fail_on_a_clean_program_exits_0(tmp_path, write_script):
    done, data = profile_json(tmp_path, write_script("clean.py", CLEAN),
                              "--fail-on", "blocking_in_event_loop,gil_contention")
    assert done.returncode == 0, done.stderr[-2000:]
    assert data["findings"] == []


def test_fail_on_an_unknown_kind_is_a_usage_error(tmp_path, write_script):
    done = run_cli("profile", "--fail-on", "slow_code", write_script("clean.py", CLEAN), cwd=tmp_path)
    assert done.returncode == 2 and "slow_code" in done.stderr
    assert not (tmp_path / "reports").exists()


# ---------------------------------------------------------------- 6. the terminal

def _run_in_pty(args, cwd, rows=24, cols=100, timeout=120):
    """Run the CLI with a pseudo-terminal as stdin/stdout/stderr; returns (exit code, bytes)."""
    import fcntl
    import pty
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    env = dict(os.environ, TERM="xterm-256color", COLUMNS=str(cols), LINES=str(rows))
    child = subprocess.Popen([*CLI, *map(str, args)], stdin=slave, stdout=slave, stderr=slave,
                             cwd=cwd, env=env, close_fds=True)
    os.close(slave)
    output, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            output += data
        elif child.poll() is not None:
            break
    child.wait(timeout=10)
    os.close(master)
    return child.returncode, output


@pytest.mark.slow
def test_status_line_on_a_terminal_counts_seconds_and_gives_the_screen_back(tmp_path, write_script):
    script = write_script("waits.py", SEQUENTIAL_SLEEPS.replace("range(10)", "range(12)").replace(
        "    time.sleep(0.08)", "    print('step', job, flush=True)\n    time.sleep(0.08)"))
    code, output = _run_in_pty(["profile", "--backend", "cprofile", "-o", tmp_path / "r.md", script],
                               tmp_path, rows=24)
    text = output.decode("utf-8", "replace")
    assert code == 0, text[-2000:]
    assert "\x1b[1;23r" in text                    # scroll region: all rows but the status row
    seconds = [float(s) for s in re.findall(r"concadvisor\s+([0-9.]+) s \| running waits\.py", text)]
    assert len(seconds) >= 3 and seconds[-1] > seconds[0]
    assert "step 11" in text                       # the target's own output still shows
    reset = text.rindex("\x1b[r")                  # the whole screen scrolls again...
    assert text.rindex("running ") < reset         # ...after the last status line
    assert "\x1b[24;1H\x1b[2K" in text[reset:]     # and the status row is cleared
    summary = text[reset:]
    assert "where the time went" in summary and "recommendation: " in summary
    assert "\x1b[" in summary.split("recommendation")[0]   # Rich styles it on a terminal


@pytest.mark.slow
def test_without_a_terminal_there_is_no_status_line_and_a_plain_summary(tmp_path, write_script):
    done, _ = profile_json(tmp_path, write_script("waits.py", SEQUENTIAL_SLEEPS))
    assert done.returncode == 0
    assert "\x1b" not in done.stderr
    assert "recommendation: " in done.stderr
    assert re.search(r"waiting \(I/O\)\s+\d+\.\d%", done.stderr)


# ---------------------------------------------------------------- 7. speedscope

def _check_speedscope_shape(doc: dict) -> None:
    """The shape https://www.speedscope.app/file-format-schema.json asks of a sampled file."""
    assert doc["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    frames = doc["shared"]["frames"]
    assert frames and all(isinstance(f["name"], str) for f in frames)
    for f in frames:
        assert set(f) <= {"name", "file", "line", "col"}
        if "line" in f:
            assert isinstance(f["line"], int)
    assert doc["profiles"]
    assert 0 <= doc.get("activeProfileIndex", 0) < len(doc["profiles"])
    for p in doc["profiles"]:
        assert p["type"] == "sampled" and isinstance(p["name"], str)
        assert p["unit"] in ("none", "nanoseconds", "microseconds", "milliseconds", "seconds", "bytes")
        assert len(p["samples"]) == len(p["weights"])
        assert p["endValue"] >= p["startValue"]
        for stack in p["samples"]:
            assert stack and all(isinstance(i, int) and 0 <= i < len(frames) for i in stack)
        assert all(w >= 0 for w in p["weights"])


@pytest.mark.slow
def test_speedscope_export_is_a_valid_file_with_categories_visible(tmp_path, write_script):
    # A call-free loop: about 0.1 s of CPU in all here, next to 0.8 s of sleeps.
    script = write_script("mixed.py", SEQUENTIAL_SLEEPS.replace(
        "    return job * 2",
        "    total = job\n    for i in range(200_000):\n        total += i * i\n    return total"))
    flame = tmp_path / "flame" / "mixed.speedscope.json"
    done, data = profile_json(tmp_path, script, "--backend", "cprofile", "--speedscope", flame)
    assert done.returncode == 0, done.stderr[-2000:]
    doc = json.loads(flame.read_text())
    _check_speedscope_shape(doc)
    frames = doc["shared"]["frames"]
    main = doc["profiles"][doc.get("activeProfileIndex", 0)]
    assert main["unit"] == "seconds"
    leaves = {}
    for stack, weight in zip(main["samples"], main["weights"]):
        names = [frames[i]["name"] for i in stack]
        leaves[names[-1]] = leaves.get(names[-1], 0.0) + weight
        if "time.sleep" in names:
            assert names[-1].startswith("[io_wait]"), names
            assert "wait_for" in names and names.index("wait_for") < names.index("time.sleep")
    assert leaves.get("[io_wait] waiting", 0) >= 0.5        # ten sleeps of 80 ms
    assert leaves.get("[cpu_gil] CPU holding the GIL", 0) > 0.03   # on a host 2x slower or faster
    # the weights are the measured seconds (profiler's cost and run-queue wait taken out)
    measured = sum(data["category_seconds"][c] for c in ("io_wait", "cpu_gil", "cpu_nogil"))
    assert sum(main["weights"]) == pytest.approx(measured, rel=0.1)
    assert "speedscope: " in done.stderr


def test_speedscope_path_that_cannot_be_written_is_a_usage_error(tmp_path, write_script):
    blocker = tmp_path / "file"
    blocker.write_text("")
    done = run_cli("profile", "--speedscope", blocker / "x.json", write_script("clean.py", CLEAN), cwd=tmp_path)
    assert done.returncode == 2 and "speedscope" in done.stderr
    assert done.stderr.strip().count("\n") == 0


# ---------------------------------------------------------------- 8. help and version

@pytest.mark.parametrize("command", ["profile", "report", "compare"])
def test_every_command_has_help_with_an_example(command):
    done = run_cli(command, "--help")
    assert done.returncode == 0, done.stderr
    assert "Example" in done.stdout and f"concadvisor {command}" in done.stdout


def test_top_level_help_has_examples_and_version_prints_it():
    done = run_cli("--help")
    assert done.returncode == 0 and "Examples:" in done.stdout and "compare" in done.stdout
    version = run_cli("--version")
    assert version.returncode == 0
    assert re.fullmatch(r"concadvisor \d+\.\d+\.\d+\S*\n", version.stdout)


def test_help_does_not_import_pandas_or_matplotlib():
    probe = ("import sys\nfrom concadvisor.cli import main\n"
             "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in ('pandas', 'matplotlib') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout + done.stderr
