"""The Python API: what the CLI does, called from a program, a test or a notebook.

``profile_script`` and ``attach`` measure another process, as ``concadvisor profile`` and
``concadvisor attach`` do (the CLI calls them); ``advise()`` measures a block of code in
this process; ``load`` reads a saved result. Each returns the same ``Result`` the CLI
renders. A problem with what was asked (a missing script, an unknown backend, an
unwritable report) raises ``UsageError`` with one line, before anything runs.
"""
from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Literal, Sequence

if TYPE_CHECKING:
    from .collect.inprocess import Block
    from .result import Result
    from .table import Measurement

Backend = Literal["auto", "cprofile", "yappi", "pyspy"]
BACKENDS = ("auto", "cprofile", "yappi", "pyspy")
PathLike = str | os.PathLike


class UsageError(ValueError):
    """What was asked cannot be done (one line); nothing was run."""


def profile_script(path: PathLike, args: Sequence[str] = (), backend: Backend = "auto", *,
                   module: bool = False, timeout: float | None = None, python: str | None = None) -> Result:
    """Run ``path`` (a script, or a module name with ``module=True``) with ``args`` in a
    process of its own, as ``python path args`` would, under ``backend``; return the Result.

    ``timeout`` stops it after that many seconds (what ran is measured); ``python`` is
    the interpreter to run it with (default: the active virtualenv's, else this one).
    Raises ``UsageError`` before running anything, ``NothingMeasured`` when the target
    ended before anything was saved.
    """
    _check_backend(backend)
    spec = target_spec(str(path), list(args), module=module, timeout=timeout, python=python)
    return profile_target(spec, backend)


def profile_target(spec, backend: Backend = "auto", *, progress=None,
                   on_start: Callable[[], None] | None = None,
                   on_measurement: Callable[[Measurement], None] | None = None) -> Result:
    """``profile_script`` for a checked ``TargetSpec`` (``target_spec``), with what front
    ends hook in: ``progress`` (the CLI's status line), ``on_start()`` once the target runs
    (its chart process starts then), ``on_measurement(measurement)`` (its flame graph)."""
    from .pipeline import profile

    _check_backend(backend)
    return profile(spec, backend, progress=progress, measured=on_measurement, started=on_start)


def target_spec(target: str, args: list[str], *, module: bool = False, timeout: float | None = None,
                python: str | None = None):
    """The checked ``TargetSpec`` for a run; ``UsageError`` for what would stop it."""
    from .checks import CheckError, module as check_module, script as check_script
    from .collect.interpreter import InterpreterError, choose
    from .collect.launch import TargetSpec

    try:
        interpreter = choose(python)
        if module:
            check_module(target, interpreter.path)
        else:
            check_script(target)
    except (CheckError, InterpreterError) as exc:
        raise UsageError(str(exc)) from None
    if timeout is not None and timeout <= 0:
        raise UsageError(f"timeout must be a positive number of seconds, not {timeout}")
    return TargetSpec(target=target, args=[str(a) for a in args], module=module, timeout=timeout,
                      python=interpreter.path)


def attach(pid: int, duration: float = 5.0, *,
           on_measurement: Callable[[Measurement], None] | None = None) -> Result:
    """Sample the running Python process ``pid`` with py-spy for ``duration`` seconds (it
    keeps running) and return the Result. ``UsageError`` for a process that does not
    exist or is not a Python py-spy reads; ``PySpyUnavailable`` when py-spy cannot
    sample it here (not installed, not allowed)."""
    from .collect.attach_checks import AttachProblem, check_process
    from .collect.interpreter import InterpreterError
    from .pipeline import attach as sample

    if duration <= 0:
        raise UsageError(f"duration must be a positive number of seconds, not {duration}")
    try:
        check_process(pid)
        return sample(pid, duration, measured=on_measurement)
    except (AttachProblem, InterpreterError) as exc:
        raise UsageError(str(exc)) from None


def load(path: PathLike) -> Result:
    """A result saved as JSON (``--json``, ``Result.write``); ``ResultError`` (a
    ``ValueError``, one line) for a file that is not one."""
    from .result import load as read

    return read(str(path))


def advise(report: PathLike | None = None, *, json: PathLike | None = None,
           backend: Backend = "auto") -> Advice:
    """Measure the block of a ``with`` statement in this process::

        with concadvisor.advise() as advice:
            main()
        print(advice.result.recommendation["model"])

    All the process's threads are sampled, and an event loop the block runs. On exit
    ``advice.result`` holds the Result, also when the block raised (the exception goes
    on unchanged) or was stopped by Ctrl-C. ``report`` (and ``json``) are also written
    then, the chart beside the report. Under ``auto`` py-spy samples from outside;
    where it cannot watch this process one line on stderr says why and cProfile
    measures from inside.
    """
    return Advice(report=report, json=json, backend=backend)


class Advice:
    """The ``with`` block of ``advise()``: ``result`` is None until the block has ended."""

    def __init__(self, report: PathLike | None = None, json: PathLike | None = None,
                 backend: Backend = "auto", *, label: str | None = None, namespaces: tuple = (),
                 first_file: str | None = None, say: Callable[[str], None] | None = None):
        _check_backend(backend)
        self.report = Path(report) if report is not None else None
        self.json = Path(json) if json is not None else None
        self.backend = backend
        self.label = label
        self.namespaces = namespaces
        self.first_file = first_file
        self.say = say
        self.result: Result | None = None
        self.chart: Path | None = None
        self.problems: list[str] = []
        self._block: Block | None = None

    # The Result's main parts, read through the advice.
    @property
    def recommendation(self) -> dict:
        return self._result().recommendation

    @property
    def categories(self) -> dict:
        return self._result().categories

    @property
    def findings(self) -> list:
        return self._result().findings

    def _result(self) -> Result:
        if self.result is None:
            raise RuntimeError("the block has not ended yet: advice.result is set on leaving it")
        return self.result

    def __enter__(self) -> "Advice":
        from .collect.inprocess import Block

        self._check_outputs()
        here = _caller()
        label = self.label or (f"with advise() at {_shown(here[0])}:{here[1]}" if here else "with advise()")
        if not _ONE_BLOCK.acquire(blocking=False):
            raise UsageError("a block is already being measured in this process (advise() blocks do not nest)")
        try:
            self._block = Block(self.backend, label=label, namespaces=self.namespaces,
                                first_file=self.first_file or (here[0] if here else None), say=self.say)
            self._block.start()
        except BaseException:
            self._block = None
            _ONE_BLOCK.release()
            raise
        return self

    def __exit__(self, kind, error, traceback) -> bool:
        block, self._block = self._block, None
        if block is None:
            return False
        try:
            self.result = self._finish(block, error)
        except Exception as problem:
            if error is None:
                raise
            # the block's own exception matters more: it goes on, this is said
            (self.say or say_on_stderr)(f"concadvisor: the block was not measured: {problem}")
        finally:
            block.close()
            _ONE_BLOCK.release()
        return False

    def compile(self, tree, source: str, filename: str, flags: int = 0):
        """A notebook cell's code as the block runs it: with call counters in, when the
        block counts calls (``tree`` is ``source`` parsed, maybe changed)."""
        block = self._block
        counter = block.counter if block is not None else None
        if counter is not None:
            return counter.compile(tree, source, filename, flags)
        return compile(tree, filename, "exec", flags=flags, dont_inherit=True)

    def runs_in(self, native_id: int) -> None:
        """The block's work runs in that thread, not the one that entered it (the magic's
        ``await`` cell on a loop of its own): its split is the one reported."""
        if self._block is not None:
            self._block.tid = native_id

    def _finish(self, block: Block, error: BaseException | None) -> Result:
        from .pipeline import analyse

        result = analyse(block.stop(error))
        if self.report is not None or self.json is not None:
            self.result = result
            self._write(result)
        return result

    def _check_outputs(self) -> None:
        from .output import OutputError, check_writable

        try:
            if self.report is not None:
                self.report = check_writable(self.report, "report")
            if self.json is not None:
                self.json = check_writable(self.json, "JSON result")
        except OutputError as exc:
            raise UsageError(str(exc)) from None

    def _write(self, result: Result) -> None:
        if self.report is None:
            from .output import write_atomic

            write_atomic(self.json, result.to_json())
            return
        written = result.write(self.report, self.json)
        self.chart, self.problems = written.chart, written.problems
        for problem in written.problems:
            (self.say or say_on_stderr)(f"concadvisor: {problem}")


_ONE_BLOCK = threading.Lock()


def _check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise UsageError(f"unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")


def _caller() -> tuple[str, int] | None:
    """The file and line of the first frame outside concadvisor (the ``with`` statement)."""
    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not os.path.abspath(filename).startswith(package):
            return filename, frame.f_lineno
        frame = frame.f_back
    return None


def _shown(path: str) -> str:
    if path.startswith("<"):
        return path
    try:
        shown = os.path.relpath(path)
    except ValueError:
        return path
    return path if shown.startswith(".." + os.sep + "..") else shown


def say_on_stderr(line: str) -> None:
    """One line for the user on stderr; a closed or broken stderr is not an error."""
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
