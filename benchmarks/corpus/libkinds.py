"""Work kinds that use third-party libraries (numpy, Pillow, lxml, black, requests): their
code, as the generated programs write it, and their calibration.

This module imports only the standard library, so the generator can read the code below
from any interpreter; the library kinds themselves run in an interpreter that has the
libraries (``--library-python``), which runs this file as a script::

    LIBPYTHON benchmarks/corpus/libkinds.py calibrate   # JSON: units per second of each kind
    LIBPYTHON benchmarks/corpus/libkinds.py threads     # JSON: 2 threads' speed-up over 1, per kind
    LIBPYTHON benchmarks/corpus/libkinds.py gil         # JSON: share of a call's time the GIL is held

Each kind is (imports, setup, expression, units calibrated on, fewest units): ``UNITS``
in the setup and the expression stands for the units of one call, ``SIDE`` for the side
of a square image of that many pixels, ``POW2`` for the largest power of 2 within UNITS (an
FFT of a length with a large prime factor is many times slower). A call is never sized above the units it was
calibrated on (sorting, parsing and formatting slow down per unit on larger inputs: a job
that needs more runs more often instead).
"""
from __future__ import annotations

import json
import math
import sys
import threading
import time

CALIBRATION = {
    # numpy: a sort of a float64 array and a real FFT of its power-of-2 prefix (native, GIL
    # released in both)
    "np_sort": (["numpy"], ["ARR = numpy.random.default_rng(7).random(UNITS)"],
                "float(numpy.sort(ARR)[0] + numpy.fft.rfft(ARR[:POW2])[1].real)", 1 << 20, 4096),
    # Pillow: a Lanczos resize to three quarters, then a Gaussian blur, of an RGB image
    "pil_resize": (["PIL.Image", "PIL.ImageFilter", "random"],
                   ['IMG = PIL.Image.frombytes("RGB", (SIDE, SIDE), random.Random(7).randbytes(SIDE * SIDE * 3))'],
                   "IMG.resize((SIDE * 3 // 4, SIDE * 3 // 4), PIL.Image.Resampling.LANCZOS)"
                   ".filter(PIL.ImageFilter.GaussianBlur(3)).size", 1400 * 1400, 64 * 64),
    # Pillow: a Gaussian noise image (its C loop keeps the GIL)
    "pil_noise": (["PIL.Image"], [], "PIL.Image.effect_noise((SIDE, SIDE), 40).size", 1200 * 1200, 64 * 64),
    # lxml: parse an XML document of UNITS items, one XPath count over it
    "lxml_parse": (["lxml.etree"],
                   ["XML = ('<root>' + ''.join('<item id=\"%d\" ok=\"%d\"><name>item%d</name><tags><t>a</t><t>b</t>"
                    "</tags><score>%.1f</score></item>' % (i, i % 3 == 0, i, i * 0.5) for i in range(UNITS))"
                    " + '</root>').encode()"],
                   "lxml.etree.fromstring(XML).xpath(\"count(//item[@ok='1'])\")", 40_000, 50),
    # black: format a source of UNITS badly laid-out functions (mypyc-compiled: keeps the GIL)
    "black_fmt": (["black"],
                  ["SRC = ''.join('def f%d(a,b = %d) :\\n  x=[a ,b,%d]\\n  return {\"k\":x , \"n\" : a+b}\\n\\n' "
                   "% (i, i, i) for i in range(UNITS))"],
                  "len(black.format_str(SRC, mode=black.Mode()))", 120, 2),
}
# requests: a GET to the loopback server the program starts (a wait: sized in seconds)
REQUESTS = (["http.server", "threading", "time", "requests"], "len(requests.get(URL + \"/UNITS\").content)")


def fill(text: str, units: int) -> str:
    side = max(int(math.isqrt(int(units))), 16)
    pow2 = 1 << (max(int(units), 1).bit_length() - 1)
    return text.replace("UNITS", str(int(units))).replace("SIDE", str(side)).replace("POW2", str(pow2))


def _prepare(kind: str, units: int):
    imports, setup, expr, _, _ = CALIBRATION[kind]
    namespace = {}
    for module in imports:
        exec(f"import {module}", namespace)
    for line in setup:
        exec(fill(line, units), namespace)
    code = compile(fill(expr, units), kind, "eval")
    return lambda: eval(code, namespace)


def _best(fn, rounds=3) -> float:  # generate._best's twin: this file runs alone in another interpreter
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return max(best, 1e-6)


def calibrate() -> dict:
    """Units of each library kind per second here (best of 3 on the calibration size)."""
    rates = {}
    for kind, (_, _, _, units, _) in CALIBRATION.items():
        call = _prepare(kind, units)
        call()  # warm: first-call imports and caches
        rates[kind] = units / _best(call)
    return rates


def threads() -> dict:
    """Per kind: 4 calls one after another over 4 calls on 2 threads (2 each), best of 3:
    near 2 on 2 cores when the call releases the GIL, near 1 when it holds it."""
    out = {}
    for kind, (_, _, _, units, _) in CALIBRATION.items():
        call = _prepare(kind, units // 2)
        call()

        def serial():
            for _ in range(4):
                call()

        def paired():
            workers = [threading.Thread(target=lambda: (call(), call())) for _ in range(2)]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
        out[kind] = round(_best(serial) / _best(paired), 2)
    return out


def gil_held() -> dict:
    """Per kind: the share of a call's time the GIL stayed held, seen from a second thread
    that sleeps 0.5 ms in a loop (it needs the GIL to wake up): its gaps over 5 ms inside
    the calls, over the calls' time (best of 3 calls). Unlike ``threads`` it does not need
    a second free core, so it reads the same on a busy machine."""
    out = {}
    for kind, (_, _, _, units, _) in CALIBRATION.items():
        call = _prepare(kind, units // 2)
        call()
        shares = []
        for _ in range(3):
            ticks, stop = [], []

            def probe():
                while not stop:
                    ticks.append(time.perf_counter())
                    time.sleep(0.0005)
            thread = threading.Thread(target=probe)
            thread.start()
            time.sleep(0.01)
            start = time.perf_counter()
            call()
            end = time.perf_counter()
            stop.append(1)
            thread.join()
            inside = [start] + [t for t in ticks if start < t < end] + [end]
            ticks_after = [t for t in ticks if t >= end]
            if ticks_after:
                inside[-1] = min(ticks_after[0], end)
            held = sum(b - a for a, b in zip(inside, inside[1:]) if b - a > 0.005)
            shares.append(held / (end - start))
        out[kind] = round(min(shares), 2)
    return out


if __name__ == "__main__":
    which = {"calibrate": calibrate, "threads": threads, "gil": gil_held}[sys.argv[1] if sys.argv[1:] else "calibrate"]
    print(json.dumps(which()))
