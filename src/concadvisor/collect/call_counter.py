"""Exact call counts of the user's own code, at almost no cost, for a sampled run.

A sampler sees where the time goes but cannot count calls: 25 back-to-back downloads
from one loop look like one long download. How many times a unit of work repeats is
what the advice rests on, so the runner counts it: the user's own files (never the
standard library or installed packages) are compiled with counters in each function and
in each loop that makes a call. Nothing else changes: same lines, same names, same
behaviour. Counters are read when the run is saved.

What a counter costs the program:

* a function counts its calls with ``next()`` of an itertools.repeat at the top of its
  body (no int is made: the count is the items the repeat gave out);
* a ``for`` loop counts nothing per round: at loop entry its iterable goes through the
  loop's counting callable, which adds the length of a tuple, range, dict, str... (or a
  list the body does not touch) when the loop cannot end early, and otherwise hands the
  loop ``itertools.compress(iterable, repeat)``: C code then counts the items;
* a ``while`` or ``async for`` loop counts with ``next()`` per round.

Each function's calls are also timed, for the longest single call (what no schedule can
split): its body becomes ``began = perf_counter()`` and ``try: body finally:
heappushpop(longest[k], perf_counter() - began)`` (same lines, same tracebacks; from
3.13 sys.monitoring's PY_START, PY_RETURN and PY_UNWIND time it instead, nothing in the
code). Not timed: generators (a call only makes the generator), functions that may read
their own locals (``locals()``, ``vars()``, ``dir()``). A coroutine's call runs from its
first step to its return. The timing is part of the counted code and its cost part of the
counter's: it stops when the function's counting does.

Counters that cost too much switch themselves off. Each one's repeat gives out a batch
of items and then, through itertools.chain, calls ``_batch_done``, which weighs what the
batch cost against the time it took: a hot function's objects then get a copy of its
code compiled without counters (found through the user modules' globals, their classes
and ``__wrapped__``), a hot ``for`` loop's counting callable becomes ``iter``. Their
counts are then lower bounds, and say so (see ``counts``). No thread, no timer: the
decision comes after a few thousand calls, in the thread that made them.

Like the runner, this file is run by the target's Python (3.9+) and uses only the
standard library. The runner loads it by path when asked (``count_calls``).
"""
import _thread
import ast
import builtins
import collections
import functools
import heapq
import importlib.abc
import importlib.machinery
import itertools
import operator
import os
import sys
import time
import types

# Seconds each counted event costs the target, roughly (3.11-3.13 on a 2 GHz server core):
# a function call or while round (next() of a repeat), a for loop's entry through its
# counting callable, an item counted by compress (a list's; a generator's costs more),
# a function call seen by sys.monitoring (3.13+, see _monitor_calls).
EVENT_COST, ENTRY_COST, ITEM_COST, START_COST = 50e-9, 150e-9, 15e-9, 200e-9
# What timing a call adds besides two looks at the clock (timed at install: a look costs
# 25 ns on a bare core, 100 ns and more in some VMs): a heappushpop in its code, or (3.13+)
# a PY_RETURN event and a dict entry for the frame.
TIME_COST, RETURN_COST = 100e-9, 300e-9
BATCH = 4096          # events between two looks at a counter's cost
SITE_SHARE = 0.002    # a counter may cost this share of the time its batch took...
SITE_FREE = 0.0005    # ...once it has cost this many seconds in all
TOTAL_SHARE = 0.01    # all counters together this share of the run (after its first second)
COUNTER = "__concadvisor_counts__"  # what each counted event calls next() on, one a site
NOW = "__concadvisor_now__"         # perf_counter(), read when a timed function starts and ends
LONGEST = "__concadvisor_longest__"  # one [seconds] a site: its longest call so far
KEEP_MAX = "__concadvisor_keep_max__"  # heapq.heappushpop: [x] becomes [max(x, seconds)]
BEGAN = "__concadvisor_began__"     # the local that holds when this call started
NEXT = "__concadvisor_next__"       # next()
LOOPS = "__concadvisor_loops__"     # what each counted for loop passes its iterable through
UNTOUCHED = sys.maxsize  # a repeat's items before it gave out any
_NEVER = object()

# One entry per counter ("site"), the index is the counter's number.
_events = []      # chain(repeat(True, batch), iter(batch done, ...)), or a bare repeat when settled
_batch = []       # the repeat giving out the current batch
_batch_size = []  # its items at the start
_batch_began = []  # perf_counter() then
_spent = []       # events counted before the current batch
_cost = []        # seconds the site's counting has cost so far (as far as weighed)
_items = []       # for loops: compress() takes one item per item of the iterable (else None)
_items_seen = []  # for loops: items left in ``_items`` at the last look
_sized = []       # for loops: rounds known at loop entry (a tuple's length, a range's...)
_weights = []     # seconds one event costs the target: a call or round, or a loop entry
_longest = []     # [seconds] of the longest call of a timed function ([-1.0]: not timed)
_loops = []       # for loops: the counting callable, or iter once switched off
_sites = []       # ["def", file, first line, name] or ["loop", file, body line, end line]
_owners = []      # the _Code that holds the counter (None when not known)
_generation = []  # bumped at each new batch: a late call of an old batch's end does nothing
_lower = set()    # counters switched off: their counts are lower bounds
_files = {}       # filename -> _File, every file compiled with counters
_clock = [50e-9]  # seconds a look at perf_counter() costs (timed at install)
_total = [0.0, 0.0]  # seconds all counting has cost, perf_counter() when the target started
_monitoring = []  # 3.13+: [tool id, set_local_events, PY_START, PY_START | PY_RETURN, set_events,
                  # PY_UNWIND (, True once PY_UNWIND is on)] when sys.monitoring counts calls
_started_by_code = {}  # id(code) -> the counter of the function it is the code of (3.13+)
_began = {}       # 3.13+: id(frame) -> perf_counter() when that call of a timed function began
_lock = _thread.RLock()              # compiling
_deciding = _thread.allocate_lock()  # weighing a batch (one thread at a time)

_compress, _repeat, _chain, _next = itertools.compress, itertools.repeat, itertools.chain, next
_partial, _length_hint, _now = functools.partial, operator.length_hint, time.perf_counter
_getframe = sys._getframe
_MODULE_DICT = types.ModuleType.__dict__["__dict__"].__get__
_CLASS_DICT = type.__dict__["__dict__"].__get__
_FUNCTION_DICT = types.FunctionType.__dict__["__dict__"].__get__
_CO_OPTIMIZED = 0x1  # a function's code (not a module's or a class body's)

# What a for loop over these makes as many rounds as their length (items left) at loop
# entry, when it runs to its end: they cannot change while iterated, or raise when they do.
_SIZED = frozenset([tuple, range, str, bytes, frozenset, dict, set, type({}.keys()),
                    type({}.values()), type({}.items()), collections.deque,
                    collections.OrderedDict, collections.defaultdict, collections.Counter])
# These can (a list grows, an iterator is advanced in the body): only when the loop body
# does not name the iterable.
_UNNAMED = _SIZED | frozenset(
    type(it) for it in [[], bytearray(), iter([]), reversed([]), iter(bytearray()), iter(()),
                        reversed(()), iter(range(0)), reversed(range(0)), iter(range(1 << 70)),
                        iter(""), iter("\xe9"), iter(b""), iter({}), iter({}.values()),
                        iter({}.items()), reversed({}), iter(set()), iter(frozenset())])
_WRAPPERS = {enumerate: slice(0, 1), zip: slice(0, None), map: slice(1, None)}  # their iterators


def install(is_user_file, runpy_module):
    """Count calls in every user file compiled from now on (imports and the main script)."""
    prepare()
    sys.meta_path.insert(0, _UserFinder(is_user_file))
    real_compile = compile

    def counting_compile(source, filename, mode, *args, **kwargs):
        if mode == "exec" and not args and not kwargs and is_user_file(filename):
            try:
                return compile_counted(source, filename)
            except Exception:
                pass
        return real_compile(source, filename, mode, *args, **kwargs)

    runpy_module.compile = counting_compile  # runpy compiles the main script with compile()


def prepare():
    """What counted code calls, as builtins, and the clock's cost: once per process (the
    runner's ``install``; ``loaded_counts`` for code already loaded)."""
    if getattr(builtins, COUNTER, None) is _events:
        return
    setattr(builtins, COUNTER, _events)
    setattr(builtins, NEXT, next)
    setattr(builtins, LOOPS, _loops)
    setattr(builtins, NOW, _now)
    setattr(builtins, LONGEST, _longest)
    setattr(builtins, KEEP_MAX, heapq.heappushpop)
    _clock[0] = _clock_cost()
    _total[1] = _now()
    _monitor_calls()
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_locks_in_forked_child)


def _clock_cost():
    """Seconds one perf_counter() costs here (the least of a few rounds of 200 looks)."""
    best = 1.0
    for _ in range(5):
        began = _now()
        for _ in range(200):
            _now()
        best = min(best, (_now() - began) / 201)
    return min(max(best, 10e-9), 2e-6)


def _locks_in_forked_child():
    """A lock another thread held at the fork stays held in the child: new ones."""
    global _lock, _deciding
    _lock, _deciding = _thread.RLock(), _thread.allocate_lock()


def start():
    """The target starts now (the shares of time are of its run)."""
    _total[:] = [0.0, _now()]


def counts():
    """[[kind, file, line, name or end line, count, lower bound], ...] for the counters that
    moved; ``lower bound`` is 1 when counting was switched off during the run. A timed
    function's row has a seventh item: the seconds its longest call took (of the calls
    timed: a hot function's first ones)."""
    out = []
    for k, site in enumerate(_sites):
        n = _count(k)
        if n:
            row = site + [n, 1 if k in _lower else 0]
            longest = _longest[k][0]
            if longest >= 0.0:
                row.append(longest)
            out.append(row)
    return out


def _count(k):
    items = _items[k]
    if items is not None:  # a for loop: its rounds
        return _sized[k] + UNTOUCHED - _length_hint(items)
    return _spent[k] + _batch_size[k] - _length_hint(_batch[k])


def compile_counted(source, filename, optimize=-1, flags=0, tree=None):
    """The module's code with counters (a copy without them is kept, for switching off).
    ``tree``: the source already parsed (and changed: a notebook cell keeps its last
    value); ``flags``: compile flags (a cell's top-level ``await``)."""
    with _lock:
        if tree is None:
            tree = ast.parse(source, filename)
        counting = _Counting(filename)
        counting.builtin_map = not _binds_name(tree, "map")
        counting.visit(tree)
        code = compile(tree, filename, "exec", flags=flags, dont_inherit=True, optimize=optimize)
        plain = None
        if counting.paths and not counting.may_warn:  # a warning must not show twice
            counting.undo()
            try:
                plain = compile(tree, filename, "exec", flags=flags, dont_inherit=True, optimize=optimize)
            except Exception:
                plain = None
        _files[filename] = _File(filename, code, plain, counting.paths)
        for k in counting.started:
            if _owners[k] is not None:
                _owners[k].started = k
                _arm(_owners[k].counted, k)
    return code


class _Counting(ast.NodeTransformer):
    """Puts the counters in; remembers where, so they can be taken out again."""

    def __init__(self, filename):
        self.filename = filename
        self.scope = ()    # (name, first line) of each function or class around the visit
        self.paths = []    # (counter, scope of the code that holds it)
        self.inserted = []  # (statement list, counter statement)
        self.timed = []    # (statement list, where the timing starts, the statements it wrapped)
        self.wrapped = []  # (for loop, its own iterable)
        self.mapped = []  # (map() call, its first iterable)
        self.builtin_map = True  # no name "map" is bound in the file: map() is the builtin
        self.may_warn = False  # the compiler warns about something in this file
        self.started = []  # counters of functions counted through sys.monitoring

    def _counter(self, site, weight, loop=False, timed=False):
        k = len(_sites)
        _sites.append(site)
        _weights.append(weight)
        _longest.append([0.0 if timed else -1.0])
        _spent.append(0)
        _cost.append(0.0)
        _items.append(_repeat(True, UNTOUCHED) if loop else None)
        _items_seen.append(UNTOUCHED)
        _sized.append(0)
        _loops.append(iter)
        _owners.append(None)
        _generation.append(0)
        _batch.append(None)
        _batch_size.append(0)
        _batch_began.append(0.0)
        _events.append(None)
        _new_batch(k, _now())
        self.paths.append((k, self.scope))
        return k

    def _increment(self, site, body, at, timed=False):
        k = self._counter(site, EVENT_COST + (TIME_COST + 2 * _clock[0] if timed else 0.0), timed=timed)
        counter = ast.Subscript(value=ast.Name(id=COUNTER, ctx=ast.Load()),
                                slice=ast.Constant(value=k), ctx=ast.Load())
        node = ast.Expr(value=ast.Call(func=ast.Name(id=NEXT, ctx=ast.Load()), args=[counter],
                                       keywords=[]))
        anchor = body[at] if at < len(body) else body[0]
        body.insert(at, ast.fix_missing_locations(ast.copy_location(node, anchor)))
        self.inserted.append((body, node))
        if timed:
            self._time(k, body, at + 1)

    def _time(self, k, body, at):
        """``body[at:]`` becomes ``began = now()`` and ``try: body[at:] finally: keep_max(
        longest[k], now() - began)``: each statement keeps its line, an exception its
        traceback."""
        rest = body[at:]
        if not rest:  # a docstring only: nothing to time
            _longest[k][0] = -1.0
            return
        anchor = rest[0]

        def name(id, ctx=None):
            return ast.Name(id=id, ctx=ctx or ast.Load())

        def now():
            return ast.Call(func=name(NOW), args=[], keywords=[])

        began = ast.Assign(targets=[name(BEGAN, ast.Store())], value=now())
        seconds = ast.BinOp(left=now(), op=ast.Sub(), right=name(BEGAN))
        longest = ast.Subscript(value=name(LONGEST), slice=ast.Constant(value=k), ctx=ast.Load())
        keep = ast.Expr(value=ast.Call(func=name(KEEP_MAX), args=[longest, seconds], keywords=[]))
        wrapped = ast.Try(body=rest, handlers=[], orelse=[], finalbody=[keep])
        body[at:] = [ast.fix_missing_locations(ast.copy_location(node, anchor))
                     for node in (began, wrapped)]
        ast.fix_missing_locations(ast.copy_location(keep, anchor))
        self.timed.append((body, at, rest))

    def _scoped(self, node, then=None):
        """Visit a function or class with its scope entered (and ``then(first line)``)."""
        first = min([node.lineno] + [d.lineno for d in node.decorator_list])
        outer = self.scope
        self.scope = outer + ((node.name, first),)
        try:
            self.generic_visit(node)
            if then is not None:
                then(first)
        finally:
            self.scope = outer
        return node

    def _function(self, node):
        def count_calls(first):
            site = ["def", self.filename, first, node.name]
            timed = _timeable(node)
            if _monitoring:  # sys.monitoring tells of each call (and return): nothing in the code
                cost = START_COST + (RETURN_COST + 2 * _clock[0] if timed else 0.0)
                self.started.append(self._counter(site, cost, timed=timed))
            else:
                self._increment(site, node.body, 1 if _docstring(node.body) else 0, timed)

        return self._scoped(node, count_calls)

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_ClassDef(self, node):
        return self._scoped(node)

    def _loop_site(self, node):
        end = max(getattr(n, "end_lineno", None) or n.lineno for n in node.body)
        return ["loop", self.filename, node.body[0].lineno, end]

    def visit_For(self, node):
        self.generic_visit(node)
        if not _calls_in(node.body):
            return node
        k = self._counter(self._loop_site(node), ENTRY_COST, loop=True)
        if _may_leave_early(node.body):
            _loops[k] = _loop_counter(k, frozenset(), False)
        elif _names_iterable(node.body, node.iter):
            _loops[k] = _loop_counter(k, _SIZED, False)
        else:
            _loops[k] = _loop_counter(k, _UNNAMED, True)
        self.wrapped.append((node, node.iter))
        node.iter = _through_counter(k, node.iter)
        return node

    def _comprehension(self, node):
        """A comprehension or generator expression that makes calls counts its rounds
        like a ``for`` loop: its innermost ``for`` clause's iterable goes through a loop
        counter (a comprehension cannot stop early; a generator expression's consumer
        can, so it is counted item by item). The site spans the comprehension: a call
        on its lines ran as often as it went round."""
        self.generic_visit(node)
        parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        parts += [test for clause in node.generators for test in clause.ifs]
        if not node.generators or not _calls_in([ast.Expr(value=part) for part in parts]):
            return node
        clause = node.generators[-1]
        if clause.is_async:
            return node
        end = getattr(node, "end_lineno", None) or node.lineno
        k = self._counter(["loop", self.filename, node.lineno, end], ENTRY_COST, loop=True)
        lazy = isinstance(node, ast.GeneratorExp)
        _loops[k] = _loop_counter(k, frozenset() if lazy else _SIZED, False)
        self.wrapped.append((clause, clause.iter))
        clause.iter = _through_counter(k, clause.iter)
        return node

    visit_ListComp = _comprehension
    visit_SetComp = _comprehension
    visit_DictComp = _comprehension
    visit_GeneratorExp = _comprehension

    def _counted_rounds(self, node):
        self.generic_visit(node)
        if _calls_in(node.body):
            self._increment(self._loop_site(node), node.body, 0)
        return node

    visit_AsyncFor = _counted_rounds
    visit_While = _counted_rounds

    def visit_Compare(self, node):
        if any(isinstance(op, (ast.Is, ast.IsNot)) for op in node.ops) and any(
                _is_literal(e) for e in [node.left] + node.comparators):
            self.may_warn = True
        return self.generic_visit(node)

    def visit_Assert(self, node):
        if isinstance(node.test, ast.Tuple):
            self.may_warn = True
        return self.generic_visit(node)

    def visit_Call(self, node):
        if _literal(node.func):
            self.may_warn = True
        self.generic_visit(node)
        if self.builtin_map and isinstance(node.func, ast.Name) and node.func.id == "map" and len(node.args) >= 2 \
                and not node.keywords and not any(isinstance(a, ast.Starred) for a in node.args):
            # map(f, items) calls f once per item, on this line: count its rounds as a
            # loop's (item by item: its consumer may stop early)
            end = getattr(node, "end_lineno", None) or node.lineno
            k = self._counter(["loop", self.filename, node.lineno, end], ENTRY_COST, loop=True)
            _loops[k] = _loop_counter(k, frozenset(), False)
            self.mapped.append((node, node.args[1]))
            node.args[1] = _through_counter(k, node.args[1])
        return node

    def visit_Subscript(self, node):
        if _subscript_may_warn(node):
            self.may_warn = True
        return self.generic_visit(node)

    def undo(self):
        """Take the counters out of the tree again (for the copy without them)."""
        for body, at, rest in reversed(self.timed):
            body[at:] = rest
        for body, statement in self.inserted:
            body.remove(statement)
        for loop, iterable in self.wrapped:
            loop.iter = iterable
        for call, iterable in self.mapped:
            call.args[1] = iterable


def _literal(node):
    """A literal the compiler may warn about where a name was meant ("perhaps you missed a
    comma?"): a constant, a display, a comprehension, an f-string."""
    return isinstance(node, (ast.Constant, ast.Tuple, ast.List, ast.Set, ast.Dict, ast.JoinedStr,
                             ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp))


def _is_literal(node):
    """An operand of ``is`` the compiler warns about (a constant other than None, True,
    False, ..., once folded)."""
    if isinstance(node, ast.UnaryOp):
        node = node.operand
    if isinstance(node, ast.Constant):
        value = node.value
        return not (value is None or value is True or value is False or value is Ellipsis)
    return isinstance(node, ast.Tuple)


def _subscript_may_warn(node):
    """A literal indexed: warned about unless it is a sequence indexed by an int."""
    value, index = node.value, node.slice
    if isinstance(value, ast.Constant) and not isinstance(value.value, (str, bytes, tuple)):
        return True
    if isinstance(value, (ast.Set, ast.SetComp, ast.GeneratorExp, ast.Lambda)):
        return True
    if isinstance(value, (ast.Constant, ast.Tuple, ast.List, ast.ListComp, ast.JoinedStr)):
        if isinstance(index, ast.Constant):
            return not isinstance(index.value, int)
        return _literal(index)
    return False


def _timeable(node):
    """Whether a function's calls are timed: not a generator's (its calls only make the
    generator), not one that may read its own locals (``locals()``, ``vars()``, ``dir()``
    would see the start time)."""
    stack = list(node.body)
    while stack:
        child = stack.pop()
        if isinstance(child, (ast.Yield, ast.YieldFrom)):
            return False
        if isinstance(child, ast.Name) and child.id in ("locals", "vars", "dir"):
            return False
        if isinstance(child, _SCOPES):
            continue
        stack.extend(ast.iter_child_nodes(child))
    return True


def _docstring(body):
    first = body[0] if body else None
    return (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str))


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_LOOPS = (ast.For, ast.AsyncFor, ast.While)
_LEAVING = (ast.Return, ast.Raise, ast.Yield, ast.YieldFrom, ast.Await)  # leave, or may never resume


def _through_counter(k, iterable):
    """``iterable`` as loop ``k``'s counting callable receives it: ``LOOPS[k](iterable)``."""
    loop = ast.Subscript(value=ast.Name(id=LOOPS, ctx=ast.Load()), slice=ast.Constant(value=k), ctx=ast.Load())
    call = ast.Call(func=loop, args=[iterable], keywords=[])
    return ast.fix_missing_locations(ast.copy_location(call, iterable))


def _binds_name(tree, name: str) -> bool:
    """Whether the file binds ``name`` anywhere (assigns, imports, defines, takes it as a
    parameter): then a call of it may not be the builtin."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == name and not isinstance(node.ctx, ast.Load):
            return True
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            return True
        if isinstance(node, ast.alias) and (node.asname or node.name.split(".")[0]) == name:
            return True
        if isinstance(node, ast.arg) and node.arg == name:
            return True
    return False


def _calls_in(statements):
    """Whether these statements make a call themselves (not in nested functions)."""
    stack = list(statements)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Call):
            return True
        if isinstance(node, _SCOPES):
            continue
        stack.extend(ast.iter_child_nodes(node))
    return False


def _may_leave_early(body):
    """Whether a loop with this body can stop before its iterable is exhausted: a break
    of its own, a return or raise, or a yield or await (the caller may never come back)."""
    stack = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, _LEAVING + (ast.Break,)):
            return True
        if isinstance(node, _SCOPES):
            continue
        if isinstance(node, _LOOPS):  # a break in its body is that loop's (not one in its else)
            stack.extend(c for c in ast.iter_child_nodes(node) if not any(c is b for b in node.body))
            stack.extend(_without_breaks(node.body))
            continue
        stack.extend(ast.iter_child_nodes(node))
    return False


def _without_breaks(body):
    """The nodes of a nested loop's body where return, raise, yield and await still leave
    the outer loop (its breaks are its own)."""
    out, stack = [], list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Break, ast.Continue) + _SCOPES):
            continue
        if isinstance(node, _LEAVING):
            out.append(node)
            continue
        stack.extend(ast.iter_child_nodes(node))
    return out


def _names_iterable(body, iterable):
    """Whether the loop body names the loop's iterable, or what it is made from (and so
    may grow or shrink a list, or advance an iterator)."""
    named = []
    stack = [iterable]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Name, ast.Attribute, ast.Subscript)):
            named.append(node)
        if isinstance(node, ast.Call):  # what is called is not what is iterated
            stack.extend(node.args)
            stack.extend(k.value for k in node.keywords)
        elif not isinstance(node, _SCOPES):
            stack.extend(ast.iter_child_nodes(node))
    if not named:
        return False
    names = {n.id for n in named if isinstance(n, ast.Name)}
    texts = {ast.unparse(n) for n in named if not isinstance(n, ast.Name)}
    for node in ast.walk(ast.Module(body=list(body), type_ignores=[])):
        if isinstance(node, ast.Name) and node.id in names:
            return True
        if texts and isinstance(node, (ast.Attribute, ast.Subscript)) and ast.unparse(node) in texts:
            return True
    return False


def _loop_counter(k, known, wrappers):
    """What loop ``k`` passes its iterable through while it is counted: the loop's rounds
    are added now when they are known (``known`` types, and with ``wrappers`` enumerate(),
    zip() and map() of those), else compress() counts the items as the loop takes them."""
    repeat = _items[k]

    def counting_loop(iterable):
        _next(_events[k])
        kind = type(iterable)
        if kind in known:
            _sized[k] += _length_hint(iterable)
            return iterable
        if wrappers and kind in _WRAPPERS:
            rounds = _rounds_of_wrapper(iterable, kind, known)
            if rounds is not None:
                _sized[k] += rounds
                return iterable
        try:
            return _compress(iterable, repeat)
        except TypeError:
            kind = type(iterable)
            if getattr(kind, "__iter__", None) is None and getattr(kind, "__getitem__", None) is None:
                return iterable  # not iterable: the loop itself says so, as it would
            raise

    return counting_loop


def _rounds_of_wrapper(wrapper, kind, known):
    """enumerate() goes round as often as its iterator, zip() and map() as their shortest."""
    rounds = None
    for inner in wrapper.__reduce__()[1][_WRAPPERS[kind]]:
        if type(inner) not in known:
            return None
        n = _length_hint(inner)
        rounds = n if rounds is None else min(rounds, n)
    return rounds


class _Code:
    """One code object of a counted file, with and without its own counters."""

    __slots__ = ("key", "parent", "children", "counted", "counted_at", "plain", "plain_at",
                 "active", "off", "sites", "started")

    def __init__(self, code, parent):
        self.key = (code.co_name, code.co_firstlineno)
        self.parent = parent
        self.counted = self.active = code
        self.counted_at = [i for i, c in enumerate(code.co_consts) if isinstance(c, types.CodeType)]
        self.children = [_Code(code.co_consts[i], self) for i in self.counted_at]
        self.plain, self.plain_at = None, None
        self.off = False
        self.sites = []
        self.started = None  # its counter, when sys.monitoring counts its calls

    def attach_plain(self, plain):
        """The same code compiled without counters (nothing when they do not match up)."""
        if plain.co_name != self.counted.co_name or plain.co_firstlineno != self.counted.co_firstlineno:
            return
        at = [i for i, c in enumerate(plain.co_consts) if isinstance(c, types.CodeType)]
        if [(plain.co_consts[i].co_name, plain.co_consts[i].co_firstlineno) for i in at] != \
                [child.key for child in self.children]:
            return
        self.plain, self.plain_at = plain, at
        for child, i in zip(self.children, at):
            child.attach_plain(plain.co_consts[i])

    def rebuilt(self):
        """This code as it should run now: with or without its counters, with its nested
        functions' current code."""
        base, at = (self.plain, self.plain_at) if self.off else (self.counted, self.counted_at)
        consts = list(base.co_consts)
        changed = False
        for i, child in zip(at, self.children):
            if consts[i] is not child.active:
                consts[i] = child.active
                changed = True
        return base.replace(co_consts=tuple(consts)) if changed else base


class _File:
    """A counted file: its code tree, and which code holds which counter."""

    def __init__(self, filename, code, plain, paths):
        self.filename = filename
        self.root = _Code(code, None)
        if plain is not None:
            self.root.attach_plain(plain)
        by_path, twice = {}, set()
        stack = [((), self.root)]
        while stack:
            path, node = stack.pop()
            if path in by_path:
                twice.add(path)  # two functions of one name on one line: neither is known
            by_path[path] = node
            stack.extend((path + (child.key,), child) for child in node.children)
        for path in twice:
            by_path[path] = None
        for k, path in paths:
            node = by_path.get(path)
            _owners[k] = node
            if node is not None:
                node.sites.append(k)


# --- switching off what costs too much -----------------------------------------------

def _new_batch(k, now):
    """Site ``k`` counts its next BATCH events with a fresh repeat, then calls back."""
    _generation[k] += 1
    batch = _repeat(True, BATCH)
    _batch_began[k] = now
    _batch_size[k] = BATCH
    _batch[k] = batch
    _events[k] = _chain(batch, iter(_partial(_batch_done, k, _generation[k]), _NEVER))


def _settle(k):
    """Site ``k`` counts on with a bare repeat and never calls back."""
    _generation[k] += 1
    _spent[k] += _batch_size[k] - _length_hint(_batch[k])
    plain = _repeat(True, UNTOUCHED)
    _batch_size[k] = UNTOUCHED
    _batch[k] = plain
    _events[k] = plain


def _batch_done(k, generation):
    """Site ``k`` gave out its batch: this event is counted here, and the site's cost is
    weighed. Runs in the target's thread, called from C (through chain): it must not
    raise, and returns True (a compress() selector that lets the item through)."""
    _spent[k] += 1
    if generation != _generation[k]:
        return True  # a late call: count only
    deciding = False
    try:
        deciding = _deciding.acquire(False)
        if not deciding:
            return True  # another thread is deciding: count only
        _spent[k] += _batch_size[k] - _length_hint(_batch[k])
        _batch_size[k] = 0  # counted into _spent now
        now = _now()
        if _too_costly(k, now):
            _switch_off(k)
        if _generation[k] == generation:
            _new_batch(k, now)
    except Exception:  # counting is a bonus: never disturb the target for it
        pass
    finally:
        if deciding:
            _deciding.release()
    return True


def _too_costly(k, now):
    cost = BATCH * _weights[k]
    items = _items[k]
    if items is not None:  # a for loop's items counted by compress
        left = _length_hint(items)
        cost += ITEM_COST * (_items_seen[k] - left)
        _items_seen[k] = left
    _cost[k] += cost
    _total[0] += cost
    seconds = now - _batch_began[k]
    if _cost[k] > SITE_FREE and cost > SITE_SHARE * seconds:
        return True
    run = now - _total[1]
    return run > 1.0 and _total[0] > TOTAL_SHARE * run and cost > 0.1 * SITE_SHARE * seconds


def _switch_off(k):
    """Stop counter ``k`` (and the others in its code), or at least its callbacks."""
    if _items[k] is not None:  # a for loop: its next entries go straight to iter
        _loops[k] = iter
        _lower.add(k)
        _settle(k)
        return
    node = _owners[k]
    swappable = (node is not None and not node.off and node.plain is not None
                 and node.counted.co_flags & _CO_OPTIMIZED)
    if swappable and node.started == k and len(node.sites) == 1:
        swappable = False  # only its calls are counted: switching sys.monitoring off is enough
    if swappable and _switched_code(node):
        for site in node.sites:
            _lower.add(site)
            _loops[site] = iter  # frames still running the counted code
            _settle(site)
    elif node is not None and node.started == k:
        _lower.add(k)  # _function_started says DISABLE from now on
        _settle(k)
    else:  # module or class body code (it runs once), or its functions were not found
        _settle(k)


def _monitor_calls():
    """From 3.13 a function given new code (``__code__ = ...``) is no longer specialised
    where it is called: switched-off functions would stay slower. So there, function calls
    are counted through sys.monitoring (PY_START, on the counted code objects only), and
    a hot function's counting is switched off by disabling that event: its code stays."""
    monitoring = getattr(sys, "monitoring", None)
    if sys.version_info < (3, 13) or monitoring is None or _monitoring:
        return
    for tool in (4, 3):  # the ids no standard tool claims
        try:
            monitoring.use_tool_id(tool, "concadvisor call counter")
        except ValueError:
            continue
        events = monitoring.events
        monitoring.register_callback(tool, events.PY_START, _function_started)
        monitoring.register_callback(tool, events.PY_RETURN, _function_returned)
        monitoring.register_callback(tool, events.PY_UNWIND, _function_unwound)
        _monitoring[:] = [tool, monitoring.set_local_events, events.PY_START,
                          events.PY_START | events.PY_RETURN, monitoring.set_events, events.PY_UNWIND]
        return


def _arm(code, k):
    """Count the calls of functions running ``code`` with counter ``k`` (and time them,
    when ``k`` is timed: a call ends at PY_RETURN, or at PY_UNWIND when it raises)."""
    tool, set_local_events, py_start, py_start_return, set_events, py_unwind = _monitoring[:6]
    _started_by_code[id(code)] = k
    timed = _longest[k][0] >= 0.0
    try:
        set_local_events(tool, code, py_start_return if timed else py_start)
        if timed and len(_monitoring) == 6:  # PY_UNWIND cannot be local: one for all code
            set_events(tool, py_unwind)
            _monitoring.append(True)
    except Exception:
        pass


def _function_started(code, offset):
    """sys.monitoring's PY_START: a counted function started. Must not raise."""
    k = _started_by_code.get(id(code))
    if k is None or k in _lower:
        return _DISABLE
    _next(_events[k])
    if k in _lower:  # this call's batch switched it off
        return _DISABLE
    if _longest[k][0] >= 0.0:
        _began[id(_getframe(1))] = _now()
    return None


def _function_returned(code, offset, value):
    """sys.monitoring's PY_RETURN: a timed function returned. Must not raise."""
    began = _began.pop(id(_getframe(1)), None)
    k = _started_by_code.get(id(code))
    if k is None or k in _lower:
        return _DISABLE
    if began is not None:
        seconds = _now() - began
        longest = _longest[k]
        if seconds > longest[0]:
            longest[0] = seconds
    return None


def _function_unwound(code, offset, exception):
    """sys.monitoring's PY_UNWIND (any function left by an exception): the call of a timed
    function ends too. Must not raise; cannot be disabled."""
    if _began:
        began = _began.pop(id(_getframe(1)), None)
        if began is not None:
            k = _started_by_code.get(id(code))
            seconds = _now() - began
            if k is not None and k not in _lower and seconds > _longest[k][0]:
                _longest[k][0] = seconds


_DISABLE = getattr(getattr(sys, "monitoring", None), "DISABLE", None)


def _switched_code(node):
    """Whether some function took ``node``'s code without counters (when switching failed
    half way, some may have: their counts are lower bounds then too)."""
    try:
        return _switch_code(node)
    except Exception:
        return True


def _switch_code(node):
    """Give the function objects of ``node`` (and, for the closures it makes, of the code
    around it) their code without ``node``'s counters; whether any function took it."""
    node.off = True
    replaced, old = {}, []
    here = node
    while here is not None:
        code = here.rebuilt()
        if code is here.active:
            break
        old.append((here, here.active))
        replaced[id(here.active)] = code
        here.active = code
        if here is not node and here.started is not None and here.started not in _lower:
            _arm(code, here.started)  # code around it, still counting its calls
        here = here.parent
    if _swap_functions(replaced):
        return True
    node.off = False
    for here, code in old:
        here.active = code
    return False


def _swap_functions(replaced):
    """Set ``__code__`` of every function found with a replaced code: the counted modules'
    globals, their classes (and classes in those), ``__wrapped__`` chains."""
    swapped, seen = 0, set()
    for module in list(sys.modules.values()):
        if not issubclass(type(module), types.ModuleType):
            continue
        try:
            namespace = _MODULE_DICT(module)
        except Exception:
            continue
        if namespace.get("__file__") not in _files:
            continue
        for value in list(namespace.values()):
            swapped += _swap_in(value, replaced, seen, 2)
    return swapped


def _swap_in(value, replaced, seen, depth):
    kind = type(value)
    if kind is types.FunctionType:
        if id(value) in seen:
            return 0
        seen.add(id(value))
        swapped = 0
        new = replaced.get(id(value.__code__))
        if new is not None:
            try:
                value.__code__ = new
                swapped = 1
            except (ValueError, TypeError):
                pass
        wrapped = _FUNCTION_DICT(value).get("__wrapped__")
        return swapped + (_swap_in(wrapped, replaced, seen, depth) if wrapped is not None else 0)
    if kind is staticmethod or kind is classmethod or kind is types.MethodType:
        return _swap_in(value.__func__, replaced, seen, depth)
    if kind is property:
        return sum(_swap_in(f, replaced, seen, depth) for f in (value.fget, value.fset, value.fdel)
                   if f is not None)
    if kind is functools.partial:
        return _swap_in(value.func, replaced, seen, depth)
    if kind is _LRU_WRAPPER:
        wrapped = value.__dict__.get("__wrapped__")
        return _swap_in(wrapped, replaced, seen, depth) if wrapped is not None else 0
    if depth and issubclass(kind, type) and id(value) not in seen:
        seen.add(id(value))
        return sum(_swap_in(v, replaced, seen, depth - 1) for v in list(_CLASS_DICT(value).values()))
    return 0


_LRU_WRAPPER = type(functools.lru_cache()(lambda: None))


class _UserFinder(importlib.abc.MetaPathFinder):
    """Finds modules as usual; user source files get the counting loader."""

    def __init__(self, is_user_file):
        self.is_user_file = is_user_file

    def find_spec(self, name, path=None, target=None):
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is None or not isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            return spec
        origin = spec.origin or ""
        if origin.endswith(".py") and self.is_user_file(origin):
            spec.loader = _CountingLoader(spec.loader.name, spec.loader.path)
        return spec


class _CountingLoader(importlib.machinery.SourceFileLoader):
    """Compiles from source with counters, and never reads or writes a .pyc for it."""

    def get_code(self, fullname):
        path = self.get_filename(fullname)
        return self.source_to_code(self.get_data(path), path)

    def source_to_code(self, data, path, *, _optimize=-1):
        try:
            return compile_counted(data, path, _optimize)
        except SyntaxError:
            pass  # compiled again outside the handler: Python's own error, with no context
        return compile(data, path, "exec", dont_inherit=True, optimize=_optimize)


def user_file_test(library_paths, runner_files):
    """A predicate: is this file the user's own code (not a library, not ours)?"""
    roots = tuple(os.path.join(p, "") for p in library_paths)
    ours = {os.path.realpath(f) for f in runner_files}

    def is_user_file(filename):
        if not isinstance(filename, str) or not filename.endswith(".py") or filename.startswith("<"):
            return False
        real = os.path.realpath(filename)
        return real not in ours and not real.startswith(roots) and os.path.exists(real)

    return is_user_file
