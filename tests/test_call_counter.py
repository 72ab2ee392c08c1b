"""The runner's call counter (``collect/call_counter.py``): exact counts of the user's own
functions and loops, the same behaviour as without it, and counters that cost the target
too much switch themselves off and report lower bounds.

Each program runs in a child interpreter (every supported Python found here) with the
counter installed as the runner installs it, and once without it to compare output.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import ROOT
from tables import USER, Graph, measurement, native, py

from concadvisor.collect.counts import merge_counts

COUNTER = ROOT / "src" / "concadvisor" / "collect" / "call_counter.py"
PYENV = Path("/root/.pyenv/versions")
SUPPORTED = ("3.9.18", "3.10.13", "3.11.7", "3.12.1", "3.13.0")

DRIVER = f'''
import importlib.util, json, os, runpy, sys
spec = importlib.util.spec_from_file_location("call_counter", {str(COUNTER)!r})
counter = importlib.util.module_from_spec(spec)
spec.loader.exec_module(counter)
target = os.path.abspath(sys.argv[1])
here = os.path.dirname(target)
counter.install(lambda f: isinstance(f, str) and f.startswith(here + os.sep) and f.endswith(".py"), runpy)
counter.start()
sys.argv = sys.argv[1:]
sys.path[0] = here
try:
    runpy.run_path(target, run_name="__main__")
finally:
    sys.stdout.flush()
    sys.stderr.write("COUNTS " + json.dumps(counter.counts()) + "\\n")
'''


def pythons():
    found = [pytest.param(sys.executable, id="own")]
    for version in SUPPORTED:
        path = PYENV / version / "bin" / "python"
        if path.exists() and not version.startswith("%d.%d." % sys.version_info[:2]):
            found.append(pytest.param(str(path), id=version))
    return found


def run(tmp_path, python, files: dict, counted=True):
    """Run main.py (and its modules) with or without the counter: (stdout, stderr, counts)
    where counts maps (kind, file name, line) to (count, lower bound)."""
    for name, text in files.items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    (tmp_path / "driver.py").write_text(DRIVER)
    argv = [python, str(tmp_path / "driver.py")] if counted else [python]
    done = subprocess.run([*argv, str(tmp_path / "main.py")], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    counts, errors, longest = {}, [], {}
    if counted:
        run.longest = longest  # (file name, first line) -> seconds, of the timed functions
    for line in done.stderr.splitlines():
        if line.startswith("COUNTS "):
            for kind, file, first, _, n, lower, *timed in json.loads(line[7:]):
                counts[(kind, Path(file).name, first)] = (n, bool(lower))
                if timed:
                    longest[Path(file).name, first] = timed[0]
        else:
            errors.append(line)
    return done.stdout, "\n".join(errors), counts


def same_as_plain(tmp_path, python, files):
    """Counts of the counted run, after checking it printed what the plain run printed."""
    out, err, counts = run(tmp_path, python, files)
    plain_out, plain_err, _ = run(tmp_path, python, files, counted=False)
    assert out == plain_out
    assert _without_driver(err) == plain_err
    return counts


def _without_driver(stderr: str) -> str:
    """A traceback as the plain run shows it: without the frames of the driver and runpy."""
    kept, skipping = [], False
    for line in stderr.splitlines():
        if line.startswith("  File "):
            skipping = "driver.py" in line or "runpy" in line
        elif not line.startswith("    "):
            skipping = False
        if not skipping:
            kept.append(line)
    return "\n".join(kept)


LOOPS = '''
def f(x):
    return x

def gen(n):
    for i in range(n):
        yield i

def sized():
    t = 0
    for x in [1, 2, 3]:
        t += f(x)
    for x in (1, 2):
        t += f(x)
    for k, v in {"a": 1, "b": 2}.items():
        t += f(v)
    for c in "abcd":
        t += f(1)
    for i, x in enumerate([5, 6, 7]):
        t += f(i)
    for x, y in zip([1, 2, 3], "ab"):
        t += f(x)
    return t

def unsized():
    t = 0
    for x in gen(6):
        t += f(x)
    for x in filter(None, [0, 1, 2, 0, 3]):
        t += f(x)
    return t

def early(xs):
    for x in xs:
        if f(x) == 3:
            break
    else:
        return "ran out"
    return "broke"

def leaves(xs):
    for x in xs:
        if f(x) == 2:
            return x

def grows(xs):
    for x in xs:
        if len(xs) < 6:
            xs.append(f(x))
    return xs

def skips(lines):
    it = iter(lines)
    out = []
    for line in it:
        out.append(f(line))
        next(it, None)
    return out

def inner_break():
    n = 0
    for row in [[1, 2, 3], [4, 5, 6]]:
        for x in row:
            if f(x) == 5:
                break
        n += 1
    return n

def fails():
    for x in None:
        f(x)

print(sized(), unsized(), early(range(10)), early([1, 2]), leaves([1, 2, 3]), grows([1, 2]),
      skips(["a", "b", "c", "d", "e"]), inner_break())
fails()
'''


def line_of(source: str, text: str) -> int:
    return next(i for i, line in enumerate(source.splitlines(), 1) if text in line)


@pytest.mark.parametrize("python", pythons())
def test_for_loops_count_their_rounds_and_do_what_they_did(tmp_path, python):
    counts = same_as_plain(tmp_path, python, {"main.py": LOOPS})

    def rounds(text):
        return counts[("loop", "main.py", line_of(LOOPS, text) + 1)][0]

    assert rounds("for x in [1, 2, 3]:") == 3
    assert rounds("for x in (1, 2):") == 2
    assert rounds('for k, v in {"a": 1') == 2
    assert rounds('for c in "abcd":') == 4
    assert rounds("for i, x in enumerate([5, 6, 7]):") == 3
    assert rounds('for x, y in zip([1, 2, 3], "ab"):') == 2
    assert rounds("for x in gen(6):") == 6
    assert rounds("for x in filter(None") == 3

    def body(text):
        return counts[("loop", "main.py", line_of(LOOPS, text))][0]

    assert body("if f(x) == 3:") == 4 + 2  # range(10) broke at 3, [1, 2] ran out
    assert body("if f(x) == 2:") == 2      # left by return
    assert body("if len(xs) < 6:") == 6    # the list grew from 2 to 6
    assert body("out.append(f(line))") == 3  # the body took every other line itself
    assert body("for x in row:") == 2
    assert body("if f(x) == 5:") == 3 + 2  # the inner loop's break is its own
    assert counts[("def", "main.py", line_of(LOOPS, "def sized"))] == (1, False)
    assert not any(lower for _, lower in counts.values())


def test_a_loop_left_by_return_counts_the_rounds_it_made(tmp_path):
    source = '''
def f(x):
    return x

def leaves(xs):
    for x in xs:
        if f(x) == 2:
            return x

print(leaves([1, 2, 3, 4]), leaves((5, 6)))
'''
    counts = same_as_plain(tmp_path, sys.executable, {"main.py": source})
    assert counts[("loop", "main.py", line_of(source, "if f(x) == 2:"))][0] == 2 + 2


WHILES = '''
import asyncio

def f(x):
    return x

async def numbers(n):
    for i in range(n):
        yield i

async def main():
    t = 0
    async for x in numbers(4):
        t += f(x)
    return t

def countdown(n):
    while n > 0:
        n -= f(1)
    else:
        return "done"

print(asyncio.run(main()), countdown(5))
'''


@pytest.mark.parametrize("python", pythons())
def test_while_and_async_for_loops_count_their_rounds(tmp_path, python):
    counts = same_as_plain(tmp_path, python, {"main.py": WHILES})
    assert counts[("loop", "main.py", line_of(WHILES, "t += f(x)"))] == (4, False)
    assert counts[("loop", "main.py", line_of(WHILES, "n -= f(1)"))] == (5, False)
    assert counts[("def", "main.py", line_of(WHILES, "def f(x)"))] == (9, False)


HOT = '''
import functools
from shapes import Square, make_scaler, traced

def tree(depth):
    return 1 if depth == 0 else tree(depth - 1) + tree(depth - 1)

@traced
def step(x):
    return x + 1

def warm(x):
    return x

def run():
    total = sum(tree(10) for _ in range(40))
    square = Square(3)
    for i in range(60000):
        total += square.area() + Square.unit() + square.side + step(i)
        total += make_scaler(2)(i)
    for i in range(30):
        total += warm(i)
    return total

print(run())
print(sorted(tree.__code__.co_names), sorted(Square.area.__code__.co_names),
      sorted(make_scaler(2).__code__.co_names), sorted(step.__wrapped__.__code__.co_names))
'''
SHAPES = '''
import functools

class Square:
    def __init__(self, side):
        self._side = side

    def area(self):
        return self._side * self._side

    @staticmethod
    def unit():
        return 1

    @property
    def side(self):
        return self._side

def make_scaler(k):
    def scale(x):
        return k * x
    return scale

def traced(fn):
    @functools.wraps(fn)
    def wrapper(*args):
        return fn(*args)
    return wrapper
'''


@pytest.mark.parametrize("python", pythons())
def test_hot_functions_stop_counting_and_say_their_count_is_a_lower_bound(tmp_path, python):
    files = {"main.py": HOT, "shapes.py": SHAPES}
    out, err, counts = run(tmp_path, python, files)
    plain_out, plain_err, _ = run(tmp_path, python, files, counted=False)
    assert _without_driver(err) == plain_err
    assert out.splitlines()[0] == plain_out.splitlines()[0]  # the same result
    # the hot functions now run code without counters: only the names they use themselves
    assert out.splitlines()[1] == "['tree'] ['_side'] [] []"
    hot = {("main.py", "def tree"): 40 * 2047, ("shapes.py", "def area"): 60000,
           ("shapes.py", "@staticmethod"): 60000, ("shapes.py", "@property"): 60000,
           ("shapes.py", "def scale"): 60000, ("shapes.py", "@functools.wraps"): 60000,
           ("main.py", "@traced"): 60000}
    for (file, text), true in hot.items():
        n, lower = counts[("def", file, line_of(files[file], text))]
        assert lower and 0 < n <= true, (file, text, n)
    # what is not hot stays exact: the loops (their rounds are known at entry), rare calls
    assert counts[("loop", "main.py", line_of(HOT, "total += square.area()"))] == (60000, False)
    assert counts[("def", "main.py", line_of(HOT, "def warm"))] == (30, False)
    assert counts[("def", "main.py", line_of(HOT, "def run"))] == (1, False)


def test_a_compiler_warning_shows_once_and_the_file_keeps_exact_counts(tmp_path):
    source = '''
def odd(x):
    return x % 2 is 1

def run():
    return sum(1 for i in range(50000) if odd(i))

print(run())
'''
    counts = same_as_plain(tmp_path, sys.executable, {"main.py": source})
    assert counts[("def", "main.py", line_of(source, "def odd"))] == (50000, False)


def test_merged_lower_bounds_take_the_larger_count_and_are_named():
    hot, rare = py("hot", 5), py("rare", 9)
    graph = (Graph().own(py("main", 1), 0.1)
             .call(py("main", 1), hot, 40, 1.0)
             .call(hot, native("math.sqrt"), 30, 0.2)
             .call(py("main", 1), rare, 50, 0.5))
    m = measurement(graph)
    m.edges["line"] = [3, 6, 4]
    counts = [["def", USER, 1, "main", 1, 0], ["def", USER, 5, "hot", 20485, 1],
              ["def", USER, 9, "rare", 12, 1]]
    assert merge_counts(m, counts)
    calls = dict(zip(m.functions["function"], m.functions["calls"]))
    assert calls["hot"] == 20485      # counted until switched off: more than the samples saw
    assert calls["rare"] == 50        # the samples saw more than was counted
    assert calls["math.sqrt"] == 20485  # ran as often as its line in hot, at least
    assert calls["main"] == 1
    assert m.extra["calls_at_least"] == ["hot", "math.sqrt", "rare"]


def test_old_runners_counts_without_the_lower_bound_flag_still_merge():
    graph = Graph().own(py("main", 1), 0.1).call(py("main", 1), py("work", 5), 3, 1.0)
    m = measurement(graph)
    assert merge_counts(m, [["def", USER, 1, "main", 1], ["def", USER, 5, "work", 25]])
    assert dict(zip(m.functions["function"], m.functions["calls"]))["work"] == 25
    assert "calls_at_least" not in m.extra


TIMED = '''
import asyncio, time

def job(seconds):
    """One job: a pause."""
    time.sleep(seconds)
    return seconds

def only_doc():
    """Nothing else."""

def fails(n):
    time.sleep(0.15 if n == 2 else 0.001)
    if n == 2:
        raise ValueError("job %d failed" % n)
    return n

def numbers(n):
    for i in range(n):
        yield job(0.01)

def names(a):
    b = a
    return sorted(locals())

async def waits(seconds):
    await asyncio.sleep(seconds)
    return seconds

async def main():
    return await asyncio.gather(waits(0.02), waits(0.12), waits(0.02))

def hot(x, pause=0.0):
    if pause:
        time.sleep(pause)
    return x

print([job(s) for s in (0.01, 0.2, 0.01, 0.01)], only_doc(), list(numbers(3)), names(1))
for n in range(4):
    try:
        fails(n)
    except ValueError as e:
        print(e)
print(asyncio.run(main()), sum(hot(i) for i in range(100000)), hot(1, 0.1))
fails(2)
'''


@pytest.mark.parametrize("python", pythons())
def test_the_longest_call_of_each_function_is_timed(tmp_path, python):
    counts = same_as_plain(tmp_path, python, {"main.py": TIMED})  # the traceback too
    longest = run.longest

    def seconds(text):
        return longest.get(("main.py", line_of(TIMED, text)))

    assert 0.2 <= seconds("def job") < 0.3      # the 0.2 s call, not the 0.01 s ones
    assert 0.15 <= seconds("def fails") < 0.25  # a call that raised ends when it raises
    assert 0.12 <= seconds("async def waits") < 0.2  # a coroutine from its start to its return
    assert 0.12 <= seconds("async def main") < 0.3
    assert seconds("def numbers") is None  # a generator's calls only make it
    assert seconds("def names") is None    # it reads its locals: no start time among them
    assert counts[("def", "main.py", line_of(TIMED, "def only_doc"))] == (1, False)
    # a hot function stops timing with its counting: the slow call after it is not seen
    n, lower = counts[("def", "main.py", line_of(TIMED, "def hot"))]
    assert lower and n < 100001
    assert seconds("def hot") < 0.1


def test_merged_longest_calls_fill_the_functions_table():
    graph = (Graph().own(py("main", 1), 0.1).call(py("main", 1), py("work", 5), 3, 1.0)
             .call(py("main", 1), py("old", 9), 2, 0.1))
    m = measurement(graph)
    counts = [["def", USER, 1, "main", 1, 0, 1.5], ["def", USER, 5, "work", 12, 0, 0.25],
              ["def", USER, 9, "old", 2, 0]]
    assert merge_counts(m, counts)
    longest = dict(zip(m.functions["function"], m.functions["longest_call_seconds"]))
    assert longest == {"main": 1.5, "work": 0.25, "old": 0.0}


COMPREHENSIONS = '''
import zlib
chunks = [bytes([i]) * 1000 for i in range(7)]
packed = [zlib.compress(c, 9) for c in chunks]
sizes = {i: len(zlib.compress(c)) for i, c in enumerate(chunks) if i % 2}
total = sum(len(zlib.compress(c)) for c in chunks[:5])
first = next(len(zlib.compress(c)) for c in chunks)
crcs = list(map(zlib.crc32, chunks))
nested = [zlib.crc32(c + d) for c in chunks[:3] for d in chunks[:2]]
plain = [c[:1] for c in chunks]
print(len(packed), len(sizes), total > 0, first > 0, len(crcs), len(nested), len(plain))
'''


@pytest.mark.parametrize("python", pythons())
def test_comprehensions_and_map_count_their_rounds(tmp_path, python):
    """A native call repeated in a comprehension, a generator expression or ``map`` got
    no repeats under the sampler (25 back-to-back compressions read as one): their rounds
    are counted like a loop's, on their own lines."""
    counts = same_as_plain(tmp_path, python, {"main.py": COMPREHENSIONS})

    def rounds(text):
        return counts[("loop", "main.py", line_of(COMPREHENSIONS, text))][0]

    assert rounds("packed = [zlib.compress") == 7
    assert rounds("sizes = {i:") == 7          # the filter's calls count too: every round
    assert rounds("total = sum(") == 5
    assert rounds("first = next(") == 1        # its consumer stopped after one item
    assert rounds("crcs = list(map(") == 7
    assert rounds("nested = [") == 6           # the innermost clause: 3 x 2
    assert ("loop", "main.py", line_of(COMPREHENSIONS, "plain = [")) not in counts  # no call in it


def test_a_map_of_a_function_of_the_files_own_named_map_is_left_alone(tmp_path):
    source = '''
def map(f, items):
    return [f(len(items))]
print(map(str, "abc"))
'''
    counts = same_as_plain(tmp_path, sys.executable, {"main.py": source})
    assert not [key for key in counts if key[0] == "loop"]
