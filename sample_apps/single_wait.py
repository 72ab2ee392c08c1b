"""Wait for one long-running remote report to be generated.

The program starts a loopback "report service" (ThreadingHTTPServer on
127.0.0.1, ephemeral port, daemon thread) whose single endpoint takes ~1.5 s
to produce a report, like a slow analytics query.  ``main()`` makes exactly
one request with ``fetch_report(url)`` and prints a summary of the answer.

Almost all of the wall time is one blocking wait on one socket.  There is
only a single piece of work, so there is nothing to run at the same time as
it: no concurrency model can make this program faster, and the advice is
to leave it as it is.

Expected model: none
Dominant category: io_wait
"""

import http.server
import json
import threading
import time
import urllib.request

REPORT_DELAY_S = 1.5


class SlowReportHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(REPORT_DELAY_S)  # the slow query runs on the server side
        body = json.dumps({"report": "monthly-usage", "rows": 1234,
                           "total_gb": 9876.5}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


class LoopbackHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # room for many simultaneous clients


def start_server():
    server = LoopbackHTTPServer(("127.0.0.1", 0), SlowReportHandler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    host, port = server.server_address[:2]
    return server, f"http://{host}:{port}"


def stop_server(server):
    server.shutdown()
    server.server_close()


def fetch_report(url):
    """Request the report and decode the JSON answer."""
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.load(resp)


def main():
    server, base_url = start_server()
    try:
        start = time.perf_counter()
        report = fetch_report(f"{base_url}/reports/monthly-usage")
        elapsed = time.perf_counter() - start
    finally:
        stop_server(server)
    print(f"single_wait: report {report['report']} with {report['rows']} rows, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
