"""Generated programs with known truth (benchmarks/corpus): a small deterministic slice of
the corpus, each program run plain (its own clocks give the true split) and profiled with
the default backend through the CLI. The asserts are what a user would notice, with wide
margins (the machine is shared and has 2 cores): the right model on most programs, the split
near the truth, and a blocking call inside a running event loop reported at its line.

Shapes the tool is known to get wrong are listed in KNOWN_GAPS: they are left out of the
thresholds and their own tests are xfail (not strict), so the gap stays visible.
"""
from __future__ import annotations

import ast
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT))

from benchmarks.corpus.generate import (ASYNC_MODES, CATEGORY, MODELS, WAIT_KINDS, calibrate,  # noqa: E402
                                        pick_slice, sample_specs, write_program)
from benchmarks.corpus.run import CATEGORIES, run_corpus  # noqa: E402

SEED, POOL, SLICE, SCALE = 7, 300, 8, 0.6  # 8 programs: about 15 s here

# shape -> why the tool gets it wrong today (a predicate on the Spec, and the reason), from
# the full corpus (python -m benchmarks corpus: 200 programs under auto, 195 right; the
# shapes fixed since the first run, sqlite, CPU in coroutines, native calls inline in
# comprehensions and map, are judged with the rest)
NOGIL_KINDS = {"sha256", "zlib", "bz2", "lzma", "file"}
KNOWN_GAPS = {
    "nogil-in-coroutine": (lambda s: s.mode in ASYNC_MODES and s.placement != "awaited"
                           and bool(NOGIL_KINDS & set(s.work)),
                           "GIL-releasing CPU blocking a running loop beside waits: whether the loop is "
                           "blocked more by CPU or by waiting is close, and the answer moves between "
                           "asyncio and asyncio plus a pool"),
}


def known_gap(spec) -> str:
    return "; ".join(reason for test, reason in KNOWN_GAPS.values() if test(spec))


SPECS = pick_slice(sample_specs(POOL, SEED, SCALE), SLICE)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The slice written and run once: {name: Outcome} (backend auto only)."""
    folder = tmp_path_factory.mktemp("corpus")
    rates = calibrate()
    specs = [write_program(spec, folder, rates) for spec in SPECS]
    return folder, {o.spec.name: o for o in run_corpus(specs, folder, ["auto"])}


def test_the_generator_writes_runnable_programs_with_their_truth(tmp_path):
    """Cheap checks, no profiling: every program compiles, its truth names a model, and each
    blocking location is a line that makes the blocking call."""
    rates = {"gil": 2e7, "gil_listcomp": 2.5e7, "json": 3e5, "re": 2e7, "sha256": 1.5e9, "zlib": 2e7, "bz2": 1e7, "lzma": 5e6,
             "file": 1.5e9, "sqlite": 2.5e6, "python_start": 0.03}
    specs = [write_program(spec, tmp_path, rates) for spec in sample_specs(60, 3, scale=0.1)]
    assert {s.mode for s in specs} >= {"sequential", "threadpool", "aio_gather"}
    for spec in specs:
        for name in spec.files:
            if name.endswith(".py"):
                ast.parse((tmp_path / name).read_text(), name)
        assert spec.preferred in MODELS and spec.preferred in spec.acceptable
        for entry in spec.blocking:
            path, line = entry["location"].rsplit(":", 1)
            text = (tmp_path / path).read_text().splitlines()[int(line) - 1]
            assert "await" not in text and "_m((" in text, (spec.name, text)
        if spec.mode in ASYNC_MODES and spec.placement != "awaited":
            assert len(spec.blocking) == len(spec.work), spec.shape()


@pytest.mark.slow
def test_most_generated_programs_get_the_right_model(corpus):
    _, outcomes = corpus
    judged = [o for o in outcomes.values() if not known_gap(o.spec)]
    assert all(o.model for o in outcomes.values()), [(o.spec.name, o.error) for o in outcomes.values() if not o.model]
    right = [o for o in judged if o.right]
    wrong = [(o.spec.name, o.spec.shape(), o.model, o.acceptable) for o in judged if not o.right]
    assert len(right) >= 0.75 * len(judged), wrong


@pytest.mark.slow
def test_the_split_is_near_the_plain_runs_own_timing(corpus):
    _, outcomes = corpus
    errors = {c: [] for c in CATEGORIES}
    within = total = 0
    for o in outcomes.values():
        if not o.split_errors():
            continue
        found = o.split_errors()
        total += 1
        within += all(abs(e) <= 0.2 for e in found.values())
        for c, e in found.items():
            errors[c].append(abs(e))
    assert total >= len(outcomes) // 2  # the sequential and asyncio programs: 10 of the 12 here
    for c, values in errors.items():
        assert sorted(values)[len(values) // 2] <= 0.1, (c, sorted(values))
    # Wide: on a busy machine the profiled run waits for a CPU and its split moves (the tool
    # takes that time out, but not all of it); a single program may be 0.3 off then.
    assert within >= 0.7 * total, (within, total, {c: sorted(v) for c, v in errors.items()})


def _blocking_cases():
    out = []
    for spec in SPECS:
        if spec.mode in ASYNC_MODES and spec.placement != "awaited" and spec.size == "normal" \
                and any(CATEGORY[k] == "io_wait" for k in spec.work):
            marks = [pytest.mark.slow]
            out.append(pytest.param(spec.name, id=f"{spec.name}-{spec.shape()}", marks=marks))
    return out


@pytest.mark.parametrize("name", _blocking_cases())
def test_a_blocking_wait_in_a_coroutine_is_reported_at_its_line(corpus, name):
    _, outcomes = corpus
    o = outcomes[name]
    waits = [b["location"] for b in o.spec.blocking if b["cause"] == "wait" and b["location"] in o.required]
    if not waits:
        pytest.skip("the blocking wait measured too short to require a finding")
    assert set(waits) <= set(o.findings), (o.spec.shape(), waits, o.findings)
    assert o.model in ("asyncio", "asyncio+multiprocessing") and o.speedup >= 1.25, (o.model, o.speedup)


def _model_cases():
    out = []
    for spec in SPECS:
        marks = [pytest.mark.slow]
        if known_gap(spec):
            marks.append(pytest.mark.xfail(strict=False, reason=known_gap(spec)))
            out.append(pytest.param(spec.name, id=f"{spec.name}-{spec.shape()}", marks=marks))
    return out


@pytest.mark.parametrize("name", _model_cases())
def test_known_gap_shapes(corpus, name):
    """Each known-gap program on its own (xfail): passes once the tool gets it right."""
    o = corpus[1][name]
    assert o.right and not set(o.required) - set(o.findings), (o.model, o.acceptable, o.findings, o.required)


def test_every_wait_kind_is_in_the_slice():
    kinds = {k for s in SPECS for k in s.work}
    assert set(WAIT_KINDS) <= kinds and {"gil", "sha256"} & kinds


def test_library_programs_are_a_sample_of_their_own(tmp_path):
    """Cheap, no library needed: the library sample compiles and names a model; adding it
    leaves the standard sample for a seed as it was (the README's figures refer to seed 1)."""
    from benchmarks.corpus.generate import LIB_KINDS, all_specs, uses_library

    rates = {"gil": 2e7, "gil_listcomp": 2.5e7, "json": 3e5, "re": 2e7, "sha256": 1.5e9, "zlib": 2e7, "bz2": 1e7,
             "lzma": 5e6, "file": 1.5e9, "sqlite": 2.5e6, "python_start": 0.03, "np_sort": 1.3e7,
             "pil_resize": 2.3e7, "pil_noise": 2.3e7, "lxml_parse": 2.8e5, "black_fmt": 600}
    plain = [s.shape() for s in sample_specs(60, 3, scale=0.1)]
    mixed = all_specs(60, 3, scale=0.1, library_count=20)
    assert [s.shape() for s in mixed[:60]] == plain and not any(uses_library(s) for s in mixed[:60])
    library = [write_program(spec, tmp_path, rates) for spec in all_specs(30, 3, scale=0.1, library_only=True)]
    assert all(uses_library(s) for s in library) and set(LIB_KINDS) <= {k for s in library for k in s.work}
    for spec in library:
        for name in spec.files:
            if name.endswith(".py"):
                ast.parse((tmp_path / name).read_text(), name)
        assert spec.preferred in MODELS and spec.preferred in spec.acceptable
