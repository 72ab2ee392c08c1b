"""Run a nightly housekeeping chain of external commands, one after another.

The script prepares a few work files in a temporary directory (a log file, a
word list, a JSON manifest) and then runs 12 independent external commands
with ``subprocess.run`` (two rounds of six): gzip a log, sort a word list,
checksum a file, validate the manifest with a child Python, and two
``sleep`` steps that stand for the pauses real deploy/housekeeping scripts
contain (waiting for a restarted service to settle, waiting for connections
to drain); for those the wait is the point.  Each command only needs its own
input file, so none depends on another's output.

The parent process spends nearly all its time blocked in ``wait()`` for the
child processes, and the children themselves are short: the run is dominated
by waiting, not by computing.  A ``ThreadPoolExecutor`` over ``run_job`` is
the minimal change to overlap the independent commands (``subprocess.run``
releases the GIL while it waits).

Expected model: threads
Dominant category: io_wait
"""

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

SETTLE_S = "0.25"
DRAIN_S = "0.25"


def prepare_files(workdir):
    """Write the inputs the commands work on; return a dict name -> path."""
    rng = random.Random(7)
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf",
             "hotel", "india", "juliet", "kilo", "lima", "mike", "november"]
    paths = {}
    paths["log"] = os.path.join(workdir, "app.log")
    with open(paths["log"], "w") as f:
        for i in range(4000):
            f.write(f"2024-05-01T12:{i % 60:02d}:00 INFO request id={i} "
                    f"user={rng.choice(words)} status={rng.choice((200, 200, 404, 500))}\n")
    paths["words"] = os.path.join(workdir, "words.txt")
    with open(paths["words"], "w") as f:
        f.write("\n".join(rng.choice(words) + str(rng.randrange(1000)) for _ in range(5000)))
    paths["manifest"] = os.path.join(workdir, "manifest.json")
    with open(paths["manifest"], "w") as f:
        json.dump({"files": [{"name": f"part-{i}", "size": i * 17} for i in range(300)]}, f)
    return paths


def build_jobs(paths, workdir):
    """Return the 12 independent (name, argv, output_path) jobs."""
    validate = ("import json, sys; d = json.load(open(sys.argv[1])); "
                "print(sum(x['size'] for x in d['files']))")
    jobs = []
    for rnd in range(2):
        out = lambda name: os.path.join(workdir, f"{name}.{rnd}.out")
        jobs += [
            ("gzip-log", ["gzip", "-c", "-6", paths["log"]], out("log.gz")),
            ("sort-words", ["sort", paths["words"]], out("sorted")),
            ("checksum-log", ["sha256sum", paths["log"]], out("sha256")),
            ("validate-manifest", [sys.executable, "-S", "-c", validate, paths["manifest"]], out("valid")),
            ("settle", ["sleep", SETTLE_S], out("settle")),
            ("drain", ["sleep", DRAIN_S], out("drain")),
        ]
    return jobs


def run_job(job):
    """Run one external command, capturing its stdout to a file; return bytes written."""
    name, argv, out_path = job
    with open(out_path, "wb") as out:
        subprocess.run(argv, stdout=out, check=True)
    return os.path.getsize(out_path)


def main():
    workdir = tempfile.mkdtemp(prefix="concadvisor-chain-")
    try:
        paths = prepare_files(workdir)
        jobs = build_jobs(paths, workdir)
        start = time.perf_counter()
        produced = 0
        for job in jobs:
            produced += run_job(job)
        elapsed = time.perf_counter() - start
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"subprocess_chain: {len(jobs)} commands, {produced} bytes of output, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
