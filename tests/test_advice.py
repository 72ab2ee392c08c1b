"""Checklist and recommendation on hand-built profiles of the classic program shapes."""
from __future__ import annotations

from concadvisor.pipeline import analyse
from tables import LIB, Graph, measurement, native, py


def urllib_downloads(n=25, wait=0.05):
    urlopen = f"{LIB}/urllib/request.py:200:urlopen"
    return (Graph().call(py("<module>"), py("main", 30), 1, n * wait + 0.05)
            .call(py("main", 30), py("download", 10), n, n * wait + 0.04).own(py("download", 10), 0.04, n)
            .call(py("download", 10), urlopen, n, n * wait)
            .call(urlopen, native("_socket.socket.recv_into"), n * 4, n * wait))


def test_sequential_blocking_downloads_get_threads():
    result = analyse(measurement(urllib_downloads()))
    rec = result.recommendation
    assert rec["model"] == "threads"
    assert "asyncio" in rec["alternatives"]
    assert rec["estimated_speedup"] > 5
    answers = {a["key"]: a["answer"] for a in rec["checklist"]}
    assert answers["waiting"] == "yes" and answers["overlappable"] == "yes"
    assert answers["blocking_libraries"] == "yes"


def test_repeated_sleeps_get_asyncio():
    g = (Graph().call(py("main", 30), py("poll", 10), 20, 1.0)
         .call(py("poll", 10), native("time.sleep"), 20, 1.0))
    assert analyse(measurement(g)).recommendation["model"] == "asyncio"


def test_single_wait_gets_no_recommendation():
    g = Graph().call(py("main", 30), native("time.sleep"), 1, 1.5).own(py("main", 30), 0.01)
    rec = analyse(measurement(g)).recommendation
    assert rec["model"] == "none"
    assert rec["estimated_speedup"] == 1.0


def test_pure_python_chunks_get_multiprocessing():
    g = Graph().call(py("main", 30), py("crunch", 10), 8, 2.0).own(py("crunch", 10), 2.0, 8)
    result = analyse(measurement(g))
    assert result.recommendation["model"] == "multiprocessing"
    assert result.categories["cpu_gil"] > 0.95


def test_hashing_large_buffers_gets_threads():
    g = (Graph().call(py("main", 30), py("digest", 10), 8, 2.0)
         .call(py("digest", 10), native("_hashlib.openssl_sha256"), 8, 2.0))
    result = analyse(measurement(g))
    assert result.recommendation["model"] == "threads"
    assert result.categories["cpu_nogil"] > 0.95


def test_download_then_parse_gets_asyncio_with_a_process_pool():
    g = (Graph().call(py("main", 30), py("handle", 10), 12, 2.0)
         .call(py("handle", 10), native("_socket.socket.recv_into"), 12, 1.0)
         .call(py("handle", 10), py("parse", 20), 12, 1.0).own(py("parse", 20), 1.0, 12))
    assert analyse(measurement(g)).recommendation["model"] == "asyncio+multiprocessing"


def test_every_answer_carries_evidence():
    rec = analyse(measurement(urllib_downloads())).recommendation
    assert len(rec["checklist"]) >= 4
    assert all(a["answer"] in ("yes", "no", "partly") and a["evidence"] for a in rec["checklist"])


def test_categories_sum_to_one():
    result = analyse(measurement(urllib_downloads()))
    assert abs(sum(result.categories.values()) - 1.0) < 0.02


def test_a_unit_counted_only_in_part_says_at_least_in_the_report():
    """The call counter stops counting a hot function; how often its unit ran is then a
    lower bound, and the report, the checklist and the terminal summary say so."""
    from concadvisor.renderers.markdown import MarkdownRenderer
    from concadvisor.renderers.terminal import TerminalRenderer

    m = measurement(urllib_downloads())
    m.extra["calls_at_least"] = ["download"]
    result = analyse(m)
    change = result.recommendation["changes"][0]
    assert change["unit"] == "download" and change["repeats_at_least"] is True
    assert "download` at least 25 times" in MarkdownRenderer().render(result)
    assert "download() x25 or more" in TerminalRenderer().render(result)
    evidence = {a["key"]: a["evidence"] for a in result.recommendation["checklist"]}
    assert "download() runs at least 25 times" in evidence["overlappable"]

    exact = analyse(measurement(urllib_downloads()))
    assert "repeats_at_least" not in exact.recommendation["changes"][0]
    assert "at least" not in MarkdownRenderer().render(exact)


def test_a_periodic_chore_is_found_when_the_work_units_cpu_is_spread_over_its_calls():
    """The work unit's CPU is its own code plus the natives it calls (split, sorted...):
    each alone under a tenth of the run, together over it. The chore is still background
    work (periodic_flush read asyncio in 2 of 3 cProfile runs before this)."""
    urlopen = f"{LIB}/urllib/request.py:200:urlopen"
    g = (Graph().call(py("<module>"), py("main", 30), 1, 5.0)
         .call(py("main", 30), py("process_batch", 10), 7500, 1.0).own(py("process_batch", 10), 0.45, 7500)
         .call(py("process_batch", 10), native("builtins.str.split"), 7500 * 8, 0.3)
         .call(py("process_batch", 10), native("builtins.sorted"), 7500, 0.25)
         .call(py("main", 30), py("flush", 50), 50, 4.0).own(py("flush", 50), 0.02, 50)
         .call(py("flush", 50), urlopen, 100, 3.98)
         .call(urlopen, native("_socket.socket.recv_into"), 400, 3.98))
    rec = analyse(measurement(g)).recommendation
    answers = {a["key"]: a["answer"] for a in rec["checklist"]}
    assert answers["background"] == "yes"
    assert rec["model"] == "threads"


def test_a_chore_on_a_timer_that_ran_more_often_on_a_slow_machine_is_still_a_chore():
    """On a slower or busier machine the same work takes longer, so a chore on a timer runs
    more often and its waits grow: here the work is 0.2 s of CPU, 4% of the run, and the
    chore's 95 flushes made 190 connections (over 50: the 'many connections' rule would
    say asyncio). It is still background work for a thread."""
    urlopen = f"{LIB}/urllib/request.py:200:urlopen"
    g = (Graph().call(py("<module>"), py("main", 30), 1, 5.0)
         .call(py("main", 30), py("process_batch", 10), 7500, 0.2).own(py("process_batch", 10), 0.2, 7500)
         .call(py("main", 30), py("flush", 50), 95, 4.8).own(py("flush", 50), 0.02, 95)
         .call(py("flush", 50), urlopen, 190, 4.78)
         .call(urlopen, native("_socket.socket.connect"), 190, 0.1)
         .call(urlopen, native("_socket.socket.recv_into"), 760, 4.68))
    rec = analyse(measurement(g)).recommendation
    answers = {a["key"]: a["answer"] for a in rec["checklist"]}
    assert answers["background"] == "yes"
    assert rec["model"] == "threads"


def test_idle_pool_workers_waiting_for_work_are_not_the_program_waiting():
    """8 strips of pure Python on a thread pool whose workers then idle on the queue (30%
    of their time): that idle time is no I/O to overlap, so no asyncio-and-processes mix."""
    worker = f"{LIB}/concurrent/futures/thread.py:69:_worker"
    get = f"{LIB}/queue.py:154:get"
    result_wait = f"{LIB}/concurrent/futures/_base.py:430:result"
    main = (Graph(wall=2.0, cpu=0.01).call(py("<module>"), py("main", 30), 1, 2.0)
            .call(py("main", 30), result_wait, 8, 2.0)
            .call(result_wait, native("_thread.lock.acquire"), 8, 2.0))
    workers = [Graph(f"ThreadPoolExecutor-0_{i}", wall=2.0, cpu=1.4, main=False)
               .call(worker, py("render_strip", 10), 4, 1.4).own(py("render_strip", 10), 1.4, 4)
               .call(worker, get, 5, 0.6).call(get, native("_thread.lock.acquire"), 5, 0.6)
               for i in range(2)]
    result = analyse(measurement(main, *workers))
    answers = {a["key"]: a for a in result.recommendation["checklist"]}
    # The idle time is waiting on the program's own threads: shown apart, not as I/O.
    assert result.categories["io_wait"] < 0.05
    assert result.extra["worker_wait_seconds"] >= 1.1
    assert answers["mix"]["answer"] == "no"
    assert "waiting on its own threads" in answers["mix"]["evidence"]
    assert result.recommendation["model"] == "multiprocessing"


def test_a_bigger_change_never_wins_over_a_smaller_one_estimated_as_high():
    """Connections through a blocking client (urllib): threads are estimated as high as
    asyncio and need no new client library. 60 connects, but at most 30 in flight at once
    (one download after the other makes its two): not the thousands asyncio is for."""
    n, wait = 30, 0.05  # 30 downloads (no more than a thread pool's 32 lanes), each connecting twice
    urlopen = f"{LIB}/urllib/request.py:200:urlopen"
    g = (Graph().call(py("<module>"), py("main", 30), 1, n * wait + 0.05)
         .call(py("main", 30), py("download", 10), n, n * wait + 0.04).own(py("download", 10), 0.04, n)
         .call(py("download", 10), urlopen, n, n * wait)
         .call(urlopen, native("_socket.socket.connect"), 2 * n, n * wait / 4)
         .call(urlopen, native("_socket.socket.recv_into"), n * 4, n * wait * 3 / 4))
    rec = analyse(measurement(g)).recommendation
    answers = {a["key"]: a["answer"] for a in rec["checklist"]}
    assert answers["many_connections"] == "partly"
    assert rec["estimates"]["threads"] >= rec["estimates"]["asyncio"]
    assert rec["model"] == "threads", rec["reasons"]
    # the two are within the margin: the report names both
    assert set(rec["close_call"]["models"]) == {"threads", "asyncio"}


def test_equal_estimates_are_reported_as_a_close_call_and_clear_ones_are_not():
    g = (Graph().call(py("main", 30), py("poll", 10), 20, 1.0)
         .call(py("poll", 10), native("time.sleep"), 20, 1.0))
    rec = analyse(measurement(g)).recommendation
    assert rec["model"] == "asyncio" and rec["close_call"]["models"] == ["asyncio", "threads"]
    assert "within 15%" in rec["close_call"]["why"]
    clear = analyse(measurement(urllib_downloads(n=25))).recommendation  # threads; asyncio a bigger change
    assert clear["model"] == "threads"
