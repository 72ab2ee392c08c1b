"""Draw the chart in a process of its own, started before the target runs.

matplotlib takes about half a second to import and the drawing a few tenths more; done
after the run, both add straight to the command's wall time. Started at the outset,
the drawing process imports matplotlib while the target runs (at a lower CPU priority,
so it takes mostly time the target leaves idle), then waits for the result on
its stdin. The report is written meanwhile; the command ends when the picture is there.

Protocol: one line in, the name of a JSON file holding ``{"path": ..., "result": {...}}``
(a file, so a large result never blocks on a pipe the process isn't reading yet); one
line out, ``ok`` or ``error: <why>``. End of input without a request (the run measured
nothing, or the chart was turned off) ends the process quietly.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

DRAW_SECONDS = 60.0
NICENESS = 5


class ChartNotDrawn(RuntimeError):
    """The drawing process could not draw; the message says why, in one line."""


class ChartProcess:
    """A drawing process: ``start`` it early, then ``request`` and ``wait`` (or ``draw``)
    once, or ``close`` to let it go unused."""

    def __init__(self, start: bool = True, may_start: bool = True):
        self.process: subprocess.Popen | None = None
        self.path: Path | None = None
        self.pending = None  # the result, when drawing here after all
        self.request_file: str | None = None
        self.may_start = may_start  # False: ``start`` does nothing (charts are off)
        if start:
            self.start()

    def start(self) -> None:
        """Start the process (once); until then, or if it can't start, drawing is done here."""
        if self.process is not None or not self.may_start:
            return
        package_root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [package_root, *filter(None, [os.environ.get("PYTHONPATH")])]))
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "concadvisor.renderers.chart_process"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                text=True, encoding="utf-8", errors="replace", start_new_session=True)
        except OSError:
            self.process = None

    @classmethod
    def here(cls) -> "ChartProcess":
        """One that draws in this process (unless ``start`` is called)."""
        return cls(start=False)

    def request(self, result, path: Path) -> None:
        """Hand over the result; the drawing starts at once, ``wait`` collects it."""
        self.path = Path(path)
        if self.process is None:
            self.pending = result
            return
        try:
            self._hand_over(result)
        except OSError:  # no temporary file: drawn here instead
            self._forget_request()
            self.close()
            self.pending = result

    def _hand_over(self, result) -> None:
        fd, self.request_file = tempfile.mkstemp(prefix="concadvisor-chart-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write('{"path": %s, "result": %s}' % (json.dumps(str(self.path.absolute())), result.to_json()))
        try:
            self.process.stdin.write(self.request_file + "\n")
            self.process.stdin.flush()
        except (OSError, ValueError):
            pass  # it ended already: ``wait`` says why

    def wait(self) -> Path:
        """The chart's path once drawn; raises with the reason when it could not be."""
        if self.process is None:
            from .chart import write_chart

            return write_chart(self.pending, self.path)
        process, self.process = self.process, None
        try:
            answer, errors = process.communicate(timeout=DRAW_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise ChartNotDrawn(f"drawing took over {DRAW_SECONDS:.0f} s") from None
        finally:
            self._forget_request()
        lines = answer.strip().splitlines()
        if not lines or lines[-1] != "ok":
            last = lines[-1] if lines else ""
            raise ChartNotDrawn(last.partition("error: ")[2] or _last_line(errors)
                               or "the drawing process ended without drawing")
        return self.path

    def draw(self, result, path: Path) -> Path:
        self.request(result, path)
        return self.wait()

    def _forget_request(self) -> None:
        if self.request_file:
            try:
                os.unlink(self.request_file)
            except OSError:
                pass
            self.request_file = None

    def close(self) -> None:
        """Let the process go: closing its input ends it (killed if it lingers)."""
        process, self.process = self.process, None
        if process is None:
            return
        try:
            process.communicate(timeout=2.0)
        except (subprocess.TimeoutExpired, OSError, ValueError):
            process.kill()
            process.wait()
        self._forget_request()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _last_line(text: str) -> str:
    lines = [line for line in (text or "").splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the tool, which ends us
    try:
        # Below the target while both run, so the import takes mostly the CPU time it
        # leaves idle; not so far below that a busy machine starves the drawing later
        # (at 19 the drawing gets about 1/70 of a core a nice-0 process wants).
        os.nice(NICENESS)
    except (AttributeError, OSError):
        pass
    try:
        import matplotlib

        matplotlib.use("Agg")
        from .chart import warm_up, write_chart
        from ..result import Result

        warm_up()
    except Exception as exc:  # reported when a drawing is asked for
        failed_import = f"{exc.__class__.__name__}: {exc}"
    else:
        failed_import = None
    line = sys.stdin.readline().strip()
    if not line:
        return 0
    if failed_import:
        print(f"error: {failed_import}", flush=True)
        return 1
    try:
        with open(line, encoding="utf-8") as handle:
            request = json.load(handle)
        write_chart(Result.from_dict(request["result"]), Path(request["path"]))
    except Exception as exc:
        print(f"error: {exc.__class__.__name__}: {exc}".replace("\n", " "), flush=True)
        return 1
    print("ok", flush=True)
    return 0


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    os._exit(status)  # no teardown of matplotlib: the caller is waiting for us to end
