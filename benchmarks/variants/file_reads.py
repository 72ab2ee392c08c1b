"""Hand-written threads variant of sample_apps/file_reads.py.

Same files (written, synced and evicted the same way), same
``read_file(path)``; the page-chain walks run in a ThreadPoolExecutor with
16 workers, so up to 16 disk reads are in flight at once.
"""

import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sample_apps"))

from file_reads import read_file, write_files  # noqa: E402

WORKERS = 16


def main():
    base = "/var/tmp" if os.path.isdir("/var/tmp") else None
    workdir = tempfile.mkdtemp(prefix="concadvisor-reads-", dir=base)
    try:
        paths = write_files(workdir)
        wall0 = time.perf_counter()
        cpu0 = time.process_time()
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            pages = sum(pool.map(read_file, paths))
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"file_reads[threads]: {len(paths)} files, {pages} pages read from disk, "
          f"read phase {wall:.2f}s, cpu/wall {cpu / wall:.2f}")


if __name__ == "__main__":
    main()
