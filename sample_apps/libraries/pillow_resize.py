"""Make web thumbnails of a batch of large photos with Pillow, one after another.

Each job builds a 2000 x 2000 RGB "photo" from raw bytes (a job-specific
diagonal texture, ``Image.frombytes``), resizes it to 1400 x 1400 with
Lanczos, softens it with a Gaussian blur and encodes it as a JPEG into a
BytesIO, keeping the size and a CRC of the file.  The jobs run in a plain
``for`` loop.

Right model: threads.  Nearly all the time is in Pillow's C code (resampling,
blur, the JPEG encoder), which releases the GIL around each operation
(cpu_nogil), and the jobs are independent; a ThreadPoolExecutor with one
worker per core runs two at once with no copying.  Processes do about as well
but have to start and import Pillow first.

Measured on this 2-core machine (``python -m benchmarks libraries``: wall of
the whole ``python`` command, best of 3): as written 1.69 s; threads (2
workers) 0.98 s = 1.7x; processes (2 workers) 0.93 s = 1.8x.
"""

import io
import time
import zlib

from PIL import Image, ImageFilter

N_JOBS = 10
SIZE = 2000
THUMB = 1400


def make_photo(job):
    """A SIZE x SIZE RGB image from bytes: a texture that differs per job."""
    pattern = bytes((i * 7 + job * 13 + (i // 97) * 5) % 256 for i in range(6007))
    count = SIZE * SIZE * 3
    data = (pattern * (count // len(pattern) + 1))[:count]
    return Image.frombytes("RGB", (SIZE, SIZE), data)


def thumbnail(job):
    """One job: (job, JPEG bytes, crc32 of the JPEG)."""
    photo = make_photo(job)
    small = photo.resize((THUMB, THUMB), Image.Resampling.LANCZOS)
    soft = small.filter(ImageFilter.GaussianBlur(radius=2))
    buffer = io.BytesIO()
    soft.save(buffer, format="JPEG", quality=85)
    jpeg = buffer.getvalue()
    return job, len(jpeg), zlib.crc32(jpeg)


def summarize(results):
    crc = 0
    for r in results:
        crc = zlib.crc32(r[2].to_bytes(4, "little"), crc)
    return f"{len(results)} thumbnails, {sum(r[1] for r in results)} JPEG bytes, crc {crc:08x}"


def main():
    start = time.perf_counter()
    results = [thumbnail(job) for job in range(N_JOBS)]
    elapsed = time.perf_counter() - start
    print(f"pillow_resize: {summarize(results)}, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
