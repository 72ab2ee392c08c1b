"""Download a batch of reports from an HTTP service, one after another.

The program starts a small "remote" report service on 127.0.0.1 (a
ThreadingHTTPServer on an ephemeral port, in a daemon thread).  The service
simulates the latency of a real remote API: each request waits ~45 ms before
answering with a ~50 KB body.  The client then fetches 25 reports with the
blocking ``urllib.request`` library, strictly sequentially, and checksums each
body.

Almost all of the wall time is the client sitting in ``recv()`` waiting for
the service, so the dominant category is I/O wait.  Because urllib is a
blocking library, the smallest change that overlaps the 25 independent
downloads is a ``concurrent.futures.ThreadPoolExecutor`` around
``download(url)``; rewriting on asyncio would need a different HTTP client.

Expected model: threads
Dominant category: io_wait
"""

import http.server
import threading
import time
import urllib.request
import zlib

LATENCY_S = 0.045
BODY_SIZE = 50 * 1024
N_REPORTS = 25


def _make_body(size):
    line = b"timestamp,region,requests,errors,latency_ms\n"
    row = b"2024-05-01T12:00:00Z,eu-west-1,18231,12,41.7\n"
    return (line + row * (size // len(row) + 1))[:size]


class ReportHandler(http.server.BaseHTTPRequestHandler):
    body = _make_body(BODY_SIZE)

    def do_GET(self):
        time.sleep(LATENCY_S)  # latency of the remote service (server side)
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format, *args):  # keep the output quiet
        pass


class LoopbackHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # room for many simultaneous clients


def start_server():
    """Start the report service on 127.0.0.1:<ephemeral>; return (server, base_url)."""
    server = LoopbackHTTPServer(("127.0.0.1", 0), ReportHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    return server, f"http://{host}:{port}"


def stop_server(server):
    server.shutdown()
    server.server_close()


def report_urls(base_url, n=N_REPORTS):
    return [f"{base_url}/reports/{i}.csv" for i in range(n)]


def download(url):
    """Fetch one report and return (size, crc32) of its body."""
    with urllib.request.urlopen(url, timeout=10) as resp:
        body = resp.read()
    return len(body), zlib.crc32(body)


def main():
    server, base_url = start_server()
    try:
        start = time.perf_counter()
        total = 0
        crc = 0
        for url in report_urls(base_url):
            size, body_crc = download(url)
            total += size
            crc ^= body_crc
        elapsed = time.perf_counter() - start
    finally:
        stop_server(server)
    print(f"http_downloads: {N_REPORTS} reports, {total} bytes, crc {crc:08x}, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
