"""Runs the user's target inside its own interpreter and saves what was measured.

This file is handed by path to the target's Python (3.9 or newer) and must use only
the standard library: it never imports concadvisor or its dependencies. The tool
process passes its settings in the CONCADVISOR_RUNNER environment variable (JSON) and
reads back one JSON file. Everything the target can do to end the run (return, raise,
sys.exit, os._exit, SIGTERM, SIGINT) still leaves that file behind.

argv: target_runner.py TARGET [ARGS...]   (TARGET is a path, or a module with mode "module")
"""
import json
import os
import runpy
import signal
import sys
import sysconfig
import threading
import time
import traceback

_CONFIG = json.loads(os.environ.pop("CONCADVISOR_RUNNER", "{}"))
_RUNNER_FILE = os.path.abspath(__file__)


class _ThreadRecord:
    """One thread's profiler and clocks."""

    def __init__(self, name, ident, profiler):
        self.name = name
        self.ident = ident
        self.profiler = profiler
        self.wall_start = time.perf_counter()
        self.wall_end = None
        self.cpu_end = None
        self.cpu_clock = _thread_cpu_clock()

    def finish(self):
        self.wall_end = time.perf_counter()
        self.cpu_end = time.thread_time()


def _thread_cpu_clock():
    """The calling thread's CPU clock id, so the main thread can read it later."""
    try:
        return time.pthread_getcpuclockid(threading.get_ident())
    except (AttributeError, OSError):
        return None


class _CProfileBackend:
    """cProfile in every thread (3.11 and older), or one shared profiler (3.12+).

    From 3.12 cProfile sits on sys.monitoring, which is process wide: one profiler sees
    every thread and a second one cannot start, so threads are merged there.
    """

    name = "cprofile"

    def __init__(self):
        import cProfile

        self._cprofile = cProfile
        self.records = []
        self.lock = threading.Lock()
        self.per_thread = sys.version_info < (3, 12)
        self.main = None

    def start(self):
        self.main = self._new_record(threading.current_thread())
        if self.per_thread:
            self._patch_threads()
        self.main.profiler.enable()

    def _new_record(self, thread):
        record = _ThreadRecord(thread.name, threading.get_ident(), self._cprofile.Profile())
        with self.lock:
            self.records.append(record)
        return record

    def _patch_threads(self):
        backend = self
        original = threading.Thread._bootstrap_inner

        def profiled_bootstrap_inner(thread):
            record = backend._new_record(thread)
            record.profiler.enable()
            try:
                original(thread)
            finally:
                record.profiler.disable()
                record.finish()

        threading.Thread._bootstrap_inner = profiled_bootstrap_inner

    def stop(self):
        if self.main is not None and self.main.wall_end is None:
            self.main.profiler.disable()
            self.main.finish()

    def threads(self):
        """Each thread's rows; threads still running are read as they stand."""
        out = []
        with self.lock:
            records = list(self.records)
        for record in records:
            if record.wall_end is None:
                _read_running_clock(record)
            rows = _cprofile_rows(record.profiler)
            out.append(_thread_payload(record, rows, merged=not self.per_thread))
        return out


def _read_running_clock(record):
    record.wall_end = time.perf_counter()
    if record.cpu_clock is not None:
        try:
            record.cpu_end = time.clock_gettime(record.cpu_clock)
        except OSError:
            record.cpu_end = None


def _cprofile_rows(profiler):
    profiler.snapshot_stats()
    rows = []
    for (filename, line, name), (cc, nc, tt, ct, callers) in profiler.stats.items():
        rows.append({
            "file": filename, "line": line, "name": name,
            "primitive_calls": cc, "calls": nc, "self": tt, "total": ct,
            "callers": [
                [cf, cl, cn, edge[1], edge[3]] for (cf, cl, cn), edge in callers.items()
            ],
        })
    return rows


def _thread_payload(record, rows, merged):
    return {
        "name": record.name, "ident": record.ident, "merged": merged,
        "wall_seconds": (record.wall_end or time.perf_counter()) - record.wall_start,
        "cpu_seconds": record.cpu_end,
        "functions": rows,
    }


class _NoProfiler:
    """Runs the target with nothing inside it (an outside sampler does the measuring)."""

    name = "none"

    def start(self):
        self.wall_start = time.perf_counter()

    def stop(self):
        pass

    def threads(self):
        return []


def _make_backend(name):
    if name == "cprofile":
        return _CProfileBackend()
    return _NoProfiler()


# Packages an in-target backend needs from the target's own environment. When one is
# missing there (a bare interpreter, a project venv without yappi), the run falls back
# to cProfile, which every Python has, and the saved file lists it under "missing".
_NEEDS = {"yappi": "yappi"}


def _choose_backend(name):
    """The backend to run, and the packages missing for the one asked for."""
    package = _NEEDS.get(name)
    try:
        if package:
            import importlib.util

            if importlib.util.find_spec(package) is None:
                raise ImportError(package)
        return _make_backend(name), []
    except ImportError:
        return _make_backend("cprofile"), [package or name]


class _Run:
    """The state that must be saved however the target ends."""

    def __init__(self):
        self.requested = _CONFIG.get("backend", "cprofile")
        self.backend, self.missing = _choose_backend(self.requested)
        self.exit_code = 0
        self.error = None
        self.signal = None
        self.wall_start = None
        self.saved = False

    def save(self):
        if self.saved:
            return
        self.saved = True
        try:
            self.backend.stop()
        except Exception:
            pass
        wall = time.perf_counter() - self.wall_start if self.wall_start else 0.0
        usage = _usage()
        payload = {
            "runner_version": 1,
            "backend": self.backend.name,
            "requested_backend": self.requested,
            "missing": self.missing,
            "python": "%d.%d.%d" % sys.version_info[:3],
            "python_executable": sys.executable,
            "gil_enabled": _gil_enabled(),
            "cpu_count": os.cpu_count() or 1,
            "pid": os.getpid(),
            "exit_code": self.exit_code,
            "error": self.error,
            "signal": self.signal,
            "wall_seconds": wall,
            "process_cpu_seconds": usage[0],
            "children_cpu_seconds": usage[1],
            "library_paths": _library_paths(),
            "runner_file": _RUNNER_FILE,
            "threads": self.backend.threads(),
        }
        path = _CONFIG.get("out")
        if not path:
            return
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(payload, handle)
        os.replace(tmp, path)


def _usage():
    try:
        import resource

        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime
    except Exception:
        return time.process_time(), 0.0


def _gil_enabled():
    check = getattr(sys, "_is_gil_enabled", None)
    return bool(check()) if check else True


def _library_paths():
    """Where the standard library and installed packages live (not the user's code)."""
    paths = set()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        try:
            paths.add(os.path.realpath(sysconfig.get_paths()[key]))
        except Exception:
            pass
    for entry in sys.path:
        if "site-packages" in entry or "dist-packages" in entry:
            paths.add(os.path.realpath(entry))
    return sorted(paths)


def _print_target_traceback(exc):
    """Print the target's traceback as Python would, without the runner's frames."""
    tb = exc.__traceback__
    while tb is not None and _is_tooling_frame(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    traceback.print_exception(type(exc), exc, tb)


def _is_tooling_frame(filename):
    return filename == _RUNNER_FILE or filename.endswith(("runpy.py", "<frozen runpy>"))


def _install_exit_hooks(run):
    real_exit = os._exit

    def saving_exit(code):
        run.exit_code = code
        run.save()
        real_exit(code)

    os._exit = saving_exit

    def on_term(signum, frame):
        run.signal = signum
        run.exit_code = -signum
        run.save()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    try:
        signal.signal(signal.SIGTERM, on_term)
    except (ValueError, OSError):
        pass


def main():
    if len(sys.argv) < 2:
        sys.stderr.write("target_runner: no target given\n")
        return 2
    target = sys.argv[1]
    mode = _CONFIG.get("mode", "script")
    sys.argv = sys.argv[1:]
    if mode == "module":
        sys.path[0] = os.getcwd()
    else:
        sys.path[0] = os.path.dirname(os.path.abspath(target))
    run = _Run()
    _install_exit_hooks(run)
    run.wall_start = time.perf_counter()
    run.backend.start()
    try:
        if mode == "module":
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            runpy.run_path(target, run_name="__main__")
    except SystemExit as exc:
        code = exc.code
        if code is None:
            run.exit_code = 0
        elif isinstance(code, int):
            run.exit_code = code
        else:
            sys.stderr.write("%s\n" % (code,))
            run.exit_code = 1
    except KeyboardInterrupt as exc:
        run.exit_code = 130
        run.error = "KeyboardInterrupt"
        _print_target_traceback(exc)
    except BaseException as exc:  # the target's own failure: report it like Python would
        run.exit_code = 1
        run.error = "%s: %s" % (type(exc).__name__, exc)
        _print_target_traceback(exc)
    finally:
        run.backend.stop()
    _wait_for_threads()
    run.save()
    try:
        sys.stdout.flush()
    except Exception:
        pass
    return run.exit_code


def _wait_for_threads():
    """Join non-daemon threads first, as the interpreter would at exit."""
    for thread in threading.enumerate():
        if thread is threading.current_thread() or thread.daemon:
            continue
        try:
            thread.join()
        except Exception:
            pass


if __name__ == "__main__":
    sys.exit(main())
