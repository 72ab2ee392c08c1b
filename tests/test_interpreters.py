"""The target runs in its own environment: its virtualenv, its Python (3.9 to 3.13).

Real interpreters (the pyenv builds on this machine; absent ones are skipped) and real
virtualenvs made with ``python -m venv``, holding a package concadvisor's own
environment lacks. No network: the package is written straight into site-packages.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, SAMPLES, run_cli
from concadvisor.collect import interpreter
from concadvisor.collect.interpreter import InterpreterError

PYENV = Path("/root/.pyenv/versions")
SUPPORTED = ("3.9.18", "3.10.13", "3.11.7", "3.12.1", "3.13.0")
TOO_OLD = ("2.7.18", "3.8.18")
APPS = ("cpu_crunch", "http_downloads", "hash_buffers")

PACKAGE = '''"""A package only the project's virtualenv has."""
import time


def settle(rounds):
    """Wait a little, then work a little, like a real job."""
    total = 0
    for i in range(rounds):
        time.sleep(0.02)
        total += sum(j * j for j in range(20000))
    return total
'''
PACKAGE_MAIN = '''import sys
from tinyproj import settle

print("tinyproj", sys.version_info[:2], settle(10))
'''
APP = '''import sys
import tinyproj

print("app ran on", sys.executable, tinyproj.settle(15))
'''


def pythons(versions):
    return [pytest.param(PYENV / v / "bin" / "python", id=v,
                         marks=pytest.mark.skipif(not (PYENV / v / "bin" / "python").exists(),
                                                  reason=f"Python {v} is not installed"))
            for v in versions]


def other_python() -> Path:
    """A CPython 3.9+ other than concadvisor's own, or our own base when none is present."""
    own = "%d.%d.%d" % sys.version_info[:3]
    for version in ("3.12.1", "3.10.13", "3.13.0", "3.9.18"):
        path = PYENV / version / "bin" / "python"
        if path.exists() and version != own:
            return path
    return Path(getattr(sys, "_base_executable", sys.executable))


@pytest.fixture(scope="module")
def project_venv(tmp_path_factory):
    """A virtualenv (no pip, no network) with the package ``tinyproj`` in its site-packages."""
    base = tmp_path_factory.mktemp("proj")
    venv = base / "venv"
    subprocess.run([str(other_python()), "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    package = Path(purelib) / "tinyproj"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(PACKAGE)
    (package / "__main__.py").write_text(PACKAGE_MAIN)
    version = subprocess.run([str(python), "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    app = base / "app.py"
    app.write_text(APP)
    return {"venv": venv, "python": python, "version": version, "app": app}


def activated(venv: Path) -> dict:
    """The environment ``source venv/bin/activate`` would give."""
    env = dict(os.environ)
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PYTHONHOME", None)
    return env


def deactivated() -> dict:
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)
    return env


def profile(tmp_path, *args, env=None, timeout=120):
    out = tmp_path / "result.json"
    done = run_cli("profile", "-o", tmp_path / "report.md", "--json", out, *args, env=env, timeout=timeout)
    return done, (json.loads(out.read_text()) if out.exists() else None)


# --- the active virtualenv --------------------------------------------------------------

def test_active_virtualenv_runs_the_target_with_its_own_packages(tmp_path, project_venv):
    done, data = profile(tmp_path, project_venv["app"], env=activated(project_venv["venv"]))
    assert done.returncode == 0, done.stderr[-2000:]
    target = data["target"]
    assert target["python_executable"] == str(project_venv["python"])
    assert target["python"] == project_venv["version"]
    assert target["exit_code"] == 0 and target["gil_enabled"] is True
    assert abs(sum(data["categories"].values()) - 1.0) <= 0.02
    # about 5% of the run is CPU: a sampler at 100-250 Hz sees it in a handful of samples
    assert data["categories"]["io_wait"] > 0.05 and data["categories"]["cpu_gil"] + data["categories"]["cpu_nogil"] > 0.005
    assert data["hotspots"] and data["recommendation"]["checklist"]
    assert "app ran on " + str(project_venv["python"]) in done.stdout
    report = (tmp_path / "report.md").read_text()
    assert f"| Python | {project_venv['version']} (GIL enabled) `{project_venv['python']}` |" in report


def test_own_environment_lacks_the_package_so_the_venv_is_what_made_it_work(tmp_path, project_venv):
    done, data = profile(tmp_path, project_venv["app"], env=deactivated())
    assert data["target"]["exit_code"] == 1
    assert "ModuleNotFoundError" in (data["target"]["error"] or "")
    assert data["target"]["python_executable"] == sys.executable


def test_module_of_the_active_virtualenv_is_found_and_run_with_its_python(tmp_path, project_venv):
    done, data = profile(tmp_path, "-m", "tinyproj", env=activated(project_venv["venv"]))
    assert done.returncode == 0, done.stderr[-2000:]
    assert data["target"]["argv"] == ["-m", "tinyproj"]
    assert data["target"]["python_executable"] == str(project_venv["python"])
    assert "tinyproj" in done.stdout


def test_module_missing_from_our_environment_is_a_usage_error_without_the_venv(tmp_path, project_venv):
    done, data = profile(tmp_path, "-m", "tinyproj", env=deactivated())
    assert done.returncode == 2 and data is None
    assert done.stderr.strip() == "concadvisor: error: no module named 'tinyproj'"


def test_python_option_points_at_the_venv_without_activating_it(tmp_path, project_venv):
    done, data = profile(tmp_path, "--python", project_venv["python"], "-m", "tinyproj", env=deactivated())
    assert done.returncode == 0, done.stderr[-2000:]
    assert data["target"]["python_executable"] == str(project_venv["python"])
    assert data["target"]["python"] == project_venv["version"]


def test_python_option_wins_over_the_active_virtualenv(tmp_path, project_venv):
    done, data = profile(tmp_path, "--python", sys.executable, project_venv["app"],
                         env=activated(project_venv["venv"]))
    assert data["target"]["python_executable"] == sys.executable
    assert data["target"]["exit_code"] == 1  # our own environment has no tinyproj


def test_concadvisors_own_virtualenv_active_means_its_own_interpreter():
    chosen = interpreter.choose(None, {"VIRTUAL_ENV": sys.prefix})
    assert chosen.path == sys.executable and chosen.source == "own"


def test_stale_virtual_env_folder_is_not_an_active_virtualenv(tmp_path):
    chosen = interpreter.choose(None, {"VIRTUAL_ENV": str(tmp_path / "gone")})
    assert chosen.source == "own"


def test_a_virtualenv_folder_given_to_python_means_its_bin_python(project_venv):
    chosen = interpreter.choose(str(project_venv["venv"]))
    assert chosen.path == str(project_venv["python"])
    assert chosen.version == project_venv["version"]


# --- a bad interpreter is a usage error before anything starts ---------------------------

def bad_pythons(tmp_path):
    cases = [("missing", tmp_path / "no" / "python", "--python not found"),
             ("not-python", "/bin/true", "is not a Python interpreter"),
             ("a-shell", "/bin/sh", "is not a Python interpreter"),
             ("folder", tmp_path, "is a folder without bin/python")]
    for version in TOO_OLD:
        path = PYENV / version / "bin" / "python"
        if path.exists():
            cases.append((version, path, f"is Python {version[:3]}"))
    return cases


def test_bad_python_is_one_line_exit_2_and_the_target_never_starts(tmp_path):
    marker = tmp_path / "started"
    script = tmp_path / "app.py"
    script.write_text(f"open({str(marker)!r}, 'w').close()\n")
    ran = []
    for name, python, says in bad_pythons(tmp_path):
        done = run_cli("profile", "--python", python, "-o", tmp_path / "r.md", script, timeout=60)
        ran.append(name)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2, (name, done.stderr)
        assert len(lines) == 1 and lines[0].startswith("concadvisor: error: "), (name, done.stderr)
        assert says in lines[0], (name, lines[0])
        if name in TOO_OLD:
            assert "needs Python 3.9 or newer" in lines[0]
        assert not marker.exists() and not (tmp_path / "r.md").exists(), name
    print("bad interpreters checked:", ", ".join(ran))


def test_active_virtualenv_of_an_old_python_is_a_usage_error(tmp_path):
    old = PYENV / "3.8.18" / "bin" / "python"
    if not old.exists():
        pytest.skip("Python 3.8 is not installed")
    venv = tmp_path / "old"
    subprocess.run([str(old), "-m", "venv", "--without-pip", str(venv)], check=True)
    script = tmp_path / "app.py"
    script.write_text("print('ran')\n")
    done = run_cli("profile", "-o", tmp_path / "r.md", script, env=activated(venv), timeout=60)
    assert done.returncode == 2 and "ran" not in done.stdout
    assert re.fullmatch(r"concadvisor: error: active virtualenv \(VIRTUAL_ENV\): .* is Python 3\.8\.18; "
                        r"concadvisor needs Python 3\.9 or newer; deactivate it or pass --python",
                        done.stderr.strip()), done.stderr


def test_attach_reads_a_running_process_interpreter_from_proc(tmp_path):
    python = other_python()
    child = subprocess.Popen([str(python), "-c", "import time; time.sleep(30)"])
    try:
        found = interpreter.of_process(child.pid)
    finally:
        child.kill()
        child.wait()
    expected = subprocess.run([str(python), "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                              capture_output=True, text=True, check=True).stdout.strip()
    assert found.version == expected and found.source == "process"


def test_attach_never_runs_a_process_executable_that_is_not_a_python():
    child = subprocess.Popen(["sleep", "30"])
    try:
        with pytest.raises(InterpreterError, match="not a python executable"):
            interpreter.of_process(child.pid)
    finally:
        child.kill()
        child.wait()


# --- backends that need a package inside the target --------------------------------------

@pytest.mark.parametrize("python", pythons(("3.9.18", "3.13.0")))
def test_runner_falls_back_to_cprofile_and_lists_missing_yappi(tmp_path, python):
    has_yappi = subprocess.run([str(python), "-c", "import yappi"], capture_output=True).returncode == 0
    if has_yappi:
        pytest.skip(f"{python} has yappi")
    out = tmp_path / "raw.json"
    env = dict(os.environ, CONCADVISOR_RUNNER=json.dumps({"out": str(out), "backend": "yappi"}))
    runner = ROOT / "src" / "concadvisor" / "collect" / "target_runner.py"
    script = tmp_path / "t.py"
    script.write_text("import time\ndef f():\n    time.sleep(0.05)\nf()\n")
    subprocess.run([str(python), str(runner), str(script)], env=env, check=True, timeout=60)
    raw = json.loads(out.read_text())
    assert raw["backend"] == "cprofile" and raw["requested_backend"] == "yappi"
    assert raw["missing"] == ["yappi"]
    assert any(row["name"] == "f" for row in raw["threads"][0]["functions"])


def test_yappi_asked_of_a_bare_interpreter_says_so_in_one_line_and_falls_back(tmp_path):
    bare = next((p for p in (PYENV / v / "bin" / "python" for v in ("3.9.18", "3.12.1", "3.13.0"))
                 if p.exists()), None)
    if bare is None or subprocess.run([str(bare), "-c", "import yappi"], capture_output=True).returncode == 0:
        pytest.skip("no interpreter without yappi")
    script = tmp_path / "t.py"
    script.write_text("import time\ntime.sleep(0.2)\n")
    done, data = profile(tmp_path, "--python", bare, "--backend", "yappi", script)
    if "not available yet" in done.stderr:
        pytest.skip("the yappi backend is not built yet (issue 4)")
    assert done.returncode == 0, done.stderr[-2000:]
    assert data["backend"] != "yappi"
    said = [line for line in done.stderr.splitlines() if "yappi" in line and "not installed" in line]
    assert len(said) == 1, done.stderr
    assert data["target"]["python_executable"] == str(bare)


# --- the sample apps under every interpreter present --------------------------------------

def _docstring_expectations(app: str):
    text = (SAMPLES / f"{app}.py").read_text()
    model = re.search(r"^Expected model:\s*(\S+)", text, re.M).group(1)
    category = re.search(r"^Dominant category:\s*(\S+)", text, re.M).group(1)
    return model, category


OTHERS = tuple(v for v in SUPPORTED if v != "%d.%d.%d" % sys.version_info[:3])


def interpreter_matrix():
    """Each other Python present with one of the apps, in turn (every app meets two
    interpreters; the suite's time stays bounded: the full matrix is `make bench`'s)."""
    out = []
    for i, param in enumerate(pythons(OTHERS)):
        for app in (APPS[i % len(APPS)], APPS[(i + 1) % len(APPS)]):
            out.append(pytest.param(param.values[0], app, id=f"{param.id}-{app}", marks=param.marks))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("python, app", interpreter_matrix())
def test_sample_app_profiles_correctly_under_each_interpreter(tmp_path, python, app):
    """The in-target runner (cProfile) on each other Python present."""
    done, data = profile(tmp_path, "--python", python, "--backend", "cprofile", SAMPLES / f"{app}.py",
                         env=deactivated(), timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    target, cats = data["target"], data["categories"]
    assert target["python_executable"] == str(python)
    assert target["python"] == python.parent.parent.name
    assert target["exit_code"] == 0
    model, category = _docstring_expectations(app)
    dominant = max(("io_wait", "cpu_gil", "cpu_nogil"), key=cats.get)
    print(f"{target['python']} {app}: backend {data['backend']}, model {data['recommendation']['model']}, "
          + ", ".join(f"{k} {v:.2f}" for k, v in cats.items()))
    assert dominant == category, cats
    assert data["recommendation"]["model"] == model, data["recommendation"].get("reasons")
