"""Compress a day's worth of rotated log segments with zlib.

A log archiver holds 7 rotated log segments in memory (several MB of
realistic, compressible log lines each, assembled cheaply from a pool of
generated lines) and calls ``compress_segment(segment)`` for each one, which
deflates it with ``zlib.compress`` at level 6 and checks the result with a
CRC-32.

Nearly all the time is spent inside zlib's deflate, which releases the GIL
while it works on the buffer.  The process is CPU bound, but the CPU work
does not need the GIL, so a ``ThreadPoolExecutor`` over
``compress_segment`` uses every core without copying megabytes of data to
worker processes.

Expected model: threads
Dominant category: cpu_nogil
"""

import random
import time
import zlib

N_SEGMENTS = 7
SEGMENT_MB = 7
POOL_LINES = 12_000


def make_line_pool(rng, n=POOL_LINES):
    """Generate n realistic-looking access/application log lines."""
    paths = ["/api/orders", "/api/users", "/static/app.js", "/health", "/api/cart",
             "/login", "/api/search", "/img/logo.png"]
    levels = ["INFO", "INFO", "INFO", "WARN", "DEBUG", "ERROR"]
    agents = ["Mozilla/5.0", "curl/8.4", "python-requests/2.31", "Go-http-client/2.0"]
    lines = []
    for i in range(n):
        lines.append(
            f"2024-05-01T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}.{rng.randrange(1000):03d}Z "
            f"{rng.choice(levels)} pid={rng.randrange(900, 999)} "
            f"{rng.randrange(10, 250)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)} "
            f"\"GET {rng.choice(paths)}?id={rng.randrange(100000)} HTTP/1.1\" "
            f"{rng.choice((200, 200, 200, 304, 404, 500))} {rng.randrange(100, 90000)} "
            f"{rng.randrange(1, 900)}ms \"{rng.choice(agents)}\"\n")
    return "".join(lines).encode()


def make_segments(n=N_SEGMENTS, size_mb=SEGMENT_MB):
    """Assemble n log segments of size_mb MB from shuffled windows of the line pool."""
    rng = random.Random(99)
    pool = make_line_pool(rng)
    window = 256 * 1024
    segments = []
    for _ in range(n):
        parts = []
        for _ in range(size_mb * 4):
            start = rng.randrange(len(pool) - window)
            start = pool.index(b"\n", start) + 1
            parts.append(pool[start:start + window])
        segments.append(b"".join(parts))
    return segments


def compress_segment(segment):
    """Deflate one segment; return (compressed size, crc32 of the input)."""
    compressed = zlib.compress(segment, 6)
    return len(compressed), zlib.crc32(segment)


def main():
    segments = make_segments()
    start = time.perf_counter()
    raw = packed = 0
    for segment in segments:
        size, _crc = compress_segment(segment)
        raw += len(segment)
        packed += size
    elapsed = time.perf_counter() - start
    print(f"zlib_compress: {len(segments)} segments, {raw / 1e6:.1f} MB -> {packed / 1e6:.1f} MB "
          f"(ratio {packed / raw:.3f}), {elapsed:.2f}s")


if __name__ == "__main__":
    main()
