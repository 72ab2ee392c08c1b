"""Usage errors: one line on stderr naming the problem, exit 2, no traceback, and the
target never started (each target here would leave a marker file if it ran)."""
from __future__ import annotations

import json
import os
import sys

import pytest

from conftest import run_cli


def _marker_script(tmp_path, name="app.py"):
    marker = tmp_path / "target-ran"
    script = tmp_path / name
    script.write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    return script, marker


def assert_usage_error(done, *words):
    lines = done.stderr.splitlines()
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("concadvisor: error: "), lines[0]
    assert "Traceback" not in done.stderr + done.stdout
    for word in words:
        assert word in lines[0], (word, lines[0])


# --- what to run ---------------------------------------------------------------------

def test_missing_script_is_a_usage_error(tmp_path):
    done = run_cli("profile", tmp_path / "nowhere.py", cwd=tmp_path)
    assert_usage_error(done, "script not found", "nowhere.py")


def test_folder_without_main_is_a_usage_error(tmp_path):
    folder = tmp_path / "pkg"
    folder.mkdir()
    (folder / "work.py").write_text("print('hi')\n")
    done = run_cli("profile", folder, cwd=tmp_path)
    assert_usage_error(done, "without __main__.py")


def test_missing_module_is_a_usage_error(tmp_path):
    done = run_cli("profile", "-m", "no_such_module_here", cwd=tmp_path)
    assert_usage_error(done, "no module named", "no_such_module_here")


def test_missing_submodule_is_found_without_running_its_package(tmp_path):
    """``find_spec`` would import the package (running its __init__) to look inside it."""
    marker = tmp_path / "package-ran"
    package = tmp_path / "mypkg"
    package.mkdir()
    (package / "__init__.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    done = run_cli("profile", "-m", "mypkg.missing", cwd=tmp_path)
    assert_usage_error(done, "no module named", "mypkg.missing")
    assert not marker.exists()


def test_package_without_main_is_a_usage_error(tmp_path):
    package = tmp_path / "lonely"
    package.mkdir()
    (package / "__init__.py").write_text("")
    done = run_cli("profile", "-m", "lonely", cwd=tmp_path)
    assert_usage_error(done, "lonely", "__main__")


# --- where to write ------------------------------------------------------------------

@pytest.mark.parametrize("option", ["-o", "--json"])
@pytest.mark.parametrize("where", ["/proc/concadvisor-no-such-folder/out", "/proc/out"])
def test_unwritable_output_is_found_before_the_target_runs(tmp_path, option, where):
    """/proc refuses new files even to root, for whom folder permissions mean nothing."""
    script, marker = _marker_script(tmp_path)
    extra = [] if option == "-o" else ["-o", tmp_path / "r.md"]
    done = run_cli("profile", *extra, option, where, script, cwd=tmp_path)
    assert_usage_error(done, where)
    assert not marker.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_is_found_before_the_target_runs(tmp_path):
    script, marker = _marker_script(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        done = run_cli("profile", "-o", locked / "r.md", script, cwd=tmp_path)
    finally:
        locked.chmod(0o700)
    assert_usage_error(done, "not writable")
    assert not marker.exists()


def test_json_into_a_missing_folder_creates_it(tmp_path):
    script = tmp_path / "app.py"
    script.write_text("print('ok')\n")
    out = tmp_path / "new" / "deeper" / "result.json"
    done = run_cli("profile", "--backend", "cprofile", "-o", tmp_path / "r.md", "--json", out,
                   script, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["schema_version"] == 1


def test_json_where_a_folder_should_be_but_a_file_is(tmp_path):
    script, marker = _marker_script(tmp_path)
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    done = run_cli("profile", "-o", tmp_path / "r.md", "--json", tmp_path / "notes.txt" / "r.json",
                   script, cwd=tmp_path)
    assert_usage_error(done, "notes.txt", "is a file, not a folder")
    assert not marker.exists()


def test_report_on_the_script_itself_is_refused(tmp_path):
    script, marker = _marker_script(tmp_path)
    before = script.read_text()
    done = run_cli("profile", "-o", script, script, cwd=tmp_path)
    assert_usage_error(done, "overwrite the script")
    assert script.read_text() == before and not marker.exists()


def test_report_and_json_on_one_file_are_refused(tmp_path):
    script, marker = _marker_script(tmp_path)
    done = run_cli("profile", "-o", tmp_path / "same", "--json", tmp_path / "same", script, cwd=tmp_path)
    assert_usage_error(done, "same file")
    assert not marker.exists()


@pytest.mark.parametrize("args, words", [
    (["--timeout", "-1"], ["--timeout"]),
    (["--timeout", "soon"], ["--timeout"]),
    (["--backend", "gprof"], ["gprof"]),
    (["--fail-on", "slowness"], ["slowness"]),
    (["--python", "/no/such/python"], ["/no/such/python"]),
])
def test_bad_option_values_stop_before_the_target(tmp_path, args, words):
    script, marker = _marker_script(tmp_path)
    done = run_cli("profile", "-o", tmp_path / "r.md", *args, script, cwd=tmp_path)
    assert_usage_error(done, *words)
    assert not marker.exists()


# --- click's own errors ---------------------------------------------------------------

@pytest.mark.parametrize("args, words", [
    (["profile", "--no-such-option", "app.py"], ["--no-such-option"]),
    (["profile", "--jsn", "x.json", "app.py"], ["--jsn"]),
    (["report"], ["RESULT.json"]),
    (["compare", "a.json"], ["AFTER.json"]),
    (["profile", "--timeout"], ["--timeout"]),
    (["profile", "-m"], ["-m"]),
    (["no-such-command"], ["no-such-command"]),
    (["profile"], ["no script given"]),
])
def test_click_errors_are_one_line_too(tmp_path, args, words):
    script, marker = _marker_script(tmp_path)
    done = run_cli(*args, cwd=tmp_path)
    assert_usage_error(done, *words)
    assert not marker.exists()


# --- saved results that can't be read -------------------------------------------------

def _good_result(tmp_path):
    """A real result, saved by a real (tiny) run."""
    script = tmp_path / "tiny.py"
    script.write_text("import time\ntime.sleep(0.05)\nsum(range(10000))\n")
    out = tmp_path / "good.json"
    done = run_cli("profile", "--backend", "cprofile", "-o", tmp_path / "good.md", "--json", out,
                   script, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return json.loads(out.read_text())


BAD_RESULTS = {
    "missing": None,
    "empty": b"",
    "corrupt": b"{this is not json",
    "binary": bytes(range(256)) * 4,
    "a list": b"[1, 2, 3]",
    "another tool": json.dumps({"name": "left-pad", "version": "1.0.0"}).encode(),
    "NaN": b'{"schema_version": NaN}',
    "deep": b"[" * 100_000 + b"]" * 100_000,
}


def _write_bad(tmp_path, kind, good=None) -> str:
    path = tmp_path / f"{kind.replace(' ', '_')}.json"
    if kind == "truncated":
        path.write_text(json.dumps(good)[:200])
    elif kind == "schema_version 2":
        path.write_text(json.dumps(dict(good, schema_version=2)))
    elif kind == "other tool's schema":
        path.write_text(json.dumps(dict(good, tool="pyinstrument")))
    elif kind == "wrong types":
        bad = json.loads(json.dumps(good))
        bad["recommendation"]["estimated_speedup"] = "fast"
        path.write_text(json.dumps(bad))
    elif kind == "a folder":
        path.mkdir()
    elif BAD_RESULTS.get(kind) is not None:
        path.write_bytes(BAD_RESULTS[kind])
    return str(path)


KINDS = [*BAD_RESULTS, "truncated", "schema_version 2", "other tool's schema", "wrong types", "a folder"]


@pytest.fixture(scope="module")
def good_result(tmp_path_factory):
    return _good_result(tmp_path_factory.mktemp("good"))


@pytest.mark.parametrize("kind", KINDS)
def test_report_on_an_unreadable_result_is_a_usage_error(tmp_path, good_result, kind):
    path = _write_bad(tmp_path, kind, good_result)
    done = run_cli("report", path, "-o", tmp_path / "out.md", cwd=tmp_path)
    assert_usage_error(done, os.path.basename(path))
    assert not (tmp_path / "out.md").exists()


@pytest.mark.parametrize("kind", ["missing", "corrupt", "truncated", "schema_version 2",
                                  "another tool", "wrong types"])
def test_compare_on_an_unreadable_result_is_a_usage_error(tmp_path, good_result, kind):
    good = tmp_path / "fine.json"
    good.write_text(json.dumps(good_result))
    bad = _write_bad(tmp_path, kind, good_result)
    pair = (bad, good) if KINDS.index(kind) % 2 else (good, bad)  # either side, in turn
    done = run_cli("compare", *pair, "-o", tmp_path / "cmp.md", cwd=tmp_path)
    assert_usage_error(done, os.path.basename(bad))
    assert not (tmp_path / "cmp.md").exists()


def test_the_good_result_itself_renders(tmp_path, good_result):
    """The control for the two tests above: the same file unbroken is accepted."""
    path = tmp_path / "good.json"
    path.write_text(json.dumps(good_result))
    done = run_cli("report", path, "-o", tmp_path / "out.md", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out.md").read_text().startswith("# concadvisor report")
    done = run_cli("compare", path, path, "-o", tmp_path / "cmp.md", cwd=tmp_path)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("command", ["report", "compare"])
def test_output_over_the_result_being_read_is_refused(tmp_path, good_result, command):
    path = tmp_path / "kept.json"
    path.write_text(json.dumps(good_result))
    inputs = [path] if command == "report" else [path, path]
    done = run_cli(command, *inputs, "-o", path, cwd=tmp_path)
    assert_usage_error(done, "would overwrite the result")
    assert json.loads(path.read_text()) == good_result
