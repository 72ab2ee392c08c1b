"""Collect: run the target in its own process under a backend, return a Measurement.

Backends: ``cprofile`` (deterministic, in the target, exact call counts); ``yappi``
(in the target, per thread and coroutine aware, wall clock); ``pyspy`` (samples from
outside the process, costs the target almost nothing, sees idle/GIL state directly).
``auto`` takes py-spy where it can sample the target's interpreter, else cProfile. When
py-spy cannot sample after all, the run says so in one line and uses cProfile. Each
backend module turns its raw data into the common table.
"""
from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from .launch import ChildOutcome, TargetSpec, launch, outcome_notes, why_nothing

if TYPE_CHECKING:  # pandas loads while the target runs (see ``pipeline``), not before
    from ..table import Measurement

BACKENDS = ("auto", "cprofile", "yappi", "pyspy")
# cProfile and yappi runs are watched by two py-spy samplers that tell who holds the GIL
# (``gil_watch``); CONCADVISOR_GIL_WATCH=0 leaves the catalog alone to say it.
WATCH_THE_GIL = os.environ.get("CONCADVISOR_GIL_WATCH", "1") != "0"


class NothingMeasured(RuntimeError):
    """The target ended before any data could be saved."""

    interrupted = False  # Ctrl-C stopped it: the tool still exits 130


def resolve_backend(name: str, spec: TargetSpec) -> str:
    """``auto``: py-spy when it can sample the target's interpreter here, else cProfile."""
    if name == "auto":
        from .pyspy import unavailable_reason

        return "cprofile" if unavailable_reason(_interpreter(spec)) else "pyspy"
    return name


def collect(spec: TargetSpec, backend: str = "auto", progress=None, started=None) -> Measurement:
    """``started()``, if given, is called once the target is running (after the samplers
    attached): work the tool can do meanwhile starts then, not while the target boots."""
    chosen = resolve_backend(backend, spec)
    fallback = None
    if chosen == "pyspy":
        from .pyspy import PySpyUnavailable, run, unavailable_reason

        try:
            interpreter = _interpreter(spec)
            problem = unavailable_reason(interpreter)
            if problem:
                raise PySpyUnavailable(problem)
            measurement, outcome = run(spec, interpreter, started=started)
        except PySpyUnavailable as exc:
            fallback = f"{exc}; measured with cprofile instead"
            sys.stderr.write(f"concadvisor: {fallback}\n")
            chosen = "cprofile"
    if chosen in ("cprofile", "yappi"):
        import tempfile

        from .schedstat import run_queue, start_poller

        pollers, watch = [], {}
        # py-spy that just failed to sample the target won't watch it either
        watching = WATCH_THE_GIL and not fallback
        interpreter = _interpreter(spec) if watching else None
        folder = tempfile.TemporaryDirectory(prefix="concadvisor-gil-")

        def on_start(pid):
            pollers.append(start_poller(pid))
            if started:
                started()
            if watching:
                from . import gil_watch

                watch["samplers"], watch["problem"] = gil_watch.start(pid, folder.name, interpreter)

            def finish():
                if pollers[-1]:
                    pollers[-1].stop()
                if watch.get("samplers"):
                    watch["samplers"].finish()
            return finish

        try:
            outcome = launch(spec, chosen, on_start=on_start)
            if outcome.raw is None:
                raise nothing_measured(outcome)
            if outcome.raw.get("backend") == "yappi":
                from .yappi import measurement_from_raw
            else:
                from .cprofile import measurement_from_raw
            measurement = measurement_from_raw(outcome.raw, run_queue=run_queue(outcome.raw, pollers[0] if pollers else None))
            if watch.get("samplers"):
                from .gil_watch import held_shares

                measurement.extra["gil_watch"] = held_shares(watch["samplers"], outcome.pid)
            elif watching:
                measurement.notes.append(
                    f"who holds the GIL in native code was not measured ({watch.get('problem') or 'py-spy did not attach'}): "
                    "native calls the catalog doesn't know count as holding it")
        finally:
            folder.cleanup()
    elif chosen != "pyspy":
        raise ValueError(f"unknown backend {chosen!r}")
    if (outcome.raw or {}).get("started") is False:
        raise nothing_measured(outcome)
    if fallback:
        measurement.notes.append(fallback)
    measurement.notes.extend(outcome_notes(outcome))
    measurement.target = target_info(spec, outcome)
    measurement.process_cpu_seconds = float((outcome.raw or {}).get("process_cpu_seconds") or 0.0)
    measurement.extra["socket_connects"] = int((outcome.raw or {}).get("socket_connects") or 0)
    from .schedstat import native_threads

    measurement.extra["native_threads"] = native_threads(measurement.extra.get("run_queue"),
                                                         measurement.extra.get("python_tids"))
    note = missing_note(outcome.raw, spec)
    if note:
        measurement.notes.append(note)
        sys.stderr.write(f"concadvisor: {note}\n")
    return measurement


def missing_note(raw: dict | None, spec: TargetSpec) -> str | None:
    """One line when the runner fell back because the target's Python lacks a package."""
    missing = (raw or {}).get("missing") or []
    if not missing:
        return None
    return (f"{', '.join(missing)} is not installed for the target's Python ({spec.python}); "
            f"measured with {raw.get('backend')} instead of {raw.get('requested_backend')} "
            f"(install it in that environment to use it)")


def target_info(spec: TargetSpec, outcome: ChildOutcome) -> dict:
    raw = outcome.raw or {}
    exit_code = outcome.exit_code
    if outcome.timed_out:
        exit_code = raw.get("exit_code", exit_code) if exit_code in (None, -15) else exit_code
    return {
        "argv": spec.argv,
        "exit_code": exit_code,
        "timed_out": outcome.timed_out,
        "python": raw.get("python", ""),
        "gil_enabled": bool(raw.get("gil_enabled", True)),
        "cpu_count": int(raw.get("cpu_count") or 1),
        "python_executable": spec.python or raw.get("python_executable", ""),
        "signal": outcome.signal,
        "interrupted": outcome.interrupted,
        "error": raw.get("error"),
        "pid": outcome.pid,
        "terminated": outcome.terminated,
        "hung_up": outcome.hung_up,
        "snapshot": bool(raw.get("snapshot")),
        "leftover_processes": len(outcome.leftovers),
    }


def nothing_measured(outcome: ChildOutcome) -> NothingMeasured:
    """The error for a run that saved nothing, keeping whether Ctrl-C stopped it."""
    error = NothingMeasured(why_nothing(outcome))
    error.interrupted = outcome.interrupted
    return error


def _interpreter(spec: TargetSpec):
    """What the target's interpreter is (probed once; None if it cannot be read)."""
    from .interpreter import InterpreterError, own, probe

    if spec.python == sys.executable:
        return own()
    try:
        return probe(spec.python, "backend")
    except InterpreterError:
        return None
