"""Fingerprint eight in-memory backup volumes with SHA-256 before upload.

A backup uploader reads 8 volumes (32 MB each, pseudo-random data) one at a
time into a reused buffer and, for each one, ``fingerprint(volume)`` computes the
checksums the upload protocol needs: the SHA-256 of the whole volume, a
Glacier-style SHA-256 tree hash over 1 MB leaves, a deduplication index of
SHA-256 digests of its 64 KB blocks, and rsync-style delta-sync signatures
(truncated SHA-256 of every 16 KB block).

Nearly all the time is spent inside OpenSSL's SHA-256, and ``hashlib``
releases the GIL while hashing any buffer larger than 2 KB.  The process is
busy on the CPU, but that CPU work does not need the GIL, so plain threads
(``ThreadPoolExecutor`` over ``fingerprint``) run it on all cores without
the pickling/copying cost that shipping 32 MB volumes to worker processes
would add.

Expected model: threads
Dominant category: cpu_nogil
"""

import hashlib
import random
import time

N_VOLUMES = 8
VOLUME_MB = 32
MB = 1 << 20
LEAF = 1 * MB
BLOCK = 64 * 1024
SIG_BLOCK = 16 * 1024


def random_pool():
    """The source every volume is read from: a little over 1 MB of seeded random bytes."""
    return memoryview(random.Random(2024).randbytes(MB + 256 * 1024))


def load_volume(v, buffer, pool):
    """Read volume v into the reused buffer: each of its MBs is a different window of the pool.

    The buffer is reused so its pages are touched once: on a fresh VM first-touching
    memory costs about 1-3 ms per MB, which would rival the hashing it feeds.
    """
    size_mb = len(buffer) // MB
    for j in range(size_mb):
        off = ((v * size_mb + j) * 4093) % (256 * 1024)
        buffer[j * MB:(j + 1) * MB] = pool[off:off + MB]
    return buffer


def tree_hash(view):
    """SHA-256 tree hash: hash 1 MB leaves, then pairwise-combine up to a root."""
    level = [hashlib.sha256(view[i:i + LEAF]).digest() for i in range(0, len(view), LEAF)]
    while len(level) > 1:
        level = [hashlib.sha256(b"".join(level[i:i + 2])).digest()
                 for i in range(0, len(level), 2)]
    return level[0]


def fingerprint(volume):
    """Return (flat sha256, tree hash, unique 64 KB blocks, signature digest) for one volume."""
    view = memoryview(volume)
    flat = hashlib.sha256(view).hexdigest()
    tree = tree_hash(view).hex()
    blocks = {hashlib.sha256(view[i:i + BLOCK]).digest() for i in range(0, len(view), BLOCK)}
    signatures = b"".join(hashlib.sha256(view[i:i + SIG_BLOCK]).digest()[:8]
                          for i in range(0, len(view), SIG_BLOCK))
    return flat, tree, len(blocks), hashlib.sha256(signatures).hexdigest()


def main():
    pool = random_pool()
    buffer = bytearray(VOLUME_MB * MB)
    start = time.perf_counter()
    combined = hashlib.sha256()
    unique = 0
    for v in range(N_VOLUMES):
        flat, tree, n_unique, sigs = fingerprint(load_volume(v, buffer, pool))
        combined.update(bytes.fromhex(flat + tree + sigs))
        unique += n_unique
    elapsed = time.perf_counter() - start
    print(f"hash_buffers: {N_VOLUMES} x {VOLUME_MB} MB volumes, {unique} unique 64KB blocks, "
          f"digest {combined.hexdigest()[:16]}, hashing {elapsed:.2f}s")


if __name__ == "__main__":
    main()
