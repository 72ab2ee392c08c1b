"""Hand-written asyncio+multiprocessing variant of sample_apps/download_and_parse.py.

Same server and same ``parse_export(text)``.  The 12 downloads are issued
concurrently from one asyncio event loop (a minimal HTTP/1.0 GET over
``asyncio.open_connection``), and each body is handed to a
ProcessPoolExecutor (one worker per core) with ``loop.run_in_executor`` as
soon as it arrives, so waiting and parsing overlap and the parsing uses all
cores.
"""

import asyncio
import os
import sys
import time
import urllib.parse
from concurrent.futures import ProcessPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sample_apps"))

from download_and_parse import N_EXPORTS, export_urls, parse_export, start_server, stop_server  # noqa: E402


async def fetch(url):
    """GET url with HTTP/1.0 over asyncio streams; return the body as text."""
    parts = urllib.parse.urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(f"GET {parts.path} HTTP/1.0\r\nHost: {parts.netloc}\r\n\r\n".encode())
        await writer.drain()
        raw = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = raw.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0]
    if b" 200 " not in status:
        raise RuntimeError(f"{url}: {status!r}")
    return body.decode("utf-8")


async def handle(url, pool):
    text = await fetch(url)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(pool, parse_export, text)


async def run_all(urls, pool):
    return await asyncio.gather(*(handle(url, pool) for url in urls))


def main():
    server, base_url = start_server()
    try:
        start = time.perf_counter()
        with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
            results = asyncio.run(run_all(export_urls(base_url), pool))
        rows = sum(n for _, n in results)
        total = sum(sum(revenue.values()) for revenue, _ in results)
        elapsed = time.perf_counter() - start
    finally:
        stop_server(server)
    print(f"download_and_parse[asyncio+multiprocessing]: {N_EXPORTS} exports, {rows} rows, "
          f"revenue {total:,.2f}, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
