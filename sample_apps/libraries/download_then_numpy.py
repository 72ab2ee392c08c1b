"""Download a batch of sensor dumps with requests and analyse each with numpy, one after another.

The program starts its own "remote" archive service on 127.0.0.1 (an
``http.server.ThreadingHTTPServer`` in a daemon thread): each request waits
40 ms on the server side, then sends a 4 MB dump (500 000 float64 samples).
For each of 20 dumps the client downloads it with ``requests.get``, then
analyses it with numpy (``np.frombuffer``, a sort for the median and the
99th percentile, a real FFT for the strongest frequency), ~40 ms of numpy
per dump.  The jobs run in a plain ``for`` loop.

Right model: threads.  Half of the time is waiting for the service
(io_wait), the other half is numpy's native code, which releases the GIL
(cpu_nogil); both overlap in a ThreadPoolExecutor, where the downloads wait
together and two analyses run at once on the two cores, with no copying.
asyncio (aiohttp) overlaps the downloads but runs the numpy part in the event
loop one at a time; asyncio plus a process pool gets both, but pays for
sending each 4 MB dump to a worker; a plain process pool only doubles up.

Measured on this 2-core machine (``python -m benchmarks libraries``: wall of
the whole ``python`` command, best of 3): as written 2.34 s; threads (8
workers) 0.97 s = 2.4x; asyncio + ProcessPoolExecutor 1.20 s = 1.95x;
processes (2 workers) 1.36 s = 1.7x; asyncio (aiohttp, numpy in the loop) 1.42
s = 1.6x.
"""

import http.server
import threading
import time

import numpy as np
import requests

LATENCY_S = 0.040
N_DUMPS = 20
N_SAMPLES = 500_000


def _make_base():
    t = np.arange(N_SAMPLES) / N_SAMPLES
    return np.random.default_rng(7).standard_normal(N_SAMPLES) + 2.0 * np.sin(2 * np.pi * 2500 * t)


class ArchiveHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    base = _make_base()

    def do_GET(self):
        n = int(self.path.rsplit("/", 1)[-1])
        body = (np.roll(self.base, n * 1000) * (1.0 + n / 50)).tobytes()
        time.sleep(LATENCY_S)  # the archive's latency (server side)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


class LoopbackServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def start_server():
    """Start the archive service on 127.0.0.1:<ephemeral>; return (server, base_url)."""
    server = LoopbackServer(("127.0.0.1", 0), ArchiveHandler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    host, port = server.server_address[:2]
    return server, f"http://{host}:{port}"


def stop_server(server):
    server.shutdown()
    server.server_close()


def dump_urls(base_url, n=N_DUMPS):
    return [f"{base_url}/dumps/{i}" for i in range(n)]


def download(session, url):
    response = session.get(url, timeout=10)
    response.raise_for_status()
    return response.content


def analyse(body):
    """(median, p99, strongest frequency bin) of one dump."""
    samples = np.frombuffer(body, dtype=np.float64)
    ordered = np.sort(samples)
    spectrum = np.abs(np.fft.rfft(samples)[1:])
    return (round(float(ordered[len(ordered) // 2]), 6), round(float(ordered[int(len(ordered) * 0.99)]), 6),
            int(np.argmax(spectrum)) + 1)


def summarize(results):
    return (f"{len(results)} dumps, median sum {sum(r[0] for r in results):.6f}, "
            f"p99 sum {sum(r[1] for r in results):.6f}, peaks {sorted({r[2] for r in results})}")


def main():
    server, base_url = start_server()
    try:
        start = time.perf_counter()
        results = []
        with requests.Session() as session:
            for url in dump_urls(base_url):
                results.append(analyse(download(session, url)))
        elapsed = time.perf_counter() - start
    finally:
        stop_server(server)
    print(f"download_then_numpy: {summarize(results)}, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
