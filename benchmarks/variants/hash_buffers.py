"""Hand-written threads variant of sample_apps/hash_buffers.py.

Same volumes, same ``fingerprint(volume)``; the volumes are fingerprinted by
a ThreadPoolExecutor with one worker per core (hashlib releases the GIL, and
threads share the volumes without copying them).
"""

import hashlib
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sample_apps"))

from hash_buffers import VOLUME_MB, fingerprint, make_volumes  # noqa: E402


def main():
    volumes = make_volumes()
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        results = list(pool.map(fingerprint, volumes))
    combined = hashlib.sha256()
    unique = 0
    for flat, tree, n_unique, sigs in results:
        combined.update(bytes.fromhex(flat + tree + sigs))
        unique += n_unique
    elapsed = time.perf_counter() - start
    print(f"hash_buffers[threads]: {len(volumes)} x {VOLUME_MB} MB volumes, {unique} unique 64KB blocks, "
          f"digest {combined.hexdigest()[:16]}, hashing {elapsed:.2f}s")


if __name__ == "__main__":
    main()
