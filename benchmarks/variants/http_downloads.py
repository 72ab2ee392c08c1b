"""Hand-written threads variant of sample_apps/http_downloads.py.

Same server, same 25 downloads, same ``download(url)``; the downloads run in
a ThreadPoolExecutor with one worker per URL, so all the waits overlap.
"""

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sample_apps"))

from http_downloads import N_REPORTS, download, report_urls, start_server, stop_server  # noqa: E402


def main():
    server, base_url = start_server()
    try:
        start = time.perf_counter()
        urls = report_urls(base_url)
        with ThreadPoolExecutor(max_workers=len(urls)) as pool:
            results = list(pool.map(download, urls))
        total = sum(size for size, _ in results)
        crc = 0
        for _, body_crc in results:
            crc ^= body_crc
        elapsed = time.perf_counter() - start
    finally:
        stop_server(server)
    print(f"http_downloads[threads]: {N_REPORTS} reports, {total} bytes, crc {crc:08x}, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
