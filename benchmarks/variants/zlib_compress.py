"""Hand-written threads variant of sample_apps/zlib_compress.py.

Same segments, same ``compress_segment(segment)``; the segments are
compressed by a ThreadPoolExecutor with one worker per core (zlib releases
the GIL while it deflates).
"""

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sample_apps"))

from zlib_compress import compress_segment, make_segments  # noqa: E402


def main():
    segments = make_segments()
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        results = list(pool.map(compress_segment, segments))
    raw = sum(len(s) for s in segments)
    packed = sum(size for size, _ in results)
    elapsed = time.perf_counter() - start
    print(f"zlib_compress[threads]: {len(segments)} segments, {raw / 1e6:.1f} MB -> {packed / 1e6:.1f} MB "
          f"(ratio {packed / raw:.3f}), {elapsed:.2f}s")


if __name__ == "__main__":
    main()
