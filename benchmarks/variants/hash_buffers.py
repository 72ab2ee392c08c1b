"""Hand-written threads variant of sample_apps/hash_buffers.py.

Same volumes, same ``fingerprint(volume)``; the volumes are loaded and
fingerprinted by a ThreadPoolExecutor with one worker per core, each worker
reusing its own buffer (hashlib releases the GIL, and threads share the source
without copying it to workers).
"""

import hashlib
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sample_apps"))

from hash_buffers import MB, N_VOLUMES, VOLUME_MB, fingerprint, load_volume, random_pool  # noqa: E402

POOL = random_pool()
worker = threading.local()


def fingerprint_volume(v):
    """Load volume v into this worker's buffer and fingerprint it."""
    if not hasattr(worker, "buffer"):
        worker.buffer = bytearray(VOLUME_MB * MB)
    return fingerprint(load_volume(v, worker.buffer, POOL))


def main():
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        results = list(pool.map(fingerprint_volume, range(N_VOLUMES)))
    combined = hashlib.sha256()
    unique = 0
    for flat, tree, n_unique, sigs in results:
        combined.update(bytes.fromhex(flat + tree + sigs))
        unique += n_unique
    elapsed = time.perf_counter() - start
    print(f"hash_buffers[threads]: {N_VOLUMES} x {VOLUME_MB} MB volumes, {unique} unique 64KB blocks, "
          f"digest {combined.hexdigest()[:16]}, hashing {elapsed:.2f}s")


if __name__ == "__main__":
    main()
