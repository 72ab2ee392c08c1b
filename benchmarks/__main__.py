"""`make bench` / `python -m benchmarks [calibration|overhead|speedup|verdicts|corpus|stability|all] [--quick]`.

Prints the tables the README's "How accurate is it" section shows, each with its targets.
`python -m benchmarks libraries [--backends auto,cprofile,yappi] [--repeats 3] [--python PATH]
[--only a,b]` runs the real-library programs with the interpreter of `make libvenv` (not
part of `all`: it needs that virtualenv and takes ~15 minutes).
"""
from __future__ import annotations

import argparse
import sys

from . import calibration, overhead, speedup, verdicts
from .common import median

BACKENDS = ("auto", "cprofile", "yappi", "pyspy")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("which", nargs="?", default="all", choices=("calibration", "overhead", "speedup", "verdicts", "corpus", "stability", "libraries",
                                 "all"))
    parser.add_argument("--quick", action="store_true", help="one small case each (the tests' smoke mode)")
    parser.add_argument("--backends", default=None, help=f"default {','.join(BACKENDS)} "
                        "(libraries: auto,cprofile,yappi)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--count", type=int, default=200, help="corpus: how many generated programs")
    parser.add_argument("--stability-count", type=int, default=60, help="stability: how many corpus programs")
    parser.add_argument("--seed", type=int, default=1, help="corpus: the generator's seed")
    parser.add_argument("--keep", help="corpus: generate into this folder and keep it")
    parser.add_argument("--busy", type=int, default=0, metavar="N",
                        help="calibration: also profile beside N CPU-bound neighbour processes")
    parser.add_argument("--python", help="libraries: the programs' interpreter (default .venv-libs/bin/python)")
    parser.add_argument("--only", help="libraries: only these programs (comma-separated names)")
    parser.add_argument("--lock", help="libraries: hold this flock(1) lock file during each timed run "
                        "(default $BENCH_TIMING_LOCK, else none)")
    from .corpus.run import add_library_options, library_python_arg
    add_library_options(parser)  # corpus: the library kinds
    args = parser.parse_args(argv)
    if args.which == "libraries":
        return _libraries(args)
    backends = [b for b in (args.backends or ",".join(BACKENDS)).split(",") if b]
    if args.which in ("calibration", "all"):
        text, worst = calibration.run(backends, quick=args.quick, repeats=args.repeats, busy=args.busy)
        print(f"## calibration: true share / measured share (error), medians of {args.repeats} runs each, target |error| <= 0.07\n")
        print(text)
        print(f"\nworst error: {worst:.3f}\n", flush=True)
    if args.which in ("overhead", "all"):
        text, _ = overhead.run(backends, repeats=args.repeats, quick=args.quick)
        print("## overhead: wall time / plain run; targets for concadvisor (auto): whole command <= 1.5x "
              "on call-heavy code, the target's own time <= 1.05x\n")
        print(text, "\n", flush=True)
    if args.which in ("speedup", "all"):
        text, factors = speedup.run(repeats=args.repeats, quick=args.quick)
        print("## speedup: measured (hand-written variant) vs estimated, target error factor <= 2, median <= 1.3\n")
        print(text)
        if factors:
            print(f"\nworst error factor {max(factors):.2f}, median {median(factors):.2f}\n", flush=True)
    if args.which in ("corpus", "all"):
        from .corpus import run as corpus
        text, _ = corpus.run(backends, count=6 if args.quick else args.count, seed=args.seed, keep=args.keep,
                             progress=lambda line: print(line, file=sys.stderr, flush=True),
                             library_python=library_python_arg(args.library_python),
                             library_count=args.library_count, library_only=args.library_only)
        print(text, "\n", flush=True)
    if args.which in ("stability", "all"):
        from . import stability
        text, _ = stability.run(backends[0] if backends else "auto", count=3 if args.quick else args.stability_count,
                                seed=args.seed, runs=args.repeats,
                                progress=lambda line: print(line, file=sys.stderr, flush=True))
        print(text, "\n", flush=True)
    if args.which == "verdicts":
        text, right, total = verdicts.run(backends, quick=args.quick)
        print("## verdicts: each sample app under each backend\n")
        print(text)
        print(f"\n{right} of {total} runs got the expected model\n", flush=True)
    return 0


def _libraries(args) -> int:
    from . import libraries

    backends = [b for b in (args.backends or ",".join(libraries.BACKENDS)).split(",") if b]
    only = [n for n in (args.only or "").split(",") if n]
    lock = libraries.DEFAULT_LOCK if args.lock is None else args.lock
    for line in libraries.strays():
        print(f"libraries: warning: already running (timings may be disturbed): {line[:160]}", file=sys.stderr)
    text, rows = libraries.run(backends, repeats=args.repeats, python=args.python, only=only, lock=lock,
                               progress=lambda line: print(line, file=sys.stderr, flush=True))
    if not rows:  # skipped: the one line says why
        print(text, flush=True)
        return 0
    print(f"## libraries: real-library programs, concadvisor against hand-written variants\n\n{text}\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
