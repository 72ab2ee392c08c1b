"""Fetch 40 reports from a loopback report service with a thread pool: already concurrent.

The program already does what concadvisor would advise for blocking HTTP downloads: a
``ThreadPoolExecutor`` of 10 threads keeps ten ``urllib`` requests in flight, so the
40 waits of ~45 ms (server-side latency) overlap. Its worker threads mostly wait; its main
thread only collects results. The advice keeps threads rather than proposing asyncio for
the wrong reason: a round opens 40 connections at most, far from the thousands an event
loop is for, and a pool of as many threads as downloads overlaps them all (its estimate).

Expected model: threads
Dominant category: io_wait
"""
import http.server
import threading
import time
import urllib.request
import zlib
from concurrent.futures import ThreadPoolExecutor

LATENCY_S = 0.045
N_REPORTS = 40
WORKERS = 10


class ReportHandler(http.server.BaseHTTPRequestHandler):
    body = b"day,region,requests\n" + b"2024-05-01,eu-west-1,18231\n" * 2000

    def do_GET(self):
        time.sleep(LATENCY_S)  # the remote service's latency (server side)
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format, *args):
        pass


class LoopbackHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def download(url):
    """One report's (size, crc32)."""
    with urllib.request.urlopen(url, timeout=10) as resp:
        body = resp.read()
    return len(body), zlib.crc32(body)


def main():
    server = LoopbackHTTPServer(("127.0.0.1", 0), ReportHandler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    host, port = server.server_address[:2]
    urls = [f"http://{host}:{port}/reports/{i}.csv" for i in range(N_REPORTS)]
    start = time.perf_counter()
    try:
        rounds = 0
        while time.perf_counter() - start < 1.0:  # a few rounds, like a poller would
            with ThreadPoolExecutor(max_workers=WORKERS) as pool:
                results = list(pool.map(download, urls))
            rounds += 1
    finally:
        server.shutdown()
        server.server_close()
    total = sum(size for size, _ in results)
    print(f"threaded_downloads: {rounds} rounds of {len(urls)} reports, {total} bytes a round, "
          f"{time.perf_counter() - start:.2f}s")


if __name__ == "__main__":
    main()
