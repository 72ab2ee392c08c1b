"""A metrics worker that does its periodic flush inline, stalling the work.

The program starts a loopback "collector" service (ThreadingHTTPServer on
127.0.0.1, ephemeral port, daemon thread) that answers each POST after
~35 ms, like a remote monitoring endpoint.  The worker then processes 7500
batches of access-log lines with ``process_batch(metrics, batch)``
(parsing, counting status codes, a latency histogram).  At the start and
then roughly every 100 ms it runs the periodic chore ``flush(metrics, path, url)`` inline: it
writes a JSON snapshot of the metrics to a file and fsyncs it, pushes the
snapshot to the collector and sends a heartbeat (two HTTP POSTs).

The chore is background work: nothing in the processing loop needs its
result, yet while it runs the worker just waits on the disk and the
network.  Most of the wall time is that waiting.  The fix is to move the
chore to a background thread (a timer loop with ``threading.Event.wait``)
so processing never stops: threads.

Expected model: threads
Dominant category: io_wait
"""

import http.server
import json
import os
import random
import shutil
import tempfile
import threading
import time
import urllib.request

N_BATCHES = 7500
LINES_PER_BATCH = 25
FLUSH_INTERVAL_S = 0.1
MIN_WORK_BETWEEN_FLUSHES_S = 0.02
COLLECTOR_LATENCY_S = 0.035


class CollectorHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        self.rfile.read(length)
        time.sleep(COLLECTOR_LATENCY_S)  # latency of the remote collector (server side)
        self.send_response(204)
        self.end_headers()

    def log_message(self, format, *args):
        pass


class LoopbackHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # room for many simultaneous clients


def start_server():
    server = LoopbackHTTPServer(("127.0.0.1", 0), CollectorHandler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    host, port = server.server_address[:2]
    return server, f"http://{host}:{port}"


def stop_server(server):
    server.shutdown()
    server.server_close()


def make_batches(n=N_BATCHES, per_batch=LINES_PER_BATCH):
    """Cut a pool of generated access-log lines into n batches."""
    rng = random.Random(3)
    pool = [f"10.0.{rng.randrange(256)}.{rng.randrange(256)} GET /api/item/{rng.randrange(5000)} "
            f"{rng.choice((200, 200, 200, 201, 304, 404, 500))} {rng.randrange(1, 800)}"
            for _ in range(2000)]
    return [[pool[(b * per_batch + k) % len(pool)] for k in range(per_batch)] for b in range(n)]


def new_metrics():
    return {"lines": 0, "bytes": 0, "status": {}, "latency_buckets": [0] * 10, "paths": {}}


def process_batch(metrics, batch):
    """Parse one batch of log lines and fold it into the metrics."""
    for line in batch:
        ip, method, path, status, latency_ms = line.split()
        metrics["lines"] += 1
        metrics["bytes"] += len(line)
        metrics["status"][status] = metrics["status"].get(status, 0) + 1
        bucket = min(int(latency_ms) // 80, 9)
        metrics["latency_buckets"][bucket] += 1
        route = path.rsplit("/", 1)[0]
        metrics["paths"][route] = metrics["paths"].get(route, 0) + 1


def post(url, payload):
    req = urllib.request.Request(url, data=payload, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()


def flush(metrics, path, base_url):
    """The periodic chore: durable snapshot to disk, push to collector, heartbeat."""
    snapshot = json.dumps({"ts": time.time(), "metrics": metrics}).encode()
    with open(path, "wb") as f:
        f.write(snapshot)
        f.flush()
        os.fsync(f.fileno())
    post(f"{base_url}/metrics", snapshot)
    post(f"{base_url}/heartbeat", b'{"worker": "log-metrics", "alive": true}')


def main():
    server, base_url = start_server()
    workdir = tempfile.mkdtemp(prefix="concadvisor-flush-")
    snapshot_path = os.path.join(workdir, "metrics.json")
    try:
        batches = make_batches()
        metrics = new_metrics()
        start = time.perf_counter()
        flushes = 0
        next_flush = time.monotonic()  # first flush right away: it registers the worker
        for batch in batches:
            process_batch(metrics, batch)
            if time.monotonic() >= next_flush:
                flush_started = time.monotonic()
                flush(metrics, snapshot_path, base_url)
                flushes += 1
                next_flush = max(flush_started + FLUSH_INTERVAL_S,
                                 time.monotonic() + MIN_WORK_BETWEEN_FLUSHES_S)
        flush(metrics, snapshot_path, base_url)
        flushes += 1
        elapsed = time.perf_counter() - start
    finally:
        stop_server(server)
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"periodic_flush: {metrics['lines']} lines in {len(batches)} batches, "
          f"{flushes} flushes, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
