"""Exact call counts for a block of code whose modules are already loaded.

For a script the runner compiles the user's files with counters as they are imported
(``call_counter``). A block runs code that was loaded before it began, so its functions
get that counted code for the block instead: each user file is compiled again with
counters, each of its functions found in the module (and in the given namespaces, a
notebook's) is matched to its counted twin by name and first line, checked to be the
code loaded from the same source, and given the counted code as ``__code__``. At the
block's end every function gets its own code back. How often the block's loops went
round is counted only where they are in those functions (not in code already running:
the block's own body, the function around a ``with``).

Compiling costs about 80 us a line, so files are taken in order (the block's own file,
files beside it, then the rest) until ``COMPILE_BUDGET`` is spent; a file compiled once
is kept for the next block. Functions not counted keep the samples' lower bounds.
"""
from __future__ import annotations

import builtins
import copy
import functools
import linecache
import os
import sys
import time
import types
import warnings

from . import call_counter as counter

# Seconds of compiling per block before the rest of the files are left uncounted.
COMPILE_BUDGET = 0.5
_CLASS_DEPTH = 2
_compiled: dict = {}  # filename -> (source, plain code, counted code tree root), reused


class LoadedCounts:
    """``start()`` swaps counted code in, ``stop()`` returns the block's counts (rows as
    the runner saves them) and swaps it out; ``close()`` swaps it out whatever happened."""

    def __init__(self, is_user_file, namespaces=(), first_file: str | None = None):
        self.is_user_file = is_user_file
        self.namespaces = [ns for ns in namespaces if isinstance(ns, dict)]
        self.first_file = first_file
        self.swapped: list[tuple[types.FunctionType, types.CodeType]] = []
        self.files: set[str] = set()
        self.before: dict = {}
        self.skipped = 0
        self.disabled = ""

    def start(self) -> None:
        current = getattr(builtins, counter.COUNTER, None)
        if current is not None and current is not counter._events:
            self.disabled = "another call counter runs in this process (concadvisor profiling it)"
            return
        counter.prepare()
        functions = _functions_by_file(self._namespaces(), self.is_user_file)
        spent = 0.0
        for filename in self._order(functions):
            began = time.perf_counter()
            if spent > COMPILE_BUDGET and filename not in _compiled:
                self.skipped += 1
                continue
            tree = _counted(filename)
            spent += time.perf_counter() - began
            if tree is not None:
                self._swap_in(functions[filename], *tree)
        self.before = {tuple(row[:4]): row[4] for row in counter.counts()}
        for k, longest in enumerate(counter._longest):
            if longest[0] > 0.0:
                longest[0] = 0.0  # the longest call of this block, not of an earlier one
        counter.start()

    def _namespaces(self) -> list[dict]:
        found = list(self.namespaces)
        for module in list(sys.modules.values()):
            try:
                namespace = vars(module)
            except TypeError:
                continue
            if self.is_user_file(namespace.get("__file__")):
                found.append(namespace)
        return found

    def _order(self, functions: dict) -> list[str]:
        """The block's own file first, then the files in its folder, then the rest."""
        first = self.first_file
        folder = os.path.dirname(first) if first else os.getcwd()
        return sorted(functions, key=lambda f: (f != first, os.path.dirname(f) != folder, f))

    def _swap_in(self, found: list, plain: types.CodeType, root) -> None:
        plain_codes = _by_place(plain)
        nodes = _nodes_by_place(root)
        for function in found:
            code = function.__code__
            place = plain_codes.get((code.co_name, code.co_firstlineno))
            if place is None or _shape(place[1]) != _shape(code):
                continue  # not the code this source compiles to now (edited since): leave it
            node = nodes.get(place[0])
            if node is None or node.active.co_freevars != code.co_freevars:
                continue
            try:
                function.__code__ = node.active
            except (TypeError, ValueError):
                continue
            self.swapped.append((function, code))
            self.files.add(code.co_filename)

    def compile(self, tree, source: str, filename: str, flags: int = 0) -> types.CodeType:
        """A notebook cell (``tree``, parsed from ``source``) compiled with counters: its
        loops and the functions it defines are counted with the block's."""
        if not self.disabled:
            untouched = copy.deepcopy(tree)
            try:
                code = counter.compile_counted(source, filename, flags=flags, tree=tree)
            except (SyntaxError, ValueError, RecursionError, TypeError):
                tree = untouched  # the counters may be in the other one
            else:
                self.files.add(filename)
                return code
        return compile(tree, filename, "exec", flags=flags, dont_inherit=True)

    def stop(self) -> list:
        """The block's counts: ``[kind, file, line, name or end line, count, lower(, longest)]``."""
        if self.disabled:
            return []
        rows = []
        for row in counter.counts():
            if row[1] not in self.files:
                continue
            n = row[4] - self.before.get(tuple(row[:4]), 0)
            if n > 0:
                rows.append(row[:4] + [n] + row[5:])
        self.close()
        return rows

    def close(self) -> None:
        swapped, self.swapped = self.swapped, []
        for function, code in swapped:
            try:
                function.__code__ = code
            except (TypeError, ValueError):
                pass

    def note(self) -> str | None:
        if self.disabled:
            return f"calls were not counted: {self.disabled}"
        if self.skipped:
            return (f"calls were counted in {len(self.files)} file(s) of your code; {self.skipped} more were "
                    f"not compiled with counters (over {COMPILE_BUDGET:g} s of compiling): their calls are "
                    "lower bounds from the samples")
        return None


def _counted(filename: str):
    """(plain code, counted code tree) of a file as it is now, compiled once."""
    source = _source(filename)
    if source is None:
        return None
    kept = _compiled.get(filename)
    if kept is not None and kept[0] == source and counter._files.get(filename) is kept[2]:
        return kept[1], kept[2].root
    try:
        with warnings.catch_warnings():  # shown when the file was first compiled: not again
            warnings.simplefilter("ignore")
            plain = compile(source, filename, "exec", dont_inherit=True)
            counter.compile_counted(source, filename)
    except (SyntaxError, ValueError, RecursionError):
        return None
    found = counter._files.get(filename)
    if found is None:
        return None
    _compiled[filename] = (source, plain, found)
    return plain, found.root


def _source(filename: str) -> str | None:
    """The file's text: from disk, else from linecache (a notebook cell)."""
    if os.path.isfile(filename):
        try:
            with open(filename, "rb") as handle:
                data = handle.read()
            import io
            import tokenize

            encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
            return data.decode(encoding)
        except (OSError, SyntaxError, UnicodeDecodeError, LookupError):
            return None
    lines = linecache.getlines(filename)
    return "".join(lines) if lines else None


def _by_place(code: types.CodeType) -> dict:
    """(name, first line) -> (path of (name, first line) from the module, code), for the
    places that hold one function only."""
    found, twice = {}, set()
    stack = [((), code)]
    while stack:
        path, here = stack.pop()
        for const in here.co_consts:
            if isinstance(const, types.CodeType):
                key = (const.co_name, const.co_firstlineno)
                if key in found:
                    twice.add(key)
                found[key] = (path + (key,), const)
                stack.append((path + (key,), const))
    for key in twice:
        del found[key]
    return found


def _shape(code: types.CodeType) -> tuple:
    """What a function's code is, beyond its bytes: its arguments, locals, names and lines.
    The bytes differ with how it was compiled (a notebook compiles a cell's statements one
    by one), the shape only with the source."""
    return (code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount, code.co_varnames,
            code.co_freevars, code.co_cellvars, frozenset(code.co_names), code.co_flags & 0xFF,
            frozenset(line for _, _, line in code.co_lines() if line is not None))


def _nodes_by_place(root) -> dict:
    """path of (name, first line) -> the call counter's node for that code."""
    found = {}
    stack = [((), root)]
    while stack:
        path, node = stack.pop()
        found[path] = node
        stack.extend((path + (child.key,), child) for child in node.children)
    return found


def _functions_by_file(namespaces: list[dict], is_user_file) -> dict:
    """filename -> the functions in these namespaces (their classes, wrappers) defined in
    a user file."""
    found: dict = {}
    seen: set = set()
    for namespace in namespaces:
        for value in list(namespace.values()):
            for function in _functions_in(value, seen, _CLASS_DEPTH):
                filename = function.__code__.co_filename
                if is_user_file(filename) or (filename.startswith("<") and linecache.getlines(filename)):
                    found.setdefault(filename, []).append(function)
    return found


_LRU_WRAPPER = type(functools.lru_cache()(lambda: None))


def _functions_in(value, seen: set, depth: int):
    kind = type(value)
    if kind is types.FunctionType:
        if id(value) in seen:
            return
        seen.add(id(value))
        yield value
        wrapped = value.__dict__.get("__wrapped__")
        if wrapped is not None:
            yield from _functions_in(wrapped, seen, depth)
    elif kind in (staticmethod, classmethod, types.MethodType):
        yield from _functions_in(value.__func__, seen, depth)
    elif kind is property:
        for part in (value.fget, value.fset, value.fdel):
            if part is not None:
                yield from _functions_in(part, seen, depth)
    elif kind is functools.partial:
        yield from _functions_in(value.func, seen, depth)
    elif kind is _LRU_WRAPPER:
        wrapped = getattr(value, "__wrapped__", None)
        if wrapped is not None:
            yield from _functions_in(wrapped, seen, depth)
    elif depth and isinstance(value, type) and id(value) not in seen:
        seen.add(id(value))
        for member in list(vars(value).values()):
            yield from _functions_in(member, seen, depth - 1)
