"""`python -m benchmarks.block [APP ...] [--repeats N]`: the CLI and ``with advise():``
around the same program's ``main()`` should agree.

For each sample app, interleaved: ``concadvisor profile sample_apps/APP.py`` (the whole
script in a process of its own) and a script that imports the app and runs
``with concadvisor.advise(json=...): APP.main()`` (the block, in its own process). The
table shows each run's split (io_wait / cpu_gil / cpu_nogil) and model, and the largest
difference of a category between the two medians; the target is 0.07 and the same model.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

from .common import PYTHON, ROOT, median, profile, table

APPS = ("hash_buffers", "json_docs", "http_downloads")
CATEGORIES = ("io_wait", "cpu_gil", "cpu_nogil")
TARGET = 0.07

BLOCK = """\
import sys
sys.path.insert(0, {samples!r})
import concadvisor
import {app} as app
sys.argv = [app.__file__]
with concadvisor.advise(json={out!r}):
    app.main()
"""


def in_block(app: str) -> dict | None:
    """The JSON of ``with advise(): APP.main()`` run by a script of its own."""
    with tempfile.TemporaryDirectory() as scratch:
        out = os.path.join(scratch, "block.json")
        script = os.path.join(scratch, f"{app}_block.py")
        with open(script, "w") as handle:
            handle.write(BLOCK.format(samples=str(ROOT / "sample_apps"), app=app, out=out))
        subprocess.run([PYTHON, script], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            with open(out) as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return None


def run(apps=APPS, repeats: int = 3) -> tuple[str, float]:
    rows, worst = [], 0.0
    for app in apps:
        found = {"CLI": [], "advise()": []}
        for _ in range(repeats):
            cli, _ = profile(f"sample_apps/{app}.py", [], "auto")
            found["CLI"].append(cli)
            found["advise()"].append(in_block(app))
        medians = {}
        for way, results in found.items():
            results = [r for r in results if r]
            medians[way] = {c: median([r["categories"][c] for r in results]) for c in CATEGORIES}
            models = [r["recommendation"]["model"] for r in results]
            runs = "; ".join(" / ".join(f"{r['categories'][c]:.2f}" for c in CATEGORIES) for r in results)
            rows.append([app, way, " / ".join(f"{medians[way][c]:.2f}" for c in CATEGORIES), runs,
                         ", ".join(models)])
        gap = max(abs(medians["CLI"][c] - medians["advise()"][c]) for c in CATEGORIES)
        rows[-1].append(f"{gap:.2f}")
        rows[-2].append("")
        worst = max(worst, gap)
    headers = ["app", "measured by", "median io / gil / nogil", "each run", "models", "largest gap"]
    return table(headers, rows), worst


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.block")
    parser.add_argument("apps", nargs="*", default=list(APPS))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    text, worst = run(args.apps, args.repeats)
    print(text)
    print(f"\nlargest gap: {worst:.3f} (target <= {TARGET})")
    return 0 if worst <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
