"""The target may fail in any way; concadvisor keeps what was measured and never fails itself.

Every test runs the real CLI on a small real program written into ``tmp_path``. Most use
``--backend cprofile`` (in the target, deterministic); the fault paths that differ for
the default backend (py-spy from outside, when it can sample here) run under both.
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import pty
import select
import signal
import subprocess
import sys
import termios
import textwrap
import time
from pathlib import Path

import pytest

from conftest import CLI, run_cli

BACKENDS = ["cprofile", "auto"]
WORK = '''
import time

def spin(n=20000):
    total = 0
    for i in range(n):
        total += i * i
    return total

def work(seconds):
    """Many short calls, so a snapshot taken at any moment has most of them."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        spin()
'''


def script(tmp_path: Path, body: str, name: str = "app.py", with_work: bool = True) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text((WORK if with_work else "") + textwrap.dedent(body))
    return path


def profile(tmp_path: Path, target, *extra, args=(), backend="cprofile", cwd=None, timeout=120,
            input=None):
    """Run ``concadvisor profile``; returns (process, JSON result or None, report or None)."""
    report, out = tmp_path / "report.md", tmp_path / "result.json"
    done = run_cli("profile", "--backend", backend, "-o", report, "--json", out, *extra, target,
                   *(["--", *args] if args else []), cwd=cwd or tmp_path, timeout=timeout, input=input)
    data = json.loads(out.read_text()) if out.exists() else None
    return done, data, report.read_text() if report.exists() else None


def measured(data) -> set[str]:
    """Function names the result shows: hotspot calls and the user functions making them."""
    names = set()
    for hotspot in data["hotspots"]:
        names.update({str(hotspot.get("function")), str(hotspot.get("caller"))})
    return names


def no_traceback_of_ours(stderr: str) -> None:
    assert "concadvisor/" not in stderr and "target_runner" not in stderr and "runpy" not in stderr, stderr


def read_until(fd: int, wanted: bytes, timeout: float = 30.0) -> bytes:
    """Read ``fd`` until ``wanted`` shows up (or fail after ``timeout``)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while wanted not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"{wanted!r} did not show up; saw {seen[-500:]!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError as exc:  # a pty's master reads EIO once the other side is gone
                if exc.errno == errno.EIO:
                    break
                raise
            if not chunk:
                break
            seen += chunk
    assert wanted in seen, f"{wanted!r} did not show up; saw {seen[-500:]!r}"
    return seen


def alive_with(tag: str, where: str = "cmdline") -> list[int]:
    """Live processes whose command line (or ``where="environ"``: environment) carries ``tag``."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/{where}", "rb") as handle:
                if tag.encode() in handle.read():
                    with open(f"/proc/{name}/stat") as stat:
                        if stat.read().rsplit(")", 1)[1].split()[0] != "Z":
                            found.append(int(name))
        except OSError:
            pass
    return found


def group_gone(pgid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


# --- the target fails ----------------------------------------------------------------

def test_raising_target_keeps_its_profile_and_shows_its_own_traceback(tmp_path):
    target = script(tmp_path, '''
        def fail():
            raise ValueError("broken <on purpose>")

        work(0.6)
        fail()
    ''')
    plain = subprocess.run([sys.executable, target], capture_output=True, text=True, cwd=tmp_path)
    done, data, report = profile(tmp_path, target)
    assert done.returncode == 0, done.stderr
    assert plain.stderr.startswith("Traceback") and plain.stderr in done.stderr
    no_traceback_of_ours(done.stderr)
    assert data["target"]["exit_code"] == plain.returncode == 1
    assert data["target"]["error"] == "ValueError: broken <on purpose>"
    assert "spin" in measured(data)
    assert "raised ValueError" in report


@pytest.mark.parametrize("ending, code, says", [
    ("sys.exit(3)", 3, None),
    ("sys.exit('giving up')", 1, "giving up"),
])
def test_sys_exit_code_is_recorded(tmp_path, ending, code, says):
    target = script(tmp_path, f"import sys\nwork(0.3)\n{ending}\n")
    done, data, _ = profile(tmp_path, target)
    assert done.returncode == 0, done.stderr
    assert data["target"]["exit_code"] == code
    assert "spin" in measured(data)
    if says:
        assert says in done.stderr


def test_os_exit_saves_before_leaving(tmp_path):
    """os._exit skips every exit handler: the runner's own os._exit saves first."""
    target = script(tmp_path, "import os\nwork(0.3)\nos._exit(4)\n")
    done, data, _ = profile(tmp_path, target)
    assert done.returncode == 0, done.stderr
    assert data["target"]["exit_code"] == 4
    assert "spin" in measured(data)


@pytest.mark.parametrize("how, signum, backend", [
    ("os.kill(os.getpid(), signal.SIGTERM)", signal.SIGTERM, "cprofile"),
    ("os.kill(os.getpid(), signal.SIGKILL)", signal.SIGKILL, "cprofile"),
    ("os.abort()", signal.SIGABRT, "cprofile"),
    ("os.kill(os.getpid(), signal.SIGKILL)", signal.SIGKILL, "auto"),
])
def test_target_killed_by_a_signal_keeps_what_was_measured(tmp_path, how, signum, backend):
    """SIGTERM is caught and saved; nothing can be saved at SIGKILL or an abort, so the
    runner's last snapshot (every second or so) is what the report shows."""
    target = script(tmp_path, f"import os, signal\nwork(0.9)\n{how}\n")
    done, data, report = profile(tmp_path, target, backend=backend)
    assert done.returncode == 0, done.stderr
    assert data["target"]["signal"] == signum
    assert data["target"]["exit_code"] == -signum  # as subprocess gives it
    assert "spin" in measured(data)
    assert f"ended by signal {signum}" in report
    if signum != signal.SIGTERM and data["backend"] == "cprofile":
        assert data["target"]["snapshot"] is True
        assert any("snapshot" in note for note in data["notes"])


def test_target_killed_before_anything_was_saved_says_so_in_one_line(tmp_path):
    target = script(tmp_path, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    done, data, report = profile(tmp_path, target)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        line for line in done.stderr.strip().splitlines() if line.startswith("concadvisor: nothing measured")]
    assert "signal 9" in done.stderr
    assert data is None and report is None


@pytest.mark.parametrize("backend", BACKENDS)
def test_syntax_error_is_said_plainly(tmp_path, backend):
    """Under auto the call counter compiles the script: its frame must not show, nor an
    empty report with exit 0 be written."""
    target = tmp_path / "broken.py"
    target.write_text("print('never')\ndef f(:\n    pass\n")
    plain = subprocess.run([sys.executable, target], capture_output=True, text=True, cwd=tmp_path)
    done, data, report = profile(tmp_path, target, backend=backend)
    assert done.returncode == 1
    assert plain.stderr in done.stderr  # Python's own account of it, with the caret
    ours = [line for line in done.stderr.splitlines() if line.startswith("concadvisor")]
    assert ours == [ours[0]] and "before its first line ran" in ours[0] and "SyntaxError" in ours[0]
    assert "Traceback" not in done.stderr and "never" not in done.stdout
    assert data is None and report is None


@pytest.mark.parametrize("backend", BACKENDS)
def test_syntax_error_in_an_imported_module_keeps_the_profile(tmp_path, backend):
    (tmp_path / "broken_module.py").write_text("def f(:\n    pass\n")
    target = script(tmp_path, "work(0.3)\nimport broken_module\n")
    done, data, _ = profile(tmp_path, target, backend=backend)
    assert done.returncode == 0, done.stderr
    no_traceback_of_ours(done.stderr)
    assert "broken_module.py" in done.stderr and "SyntaxError" in done.stderr
    assert data["target"]["exit_code"] == 1
    assert data["target"]["error"].startswith("SyntaxError")
    assert "spin" in measured(data)


# --- stopping it ---------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_timeout_stops_a_never_ending_target_within_a_second(tmp_path, backend):
    target = script(tmp_path, "while True:\n    work(0.1)\n    time.sleep(0.01)\n")
    started = time.monotonic()
    done, data, _ = profile(tmp_path, target, "--timeout", "1.5", backend=backend)
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert data["target"]["timed_out"] is True
    # the target's own clock starts after the interpreter is up: on a busy machine that
    # is a good part of a second after the tool started counting down
    assert 0.5 <= data["wall_seconds"] <= 1.5 + 1.0, data["wall_seconds"]
    assert "spin" in measured(data)
    assert elapsed < 1.5 + 30


def test_timeout_kills_a_target_that_ignores_sigterm(tmp_path):
    target = script(tmp_path, '''
        import signal
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while True:
            work(0.1)
    ''')
    done, data, _ = profile(tmp_path, target, "--timeout", "1")
    assert done.returncode == 0, done.stderr
    assert data["target"]["timed_out"] is True and data["target"]["signal"] == signal.SIGKILL
    assert data["target"]["snapshot"] is True and "spin" in measured(data)


def _start_in_own_group(tmp_path, target, *extra, backend="cprofile"):
    return subprocess.Popen(
        [*CLI, "profile", "--backend", backend, "-o", tmp_path / "report.md",
         "--json", tmp_path / "result.json", *extra, target],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


@pytest.mark.parametrize("backend", BACKENDS)
def test_ctrl_c_to_the_process_group_stops_the_target_and_keeps_the_result(tmp_path, backend):
    """What a terminal does on Ctrl-C: SIGINT to every process of the foreground group."""
    target = script(tmp_path, 'print("ready", flush=True)\nwhile True:\n    work(0.1)\n')
    proc = _start_in_own_group(tmp_path, target, backend=backend)
    read_until(proc.stdout.fileno(), b"ready")
    time.sleep(0.6)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    data = json.loads((tmp_path / "result.json").read_text())
    assert data["target"]["interrupted"] is True
    assert "spin" in measured(data)
    assert group_gone(proc.pid)
    no_traceback_of_ours(err.decode().split("KeyboardInterrupt")[-1])


def test_target_ignoring_ctrl_c_is_stopped_by_a_second_one(tmp_path):
    target = script(tmp_path, '''
        import signal
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print("ready", flush=True)
        while True:
            work(0.1)
    ''')
    proc = _start_in_own_group(tmp_path, target)
    read_until(proc.stdout.fileno(), b"ready")
    os.killpg(proc.pid, signal.SIGINT)
    time.sleep(1.5)
    assert proc.poll() is None  # the target chose to ignore the first
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    data = json.loads((tmp_path / "result.json").read_text())
    assert data["target"]["interrupted"] is True and "spin" in measured(data)


def test_sigterm_to_concadvisor_stops_the_target_and_keeps_the_result(tmp_path):
    target = script(tmp_path, 'print("ready", flush=True)\nwhile True:\n    work(0.1)\n')
    proc = _start_in_own_group(tmp_path, target)
    read_until(proc.stdout.fileno(), b"ready")
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)  # only the tool, as a CI runner cancelling a job would
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err.decode()
    data = json.loads((tmp_path / "result.json").read_text())
    assert data["target"]["terminated"] is True and "spin" in measured(data)
    assert group_gone(proc.pid)


def _in_a_terminal(tmp_path, target, *extra):
    """The CLI on a pseudo-terminal of its own, as if typed at a shell prompt."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [*CLI, "profile", "--backend", "cprofile", "-o", tmp_path / "report.md",
         "--json", tmp_path / "result.json", *extra, target],
        cwd=tmp_path, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
        preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
    os.close(slave)
    return proc, master


def _drain(master: int) -> bytes:
    rest = b""
    while True:
        try:
            ready, _, _ = select.select([master], [], [], 30)
            chunk = os.read(master, 65536) if ready else b""
        except OSError:
            break
        if not chunk:
            break
        rest += chunk
    return rest


def test_ctrl_c_typed_in_a_terminal_stops_the_target_and_keeps_the_result(tmp_path):
    target = script(tmp_path, 'print("ready", flush=True)\nwhile True:\n    work(0.1)\n')
    proc, master = _in_a_terminal(tmp_path, target)
    try:
        read_until(master, b"ready")
        time.sleep(1.0)
        os.write(master, b"\x03")  # the terminal turns it into SIGINT for the foreground group
        _drain(master)
        assert proc.wait(timeout=60) == 130
    finally:
        os.close(master)
    data = json.loads((tmp_path / "result.json").read_text())
    assert data["target"]["interrupted"] is True and "spin" in measured(data)


def test_interactive_stdin_reaches_the_target(tmp_path):
    target = script(tmp_path, '''
        import sys
        name = input("name? ")
        print("hello", name, "tty" if sys.stdin.isatty() else "not a tty", flush=True)
        work(0.2)
    ''')
    proc, master = _in_a_terminal(tmp_path, target)
    try:
        read_until(master, b"name? ")
        os.write(master, b"bob\n")
        seen = read_until(master, b"hello bob")
        seen += _drain(master)
        assert proc.wait(timeout=60) == 0
    finally:
        os.close(master)
    assert b"hello bob tty" in seen
    assert (tmp_path / "result.json").exists()


# --- threads and processes it leaves behind ------------------------------------------

def test_daemon_threads_left_running_do_not_hang(tmp_path):
    target = script(tmp_path, '''
        import threading
        def forever():
            while True:
                spin()
                time.sleep(0.01)
        def sleeper():
            time.sleep(3600)
        threading.Thread(target=forever, daemon=True).start()
        threading.Thread(target=sleeper, daemon=True).start()
        work(0.5)
    ''')
    started = time.monotonic()
    done, data, _ = profile(tmp_path, target, timeout=60)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 30
    assert data["target"]["exit_code"] == 0 and "spin" in measured(data)


def test_threads_still_working_at_exit_are_waited_for_and_measured(tmp_path):
    target = script(tmp_path, '''
        import threading
        def late_finisher():
            time.sleep(0.3)
            for _ in range(5):
                finishing_touch()
        def finishing_touch():
            return spin(200000)
        threading.Thread(target=late_finisher).start()
        print("main is done")
    ''')
    done, data, _ = profile(tmp_path, target)
    assert done.returncode == 0, done.stderr
    assert "finishing_touch" in measured(data) or "finishing_touch" in json.dumps(data)


def _spawner(tmp_path, tag: str, then: str) -> Path:
    return script(tmp_path, f'''
        import subprocess, sys
        sleeper = [sys.executable, "-c", "import time; time.sleep(600)", "{tag}"]
        subprocess.Popen(sleeper)                            # a child it never waits for
        subprocess.Popen(sleeper, start_new_session=True)    # one in a session of its own
        subprocess.Popen(["sh", "-c", " ".join(map(repr, sleeper)) + " &"])  # a grandchild, orphaned
        work(0.5)
        {then}
    ''')


@pytest.mark.parametrize("then, extra", [("", []), ("while True: work(0.1)", ["--timeout", "2"])])
def test_child_processes_left_running_are_stopped(tmp_path, then, extra):
    """They hold the output pipes open too: without stopping them this run would hang."""
    tag = f"concadvisor-leftover-{os.getpid()}-{time.monotonic_ns()}"
    target = _spawner(tmp_path, tag, then)
    try:
        done, data, _ = profile(tmp_path, target, *extra, timeout=60)
        assert done.returncode == 0, done.stderr
        assert alive_with(tag) == []
        assert data["target"]["leftover_processes"] == 3
        assert any("left running" in note for note in data["notes"])
    finally:
        for pid in alive_with(tag):
            os.kill(pid, signal.SIGKILL)


def test_forked_workers_never_write_the_profile_of_their_parent(tmp_path):
    """multiprocessing's fork workers are copies of the runner: stopped at the end, they
    must not save their own (empty) profile over the target's."""
    target = script(tmp_path, '''
        import multiprocessing
        def idle_worker():
            time.sleep(600)
        if __name__ == "__main__":
            multiprocessing.get_context("fork").Process(target=idle_worker).start()
            while True:
                work(0.1)
    ''')
    done, data, _ = profile(tmp_path, target, "--timeout", "2", timeout=60)
    assert done.returncode == 0, done.stderr
    assert "spin" in measured(data)
    assert data["target"]["leftover_processes"] >= 1


# --- unusual targets run as `python SCRIPT` would -----------------------------------

def _pattern(i: int) -> bytes:
    return hashlib.sha256(str(i).encode()).hexdigest().encode() * 1024  # 64 KiB


def _peak_rss_mb(proc: subprocess.Popen) -> float:
    """The process's own peak RSS, read from /proc until it exits."""
    peak = 0.0
    while proc.poll() is None:
        try:
            with open(f"/proc/{proc.pid}/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]) / 1024)
        except OSError:
            pass
        time.sleep(0.05)
    return peak


@pytest.mark.slow
def test_tens_of_megabytes_of_output_pass_through_uncorrupted_and_unheld(tmp_path):
    body = '''
        import hashlib, os, sys
        def pattern(i):
            return hashlib.sha256(str(i).encode()).hexdigest().encode() * 1024
        for stream, chunks in ((sys.stdout.buffer, {out}), (sys.stderr.buffer, {err})):
            for i in range(chunks):
                stream.write(pattern(i))
            stream.flush()
        sys.stderr.write("fd1=" + os.readlink("/proc/self/fd/1") + "\\n")
    '''
    runs = {}
    for label, out, err in (("small", 1, 1), ("big", 512, 128)):  # 32 MiB + 8 MiB
        folder = tmp_path / label
        folder.mkdir()
        target = script(folder, body.format(out=out, err=err), with_work=False)
        stdout_path = folder / "stdout.bin"
        with open(stdout_path, "wb") as stdout, open(folder / "stderr.bin", "wb") as stderr:
            proc = subprocess.Popen([*CLI, "profile", "--backend", "cprofile", "-o", folder / "r.md", target],
                                    cwd=folder, stdout=stdout, stderr=stderr)
            peak = _peak_rss_mb(proc)
        assert proc.returncode == 0
        runs[label] = peak
        assert stdout_path.read_bytes() == b"".join(_pattern(i) for i in range(out))
        errors = (folder / "stderr.bin").read_bytes()
        assert errors.startswith(b"".join(_pattern(i) for i in range(err)))
        assert f"fd1={stdout_path}".encode() in errors  # the target wrote to our file itself
    print(f"concadvisor peak RSS: {runs['small']:.0f} MB (64 KiB of output), "
          f"{runs['big']:.0f} MB (40 MiB of output)")
    assert runs["big"] - runs["small"] < 20


def test_output_is_not_held_back(tmp_path):
    go = tmp_path / "go"
    target = script(tmp_path, f'''
        import os
        print("first line", flush=True)
        for _ in range(600):
            if os.path.exists({str(go)!r}):
                break
            time.sleep(0.05)
        print("second line")
    ''')
    proc = subprocess.Popen([*CLI, "profile", "--backend", "cprofile", "-o", tmp_path / "r.md", target],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    read_until(proc.stdout.fileno(), b"first line", timeout=20)  # while the target still runs
    go.write_text("go")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and b"second line" in out


def test_piped_stdin_reaches_the_target(tmp_path):
    data_in = os.urandom(3 * 1024 * 1024).hex()
    target = script(tmp_path, '''
        import hashlib, sys
        print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())
    ''', with_work=False)
    done, data, _ = profile(tmp_path, target, input=data_in)
    assert done.returncode == 0, done.stderr
    assert hashlib.sha256(data_in.encode()).hexdigest() in done.stdout


def test_target_may_close_its_stdout(tmp_path):
    target = script(tmp_path, '''
        import os, sys
        print("before closing")
        sys.stdout.close()
        os.close(1)
        work(0.3)
    ''')
    plain = subprocess.run([sys.executable, target], capture_output=True, text=True, cwd=tmp_path)
    done, data, _ = profile(tmp_path, target)
    assert done.returncode == 0, done.stderr
    assert "before closing" in done.stdout
    assert data["target"]["exit_code"] == plain.returncode
    assert "spin" in measured(data)


def test_target_changing_directory_keeps_the_default_report_in_the_callers_reports(tmp_path):
    caller, elsewhere = tmp_path / "caller", tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = script(caller, f"import os\nos.chdir({str(elsewhere)!r})\nwork(0.2)\n", name="wanders.py")
    done = run_cli("profile", "--backend", "cprofile", "--json", "out/result.json", "wanders.py", cwd=caller)
    assert done.returncode == 0, done.stderr
    assert (caller / "reports" / "wanders.md").exists()
    assert (caller / "out" / "result.json").exists()
    assert not (elsewhere / "reports").exists() and not (elsewhere / "out").exists()


def test_paths_with_spaces_and_non_ascii_letters(tmp_path):
    folder = tmp_path / "dir with space" / "ünï"
    target = script(folder, '''
        import json, sys
        work(0.2)
        print(json.dumps([sys.argv, __file__, __name__]))
    ''', name="cödé app.py")
    args = ["a b", "ß", "<x>"]
    plain = subprocess.run([sys.executable, target, *args], capture_output=True, text=True, cwd=tmp_path)
    report = tmp_path / "out dir" / "rêport 1.md"
    done = run_cli("profile", "--backend", "cprofile", "-o", report, "--json", tmp_path / "out dir" / "é.json",
                   target, "--", *args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert plain.stdout in done.stdout
    data = json.loads((tmp_path / "out dir" / "é.json").read_text(encoding="utf-8"))
    assert data["target"]["argv"] == [str(target), *args]
    assert "cödé app.py" in report.read_text(encoding="utf-8")


def test_script_without_py_suffix(tmp_path):
    (tmp_path / "mytool").write_text("#!/usr/bin/env python3\n" + WORK + "work(0.2)\nprint(__name__)\n")
    done = run_cli("profile", "--backend", "cprofile", "mytool", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "__main__" in done.stdout
    assert (tmp_path / "reports" / "mytool.md").exists()


def _rendered(markdown: str):
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark").enable("table")
    return parser, parser.parse(markdown), parser.render(markdown)


def assert_safe_markdown(markdown: str, *names: str) -> None:
    """No raw HTML reaches the page, every table row has the header's cells, and each name
    shows up as its own text once rendered."""
    parser, tokens, html = _rendered(markdown)
    assert not [t for t in tokens if t.type == "html_block"]
    for token in tokens:
        for child in token.children or []:
            assert child.type != "html_inline", child.content
    cells, header = 0, None
    for token in tokens:
        if token.type == "tr_open":
            cells = 0
        elif token.type in ("th_open", "td_open"):
            cells += 1
        elif token.type == "tr_close":
            header = cells if header is None else header
            assert cells == header, markdown
        elif token.type == "table_close":
            header = None
    text = "".join(child.content for t in tokens for child in (t.children or [])
                   if child.type in ("text", "code_inline"))
    for name in names:
        assert name in text, (name, markdown)


def test_markdown_and_html_in_names_are_escaped_in_the_report(tmp_path):
    weird_function = "<img src=x onerror=alert(1)>|`tick``s`*star*_u_&amp;"
    weird_thread = "<b>worker</b> | #1"
    weird_error = "<script>alert(2)</script> | **bold** [link](http://x)"
    target = script(tmp_path, f'''
        import threading
        def make(name):
            def f():
                spin(300000)
            f.__code__ = f.__code__.replace(co_name=name)
            return f
        weird = make({weird_function!r})
        t = threading.Thread(target=lambda: [weird() for _ in range(3)], name={weird_thread!r})
        t.start()
        for _ in range(3):
            weird()
        t.join()
        raise ValueError({weird_error!r})
    ''', name="<i>app</i> |x| *y*.py")
    done, data, report = profile(tmp_path, target, args=["<u>arg</u>|`"])
    assert done.returncode == 0, done.stderr
    assert weird_function in measured(data)
    assert_safe_markdown(report, weird_function, weird_error, "<i>app</i> |x| *y*.py")


# --- big programs -------------------------------------------------------------------

def _timed_profile(tmp_path, target, label):
    started = time.monotonic()
    proc = subprocess.Popen([*CLI, "profile", "--backend", "cprofile", "-o", tmp_path / "r.md",
                             "--json", tmp_path / "r.json", target], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = _peak_rss_mb(proc)
    elapsed = time.monotonic() - started
    err = proc.stderr.read().decode()
    proc.stderr.close()
    print(f"{label}: concadvisor took {elapsed:.1f} s in all, its own peak RSS {peak:.0f} MB")
    assert proc.returncode == 0, err
    return json.loads((tmp_path / "r.json").read_text()), elapsed, peak


@pytest.mark.slow
def test_deep_recursion(tmp_path):
    target = script(tmp_path, '''
        import sys
        sys.setrecursionlimit(20000)
        def down(n):
            return spin(100) if n == 0 else down(n - 1) + 1
        for _ in range(20):
            down(5000)
    ''')
    data, elapsed, peak = _timed_profile(tmp_path, target, "recursion 5000 deep")
    assert "down" in json.dumps(data) and elapsed < 60 and peak < 600


@pytest.mark.slow
def test_many_threads(tmp_path):
    target = script(tmp_path, '''
        import threading
        def job():
            spin(20000)
            time.sleep(0.2)
        threads = [threading.Thread(target=job, name=f"job-{i}") for i in range(150)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    ''')
    data, elapsed, peak = _timed_profile(tmp_path, target, "150 threads")
    assert elapsed < 60 and peak < 600
    assert len(data["threads"]) >= 100 or data["threads"][0].get("name")  # merged on 3.12+


@pytest.mark.slow
def test_forty_thousand_distinct_functions(tmp_path):
    target = script(tmp_path, '''
        N = 40_000
        namespace = {}
        exec(compile("\\n".join(f"def f{i}(x):\\n    return x + {i}\\n" for i in range(N)),
                     __file__ + ".generated", "exec"), namespace)
        total = 0
        for i in range(N):
            total = namespace[f"f{i}"](total)
        work(0.2)
    ''')
    data, elapsed, peak = _timed_profile(tmp_path, target, "40k functions")
    assert elapsed < 120 and peak < 1500
    assert "spin" in measured(data)


# --- concadvisor's own files --------------------------------------------------------

def test_outputs_are_replaced_whole_never_rewritten_in_place(tmp_path):
    """Each output is written beside and renamed over: a file that was there is either
    the old one or the new one, never half of either (checked through hard links: an
    in-place write would change the linked file too)."""
    keep = tmp_path / "keep.txt"
    keep.write_text("the old contents")
    names = ["report.md", "result.json", "report.png"]
    for name in names:
        os.link(keep, tmp_path / name)
    target = script(tmp_path, "work(0.2)\n")
    done, data, report = profile(tmp_path, target)
    assert done.returncode == 0, done.stderr
    assert keep.read_text() == "the old contents"
    assert report.startswith("# concadvisor report") and data["schema_version"] == 1
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    mask = os.umask(0)
    os.umask(mask)
    for name in names:
        if (tmp_path / name).exists():
            assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~mask, name


# --- hostile result files and names (property-based) --------------------------------

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)
NAMES = st.text(st.characters(whitelist_categories=("L", "N", "P", "S", "Zs")), min_size=1, max_size=24) \
    .map(lambda text: " ".join(text.split())).filter(bool)
FUZZ = settings(max_examples=100, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def real_result(tmp_path_factory):
    """A result from a real run with findings, hotspots, threads and a recommendation."""
    folder = tmp_path_factory.mktemp("real")
    target = script(folder, '''
        import threading, time
        def fetch(i):
            time.sleep(0.05)
        threads = [threading.Thread(target=lambda: [spin() for _ in range(20)]) for _ in range(2)]
        for t in threads:
            t.start()
        for i in range(8):
            fetch(i)
        for t in threads:
            t.join()
    ''')
    done, data, _ = profile(folder, target)
    assert done.returncode == 0, done.stderr
    return data


def _render_everything(result) -> str:
    from concadvisor.renderers import JSONRenderer, MarkdownRenderer, TerminalRenderer
    from concadvisor.renderers.compare import CompareRenderer

    page = MarkdownRenderer(chart="chart.png").render(result)
    TerminalRenderer().render(result)
    JSONRenderer().render(result)
    CompareRenderer().render(result, result)
    return page


def _load_or_refuse(tmp_path, data):
    """``load`` either gives a Result that every renderer renders, or one ResultError line."""
    from concadvisor.result import ResultError, load

    path = tmp_path / "fuzzed.json"
    path.write_text(json.dumps(data, allow_nan=True))
    try:
        result = load(str(path))
    except ResultError as exc:
        assert "\n" not in str(exc) and str(exc)
        return None
    _render_everything(result)
    return result


def _paths(value, here=()):
    yield here
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, here + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, here + (index,))


@FUZZ
@given(data=JSON_VALUES)
def test_any_json_loads_as_a_result_or_is_refused_in_one_line(tmp_path, data):
    _load_or_refuse(tmp_path, data)


@FUZZ
@given(choice=st.data())
def test_a_real_result_with_any_part_replaced_renders_or_is_refused(tmp_path, real_result, choice):
    data = json.loads(json.dumps(real_result))
    paths = [p for p in _paths(data) if p]
    for _ in range(choice.draw(st.integers(1, 3))):
        path = choice.draw(st.sampled_from(paths))
        parent = data
        try:
            for step in path[:-1]:
                parent = parent[step]
            if choice.draw(st.booleans()) and isinstance(parent, dict):
                del parent[path[-1]]
            else:
                parent[path[-1]] = choice.draw(JSON_VALUES)
        except (KeyError, IndexError, TypeError):  # an earlier change moved it
            continue
    _load_or_refuse(tmp_path, data)


@pytest.mark.parametrize("path, value", [
    (("categories", "cpu_nogil"), -131_227_692_261_108_836_361_394_192_384),  # a bar that long
    (("categories", "io_wait"), 10 ** 400),                                   # past any float
    (("recommendation", "changes", 0, "loop_location"), 12),                  # str methods on it
])
def test_cases_the_fuzzer_found_are_refused_in_one_line(tmp_path, real_result, path, value):
    data = json.loads(json.dumps(real_result))
    data["recommendation"].setdefault("changes", [{}])
    if not data["recommendation"]["changes"]:
        data["recommendation"]["changes"].append({})
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    assert _load_or_refuse(tmp_path, data) is None


@FUZZ
@given(function=NAMES, location=NAMES, thread=NAMES, error=NAMES, arg=NAMES, note=NAMES)
def test_names_of_any_kind_are_escaped_in_the_report(real_result, function, location, thread,
                                                      error, arg, note):
    from concadvisor.result import Result

    data = json.loads(json.dumps(real_result))
    data["hotspots"][0].update(function=function, location=location)
    data["target"].update(argv=[arg, arg], error=error)
    data["threads"][0]["name"] = thread
    data["notes"] = [note]
    page = _render_everything(Result.from_dict(data))
    assert_safe_markdown(page, function, location, thread, error, arg, note)


# --- the runner under each interpreter ----------------------------------------------

PYENV = Path("/root/.pyenv/versions")


def _python(version: str, *more):
    if version == "own":
        return pytest.param(sys.executable, *more, id="-".join(["own", *more]))
    path = PYENV / version / "bin" / "python"
    return pytest.param(str(path), *more, id="-".join([version, *more]), marks=pytest.mark.skipif(
        not path.exists(), reason=f"Python {version} is not installed"))


@pytest.mark.slow
@pytest.mark.parametrize("python", [_python(v) for v in ("own", "3.12.1", "3.13.0")])
def test_snapshots_leave_no_trace_in_the_profile_and_survive_sigkill(tmp_path, python):
    """From 3.12 one profiler sees every thread: the snapshot thread must make no call it
    records (its sleep would show up as a wait in the target's own code)."""
    target = script(tmp_path, "import os, signal\nwork(1.2)\nos.kill(os.getpid(), signal.SIGKILL)\n")
    done, data, _ = profile(tmp_path, target, "--python", python)
    assert done.returncode == 0, done.stderr
    assert data["target"]["snapshot"] is True and data["target"]["signal"] == signal.SIGKILL
    assert "spin" in measured(data)
    assert not [h for h in data["hotspots"] if "sleep" in str(h["function"])], data["hotspots"]
    assert data["categories"]["io_wait"] < 0.05, data["categories"]


STDERR_CASES = {
    "forks": "import os\nwork(0.8)\npid = os.fork()\nif pid == 0:\n    os._exit(0)\nos.waitpid(pid, 0)\n",
    "raises": "work(0.2)\nraise KeyError('missing')\n",
    "broken": "work(0.2)\nif True\n",
}


@pytest.mark.slow
@pytest.mark.parametrize("python, case", [
    _python("own", "broken"), _python("3.9.18", "raises"), _python("3.9.18", "broken"),
    _python("3.12.1", "forks"), _python("3.13.0", "forks"), _python("3.13.0", "raises")])
def test_stderr_is_what_python_itself_prints(tmp_path, python, case):
    """A fork with no thread of the target's own gets no 3.12+ threads warning (the
    snapshot thread is ours); a syntax error and a traceback read as Python prints them."""
    target = script(tmp_path, STDERR_CASES[case], name=f"{case}.py")
    plain = subprocess.run([python, target], capture_output=True, text=True, cwd=tmp_path)
    done, _, _ = profile(tmp_path, target, "--python", python)
    assert plain.stderr in done.stderr, (plain.stderr, done.stderr)
    assert done.stderr.count("Warning") == plain.stderr.count("Warning"), done.stderr
