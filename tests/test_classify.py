"""Classification: every second lands in the right category, from the catalog or the clocks."""
from __future__ import annotations

import pytest

from concadvisor.catalog import lookup, normalise_cprofile_name
from concadvisor.classify import category_seconds, category_shares, classify
from tables import Graph, measurement, native, py


@pytest.mark.parametrize("raw, name", [
    ("<built-in method time.sleep>", "time.sleep"),
    ("<method 'recv_into' of '_socket.socket' objects>", "_socket.socket.recv_into"),
    ("<built-in method _hashlib.openssl_sha256>", "_hashlib.openssl_sha256"),
    ("<method 'join' of 'bytes' objects>", "builtins.bytes.join"),
    ("<built-in method builtins.len>", "builtins.len"),
    # a library's C type with no module in its name is not a builtin (Pillow's ImagingCore)
    ("<method 'resize' of 'ImagingCore' objects>", "ImagingCore.resize"),
    ("<method 'send' of 'generator' objects>", "builtins.generator.send"),
])
def test_cprofile_names_are_normalised(raw, name):
    assert normalise_cprofile_name(raw) == name


@pytest.mark.parametrize("name, category", [
    ("time.sleep", "io_wait"), ("_socket.socket.recv_into", "io_wait"), ("posix.waitpid", "io_wait"),
    ("_thread.lock.acquire", "io_wait"), ("select.epoll.poll", "io_wait"),
    ("_hashlib.openssl_sha256", "cpu_nogil"), ("zlib.compress", "cpu_nogil"), ("_bz2.BZ2Compressor.compress", "cpu_nogil"),
    ("_json.make_encoder", "cpu_gil"), ("_pickle.dumps", "cpu_gil"), ("builtins.sorted", "cpu_gil"),
    ("_sre.compile", "cpu_gil"),
    # cProfile's name for sqlite3's classes has no underscore; a query is CPU or disk
    ("sqlite3.Cursor.execute", "syscall"), ("sqlite3.Connection.execute", "syscall"),
    ("sqlite3.Cursor.fetchall", "syscall"), ("_sqlite3.Cursor.execute", "syscall"),
])
def test_catalog_knows_common_natives(name, category):
    assert lookup(name).category == category


def test_unknown_native_is_a_wait_when_the_thread_used_no_cpu_for_it():
    g = Graph(cpu=0.5).call(py("main"), native("mystery.block"), 4, 2.0).own(py("main"), 0.5)
    m = classify(measurement(g))
    row = m.functions[m.functions["function"] == "mystery.block"].iloc[0]
    assert row["io_wait"] == pytest.approx(2.0)
    assert row["cpu_gil"] == pytest.approx(0.0)


def test_unknown_native_is_cpu_when_the_thread_clock_says_it_computed():
    g = Graph(cpu=2.5).call(py("main"), native("mystery.crunch"), 4, 2.0).own(py("main"), 0.5)
    m = classify(measurement(g))
    row = m.functions[m.functions["function"] == "mystery.crunch"].iloc[0]
    assert row["cpu_gil"] == pytest.approx(2.0)
    assert row["io_wait"] == pytest.approx(0.0)


def test_a_sqlite_query_that_computes_is_cpu_without_the_gil():
    """Under cProfile a query over data in memory read as GIL-holding CPU (the catalog's
    pattern missed cProfile's ``sqlite3.Cursor`` spelling): its thread's CPU clock says
    it computed, and sqlite3 releases the GIL while it does."""
    g = Graph(cpu=1.0).call(py("main"), native("sqlite3.Cursor.execute"), 6, 1.0)
    m = classify(measurement(g))
    row = m.functions[m.functions["function"] == "sqlite3.Cursor.execute"].iloc[0]
    assert row["cpu_nogil"] == pytest.approx(1.0, abs=0.05)


def test_file_syscall_split_between_disk_wait_and_kernel_cpu_without_gil():
    g = Graph(cpu=0.5 + 0.3).call(py("main"), native("posix.pread"), 100, 1.0).own(py("main"), 0.5)
    m = classify(measurement(g))
    row = m.functions[m.functions["function"] == "posix.pread"].iloc[0]
    assert row["cpu_nogil"] == pytest.approx(0.3)
    assert row["io_wait"] == pytest.approx(0.7)


def test_small_hash_calls_hold_the_gil():
    g = Graph().call(py("main"), native("_hashlib.openssl_sha256"), 100000, 0.2).own(py("main"), 0.1)
    m = classify(measurement(g))
    row = m.functions[m.functions["function"] == "_hashlib.openssl_sha256"].iloc[0]
    assert row["cpu_gil"] == pytest.approx(0.2)


def test_python_time_without_cpu_in_busy_threads_is_gil_wait():
    workers = [Graph(f"w{i}", cpu=0.5, main=False).own(py("crunch", 5), 1.0, calls=2) for i in range(2)]
    main = Graph(cpu=0.0).call(py("main"), native("_thread.lock.acquire"), 1, 1.0)
    m = classify(measurement(main, *workers))
    seconds = category_seconds(m)
    assert seconds["gil_wait"] == pytest.approx(1.0)
    assert seconds["cpu_gil"] == pytest.approx(2.0)


def test_shares_sum_to_one_and_gaps_are_other():
    g = Graph(wall=2.0).call(py("main"), native("time.sleep"), 1, 1.0).own(py("main"), 0.5)
    m = classify(measurement(g))
    shares = category_shares(category_seconds(m))
    assert sum(shares.values()) == pytest.approx(1.0, abs=0.001)
    assert shares["other"] == pytest.approx(0.25, abs=0.01)
    assert shares["io_wait"] == pytest.approx(0.5, abs=0.01)


def test_nothing_measured_is_all_other():
    assert category_shares({"io_wait": 0, "cpu_gil": 0, "cpu_nogil": 0, "other": 0}) == \
        {"io_wait": 0.0, "cpu_gil": 0.0, "cpu_nogil": 0.0, "other": 1.0}


def test_profiler_cost_comes_out_of_the_caller_that_paid_it():
    """cProfile's per-call cost lands mostly in the caller's own time: a C function that
    resumes a generator 100,000 times (``b"".join(genexpr)``) must not keep it as CPU."""
    from concadvisor.collect.cprofile import measurement_from_raw

    def row(file, line, name, calls, own, callers=()):
        return {"file": file, "line": line, "name": name, "calls": calls, "primitive_calls": calls,
                "self": own, "total": own, "callers": [list(c) for c in callers]}

    join = ("~", 0, "<method 'join' of 'bytes' objects>")
    raw = {"wall_seconds": 1.0, "overhead_per_call": 1e-6, "overhead_callee_share": 0.25,
           "threads": [{"name": "MainThread", "wall_seconds": 1.0, "cpu_seconds": 1.0, "functions": [
               row("app.py", 1, "main", 1, 0.01),
               row(*join, 1, 0.08, callers=[("app.py", 1, "main", 1, 0.9)]),
               row("app.py", 5, "<genexpr>", 100_000, 0.2, callers=[(*join, 100_000, 0.8)]),
           ]}]}
    own = measurement_from_raw(raw).functions.set_index("function")["self_seconds"]
    assert own["builtins.bytes.join"] == pytest.approx(0.08 - 0.075, abs=1e-6)
    assert own["<genexpr>"] == pytest.approx(0.2 - 0.025, abs=1e-6)
    assert own["main"] == pytest.approx(0.01 - 1e-6 - 0.75e-6, abs=1e-8)  # its own call, and join's


def test_python_code_slowed_by_the_profile_hook_is_scaled_back():
    """On 3.11 an active profiler slows Python code between calls too (about 1.5x): its
    own time comes back at the plain speed; native time and waits stay as measured, and a
    thread queueing for the GIL keeps the CPU it really used."""
    from concadvisor.collect.cprofile import measurement_from_raw

    def row(file, line, name, own):
        return {"file": file, "line": line, "name": name, "calls": 1, "primitive_calls": 1,
                "self": own, "total": own, "callers": []}

    functions = [row("app.py", 1, "loop", 1.5), row("~", 0, "<built-in method time.sleep>", 1.0)]
    raw = {"wall_seconds": 2.5, "overhead_per_call": 0.0, "bytecode_slowdown": 1.5,
           "threads": [{"name": "MainThread", "wall_seconds": 2.5, "cpu_seconds": 1.5, "functions": functions},
                       {"name": "worker", "wall_seconds": 2.0, "cpu_seconds": 0.5,
                        "functions": [row("app.py", 9, "crunch", 2.0)]}]}
    measured = measurement_from_raw(raw)
    own = measured.functions.set_index(["thread", "function"])["self_seconds"]
    assert own["MainThread", "loop"] == pytest.approx(1.0)
    assert own["MainThread", "time.sleep"] == pytest.approx(1.0)
    threads = measured.threads.set_index("thread")
    assert threads.loc["MainThread", "wall_seconds"] == pytest.approx(2.0)
    assert threads.loc["MainThread", "cpu_seconds"] == pytest.approx(1.0)
    # 2 s of wall in crunch, only 0.5 s of it on the CPU: that part ran slowed, not all 2 s.
    assert threads.loc["worker", "cpu_seconds"] == pytest.approx(0.5 - (2.0 / 3) * 0.25)
    assert threads.loc["worker", "cpu_seconds"] > 0.3


def test_sampled_calls_count_restarts_but_a_module_body_runs_once():
    """Samples count a frame as a call each time it appears anew. A sample that misses
    the module's frame (a torn read of a running stack) must not make the module body
    look like it ran twice; a function that really comes and goes is counted each time."""
    from concadvisor.collect.samples import Sampling, ThreadSamples, measurement_from_samples

    module = ("<module>", "/home/user/app.py", 30)
    poll, sleep = ("poll", "/home/user/app.py", 12), ("poll", "/home/user/app.py", 14)
    stacks = [(module,), (module, poll), (module, sleep), (poll,), (module, poll), (module,), (module, poll)]
    thread = ThreadSamples(pid=1, tid=1, name="MainThread", stacks=list(stacks))
    sampling = Sampling(every=[thread], active=[], gil=[], pid=1, wall_seconds=0.07, rate=100)
    calls = measurement_from_samples(sampling).functions.groupby("function")["calls"].sum()
    assert calls["<module>"] == 1
    assert calls["poll"] == 4


def test_a_thread_still_at_work_after_the_main_thread_ended_counts_whatever_its_cpu():
    """The interpreter joins non-daemon threads at exit: when the main thread ends early,
    a thread that then sleeps and computes a little is the rest of the program's time
    (it used 5% of its life as CPU, under the busy share that leaves idle servers out)."""
    main = Graph(wall=0.01, cpu=0.01).own(py("<module>"), 0.01)
    late = Graph("late", wall=0.4, cpu=0.02, main=False).call(
        py("late_finisher", 3), native("time.sleep"), 1, 0.3).own(py("finishing_touch", 9), 0.02, calls=5)
    m = classify(measurement(main, late))
    counted = dict(zip(m.threads["thread"], m.threads["counted"]))
    assert counted["late"] and counted["MainThread"]
    assert category_seconds(m)["io_wait"] == pytest.approx(0.3, abs=0.01)


def test_an_idle_server_thread_beside_a_main_thread_that_works_still_does_not_count():
    main = Graph(wall=1.0, cpu=0.6).call(py("main"), native("time.sleep"), 1, 0.4).own(py("main"), 0.6)
    server = Graph("server", wall=1.0, cpu=0.04, main=False).call(
        py("serve_forever", 5), native("select.select"), 50, 0.96)
    m = classify(measurement(main, server))
    counted = dict(zip(m.threads["thread"], m.threads["counted"]))
    assert counted["MainThread"] and not counted["server"]


def test_sampled_idle_time_on_an_unknown_call_that_holds_the_gil_is_gil_queueing_not_io(tmp_path):
    """py-spy sees a thread blocked on the GIL as idle, parked at a call. A call the
    catalog does not know whose line is seen holding the GIL as often as its thread does
    (``counts.get``) keeps the GIL: its idle samples are GIL queueing. An unknown call
    never seen holding it (a C extension's blocking fetch) keeps its idle as a wait."""
    from concadvisor.collect.samples import Sampling, ThreadSamples, measurement_from_samples

    source = tmp_path / "work.py"
    source.write_text("def tally(conn, counts, key):\n"
                      "    counts[key] = counts.get(key, 0) + 1\n"
                      "    rows = conn.fetch_rows()\n"
                      "    total = key * key + 1\n")
    path = str(source)
    get, fetch, arith = (("tally", path, 2), ("tally", path, 3), ("tally", path, 4))

    def samples(tid, leaf, n):
        return [(("<module>", path, 1), leaf)] * n

    every, active, gil = [], [], []
    for tid in (11, 12):  # two threads taking turns on the GIL
        every.append(ThreadSamples(1, tid, f"T{tid}", samples(tid, get, 40) + samples(tid, fetch, 40)
                                   + samples(tid, arith, 20)))
        active.append(ThreadSamples(1, tid, f"T{tid}", samples(tid, get, 10) + samples(tid, arith, 18)))
        gil.append(ThreadSamples(1, tid, f"T{tid}", samples(tid, get, 9) + samples(tid, arith, 16)))
    sampling = Sampling(every=every, active=active, gil=gil, pid=1, wall_seconds=1.0, rate=100)
    functions = measurement_from_samples(sampling).functions
    waits = functions.groupby("function")["io_wait"].sum()
    assert waits.get("conn.fetch_rows", 0.0) == pytest.approx(0.8, abs=0.05)   # 2 x 40 idle samples
    assert waits.sum() == pytest.approx(0.8, abs=0.05)  # nothing at counts.get
    assert functions["gil_wait"].sum() == pytest.approx(0.6, abs=0.1)    # 2 x 30 idle at counts.get


def test_who_held_the_gil_as_measured_beside_a_tracing_profiler_splits_unknown_natives():
    """Under cProfile an unknown native's CPU holds the GIL unless measured: the GIL watch
    (py-spy beside it) saw the lines calling ``ImagingCore.resize`` busy without the GIL
    and those calling ``ImagingCore.effect_noise`` holding it; a Python function whose own
    lines ran without the GIL (a numpy ufunc inside it) is split likewise."""
    g = (Graph(cpu=3.0).call(py("job", 5), native("ImagingCore.resize"), 10, 1.0)
         .call(py("job", 5), native("ImagingCore.effect_noise"), 10, 1.0).own(py("job", 5), 1.0))
    m = measurement(g)
    m.extra["gil_watch"] = {"natives": {("/home/user/app.py", "resize"): [100.0, 3.0],
                                        ("/home/user/app.py", "effect_noise"): [100.0, 97.0]},
                            "functions": {("/home/user/app.py", 5): [300.0, 150.0]}}
    m = classify(m)
    rows = m.functions.set_index("function")
    assert rows.loc["ImagingCore.resize", "cpu_nogil"] == pytest.approx(0.97)
    assert rows.loc["ImagingCore.effect_noise", "cpu_gil"] == pytest.approx(0.97)
    assert rows.loc["job", "cpu_nogil"] == pytest.approx(0.5)
    assert set(m.extra["gil_measured"]) == {"ImagingCore.resize", "ImagingCore.effect_noise", "job"}
    # Too few samples, or none: the catalog's safe answer (holds the GIL) stands.
    m = measurement(g)
    m.extra["gil_watch"] = {"natives": {("/home/user/app.py", "resize"): [5.0, 0.0]}, "functions": {}}
    m = classify(m)
    assert m.functions.set_index("function").loc["ImagingCore.resize", "cpu_gil"] == pytest.approx(1.0)
