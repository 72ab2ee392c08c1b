"""Download sales exports from an HTTP service and parse each one by hand.

The program starts a loopback "export service" (ThreadingHTTPServer on
127.0.0.1, ephemeral port, daemon thread) whose handler takes ~70 ms to
answer, like a remote reporting API, and returns a ~250 KB CSV export with
quoted fields.  The client then, for each of 12 exports, calls
``download(url)`` (blocking urllib) and ``parse_export(text)``, a hand-written
pure-Python CSV tokenizer (quote-aware state machine) that aggregates revenue
per region and product.

About half of the wall time is waiting for the service and the other half is
GIL-bound parsing, and the items are independent.  Overlapping only the
waits (threads or asyncio) leaves the parsing serial on one core; only
running the parsing in processes leaves the waits serial.  The best shape is
asyncio (or threads) for the downloads plus a ``ProcessPoolExecutor`` for
the parsing, fed via ``loop.run_in_executor``: asyncio+multiprocessing.

Expected model: asyncio+multiprocessing
Dominant category: io_wait, cpu_gil (about half each by design; cProfile tilts it to cpu_gil)
"""

import http.server
import random
import threading
import time
import urllib.request

LATENCY_S = 0.07
N_EXPORTS = 12
ROWS_PER_EXPORT = 4000


def make_export(rows=ROWS_PER_EXPORT, seed=5):
    """Build one CSV export body (bytes) with quoted, comma-containing fields."""
    rng = random.Random(seed)
    regions = ["North", "South", "East", "West", "Central"]
    products = ['"Widget, large"', '"Widget, small"', "Gadget", '"Gizmo ""Pro"""', "Doohickey"]
    out = ["order_id,date,region,product,qty,unit_price,note\n"]
    for i in range(rows):
        out.append(f"{100000 + i},2024-05-{1 + i % 28:02d},{rng.choice(regions)},"
                   f"{rng.choice(products)},{rng.randint(1, 40)},{rng.uniform(1, 500):.2f},"
                   f"\"batch {rng.randrange(1000)}, ok\"\n")
    return "".join(out).encode()


class ExportHandler(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):
        time.sleep(LATENCY_S)  # latency of the remote reporting service
        self.send_response(200)
        self.send_header("Content-Type", "text/csv; charset=utf-8")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format, *args):
        pass


class LoopbackHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # room for many simultaneous clients


def start_server():
    """Start the export service on 127.0.0.1:<ephemeral>; return (server, base_url)."""
    ExportHandler.body = make_export()
    server = LoopbackHTTPServer(("127.0.0.1", 0), ExportHandler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    host, port = server.server_address[:2]
    return server, f"http://{host}:{port}"


def stop_server(server):
    server.shutdown()
    server.server_close()


def export_urls(base_url, n=N_EXPORTS):
    return [f"{base_url}/exports/{i}.csv" for i in range(n)]


def download(url):
    """Fetch one export and return its text."""
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.read().decode("utf-8")


def split_fields(line):
    """Tokenize one CSV line by hand: commas, double quotes, "" escapes."""
    fields = []
    field = []
    in_quotes = False
    i, n = 0, len(line)
    while i < n:
        ch = line[i]
        if in_quotes:
            if ch == '"':
                if i + 1 < n and line[i + 1] == '"':
                    field.append('"')
                    i += 1
                else:
                    in_quotes = False
            else:
                field.append(ch)
        elif ch == '"':
            in_quotes = True
        elif ch == ",":
            fields.append("".join(field))
            field = []
        else:
            field.append(ch)
        i += 1
    fields.append("".join(field))
    return fields


def parse_export(text):
    """Parse one export; return {(region, product): revenue} and the row count."""
    revenue = {}
    lines = text.splitlines()
    header = split_fields(lines[0])
    col = {name: k for k, name in enumerate(header)}
    for line in lines[1:]:
        f = split_fields(line)
        key = (f[col["region"]], f[col["product"]])
        revenue[key] = revenue.get(key, 0.0) + int(f[col["qty"]]) * float(f[col["unit_price"]])
    return revenue, len(lines) - 1


def main():
    server, base_url = start_server()
    try:
        start = time.perf_counter()
        rows = 0
        total = 0.0
        for url in export_urls(base_url):
            text = download(url)
            revenue, n = parse_export(text)
            rows += n
            total += sum(revenue.values())
        elapsed = time.perf_counter() - start
    finally:
        stop_server(server)
    print(f"download_and_parse: {N_EXPORTS} exports, {rows} rows, revenue {total:,.2f}, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
