"""Walk the page chains of many small page-structured data files on disk.

Each data file is a tiny page-structured store (think of a database heap
file or an overflow chain): 16 pages of 4 KB, each page starting with a
header that names the next page of the chain.  The pages are linked in a
shuffled order, so a reader has to read a page to learn where the next one
is, exactly like following pointers in an on-disk B-tree or linked record
chain.  Readers of such files use ``POSIX_FADV_RANDOM`` (as databases do) so
the kernel does not read ahead pages that will not be needed.

Setup: the program writes 700 such files into a fresh temporary directory,
flushes them to disk (one ``os.sync()``; with every page clean, the
eviction below is guaranteed to drop them) and evicts every file from the
page cache with ``os.posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)``, so the
timed phase really has to fetch each page from the block device instead of
copying it from RAM.

Timed phase: ``main()`` loops over the files and calls ``read_file(path)``
for each one, which follows the chain with ``os.pread`` (16 dependent disk
reads per file) and checks every page header.  The Python work per page is a
struct unpack; the time goes into waiting for the disk.  The files are
independent and ``os.pread`` releases the GIL, so a ``ThreadPoolExecutor``
over ``read_file`` is the minimal change to keep several reads in flight.

The program prints the CPU/wall ratio of the reading phase, measured with
``time.process_time()`` vs ``time.perf_counter()``.  Caveat: on a virtual
machine whose disk is backed by the host's page cache (e.g. a Firecracker
microVM with virtio-blk) each 4 KB read completes in ~0.1-0.2 ms and about
half of that is accounted as system CPU of the reading process, so the ratio
there is ~0.45-0.6 instead of the <0.1 of a physical disk.

Expected model: threads
Dominant category: io_wait, cpu_nogil (disk waits and kernel copies, both without the GIL)
"""

import os
import random
import shutil
import struct
import tempfile
import time

N_FILES = 700
PAGES_PER_FILE = 16
PAGE_SIZE = 4096
PAGE_HEADER = struct.Struct("<4sIIi")  # magic, file id, page number, next page (-1 = end)
MAGIC = b"PAGE"


def write_files(workdir, n=N_FILES, pages=PAGES_PER_FILE):
    """Write n page-chain files, flush them to disk, evict them from the page cache."""
    rng = random.Random(1234)
    filler = os.urandom(PAGE_SIZE - PAGE_HEADER.size)
    paths = []
    for file_id in range(n):
        chain = [0] + rng.sample(range(1, pages), pages - 1)
        next_page = {page: nxt for page, nxt in zip(chain, chain[1:] + [-1])}
        data = b"".join(PAGE_HEADER.pack(MAGIC, file_id, page, next_page[page]) + filler
                        for page in range(pages))
        path = os.path.join(workdir, f"store-{file_id:04d}.dat")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        paths.append(path)
    os.sync()  # write back every dirty page so that DONTNEED can drop them all
    for path in paths:
        evict(path)
    return paths


def evict(path):
    """Drop a clean file from the page cache."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def read_file(path):
    """Follow one file's page chain from disk; return the number of pages read."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
        page, count = 0, 0
        while page != -1:
            data = os.pread(fd, PAGE_SIZE, page * PAGE_SIZE)
            magic, _file_id, number, next_page = PAGE_HEADER.unpack_from(data)
            if magic != MAGIC or number != page:
                raise ValueError(f"corrupt page {page} in {path}")
            page = next_page
            count += 1
        return count
    finally:
        os.close(fd)


def main():
    # /var/tmp is disk-backed even where /tmp is a tmpfs (which would never wait).
    base = "/var/tmp" if os.path.isdir("/var/tmp") else None
    workdir = tempfile.mkdtemp(prefix="concadvisor-reads-", dir=base)
    try:
        paths = write_files(workdir)
        wall0 = time.perf_counter()
        cpu0 = time.process_time()
        pages = 0
        for path in paths:
            pages += read_file(path)
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"file_reads: {len(paths)} files, {pages} pages read from disk, "
          f"read phase {wall:.2f}s, cpu/wall {cpu / wall:.2f}")


if __name__ == "__main__":
    main()
