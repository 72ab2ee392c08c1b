"""Collect: run the target in its own process under a backend, return a Measurement.

Backends: ``cprofile`` (deterministic, in the target, exact call counts). ``auto`` picks
the best available. Each backend module turns its raw data into the common table.
"""
from __future__ import annotations

import sys

from ..table import Measurement
from .launch import ChildOutcome, TargetSpec, launch, outcome_notes, why_nothing

BACKENDS = ("auto", "cprofile", "yappi", "pyspy")


class NothingMeasured(RuntimeError):
    """The target ended before any data could be saved."""

    interrupted = False  # Ctrl-C stopped it: the tool still exits 130


def resolve_backend(name: str, spec: TargetSpec) -> str:
    if name == "auto":
        return "cprofile"
    return name


def collect(spec: TargetSpec, backend: str = "auto", progress=None) -> Measurement:
    chosen = resolve_backend(backend, spec)
    if chosen == "cprofile":
        from .cprofile import measurement_from_raw

        outcome = launch(spec, "cprofile")
        if outcome.raw is None:
            raise _nothing(outcome)
        measurement = measurement_from_raw(outcome.raw)
    else:
        raise NotImplementedError(f"backend {chosen!r} is not available yet")
    if (outcome.raw or {}).get("started") is False:
        raise _nothing(outcome)
    measurement.notes.extend(outcome_notes(outcome))
    measurement.target = target_info(spec, outcome)
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
        "snapshot": bool(raw.get("snapshot")),
        "leftover_processes": len(outcome.leftovers),
    }


def _why_nothing(outcome: ChildOutcome) -> str:
    return why_nothing(outcome)


def _nothing(outcome: ChildOutcome) -> NothingMeasured:
    error = NothingMeasured(why_nothing(outcome))
    error.interrupted = outcome.interrupted
    return error
