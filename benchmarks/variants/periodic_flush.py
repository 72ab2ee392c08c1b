"""Hand-written threads variant of sample_apps/periodic_flush.py.

Same batches, same ``process_batch`` and the same ``flush`` chore; the
chore runs every FLUSH_INTERVAL_S in a background thread
(``threading.Event.wait`` as the timer), working on a copy of the metrics
taken under a lock, so the processing loop never stops to wait for the disk
or the collector.  A final flush runs after the loop, as in the original.
"""

import copy
import os
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sample_apps"))

from periodic_flush import (FLUSH_INTERVAL_S, flush, make_batches, new_metrics,  # noqa: E402
                            process_batch, start_server, stop_server)


def flusher(metrics, lock, stop, path, base_url, counter):
    while not stop.wait(FLUSH_INTERVAL_S):
        with lock:
            snapshot = copy.deepcopy(metrics)
        flush(snapshot, path, base_url)
        counter[0] += 1


def main():
    server, base_url = start_server()
    workdir = tempfile.mkdtemp(prefix="concadvisor-flush-")
    snapshot_path = os.path.join(workdir, "metrics.json")
    try:
        batches = make_batches()
        metrics = new_metrics()
        lock = threading.Lock()
        stop = threading.Event()
        counter = [0]
        start = time.perf_counter()
        background = threading.Thread(target=flusher, daemon=True,
                                      args=(metrics, lock, stop, snapshot_path, base_url, counter))
        background.start()
        for batch in batches:
            with lock:
                process_batch(metrics, batch)
        stop.set()
        background.join()
        flush(metrics, snapshot_path, base_url)
        flushes = counter[0] + 1
        elapsed = time.perf_counter() - start
    finally:
        stop_server(server)
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"periodic_flush[threads]: {metrics['lines']} lines in {len(batches)} batches, "
          f"{flushes} flushes, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
