"""Hand-written threads variant of sample_apps/subprocess_chain.py.

Same files, same 12 commands, same ``run_job(job)``; the commands run from
a ThreadPoolExecutor with one worker per command.
"""

import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sample_apps"))

from subprocess_chain import build_jobs, prepare_files, run_job  # noqa: E402


def main():
    workdir = tempfile.mkdtemp(prefix="concadvisor-chain-")
    try:
        paths = prepare_files(workdir)
        jobs = build_jobs(paths, workdir)
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            produced = sum(pool.map(run_job, jobs))
        elapsed = time.perf_counter() - start
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"subprocess_chain[threads]: {len(jobs)} commands, {produced} bytes of output, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
