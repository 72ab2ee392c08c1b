"""What a sampled frame is, in the terms of a deterministic profiler, read from the source.

A sampler sees ``name (file:line)``: the *current* line of each frame. The common table
names a function by the line of its ``def`` (as cProfile's ``co_firstlineno``: the first
decorator's line), and a native callable by its module-qualified name. Both are found in
the file's syntax tree: the innermost function of that name around the line, and the
call on the leaf's line that the thread was in when the sample said it waited (idle) or
ran native code without the GIL. A call is named as cProfile would name it when the
catalog knows it (``time.sleep``, ``posix.waitpid``, ``_socket.socket.recv_into``), else
as written (``hashlib.sha256``).
"""
from __future__ import annotations

import ast
import builtins
import fnmatch
import hashlib
import marshal
import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache

from ..catalog import CATALOG, CPU_GIL, lookup

# Modules whose functions are natives of another name in a profile (``os.waitpid`` is
# ``posix.waitpid`` to cProfile).
NATIVE_MODULES = {"os": "posix", "socket": "_socket", "io": "_io", "select": "select",
                  "time": "time", "hashlib": "_hashlib", "json": "_json", "pickle": "_pickle"}


_BUILTINS = frozenset(dir(builtins))


@dataclass(frozen=True)
class _Scope:
    name: str
    first_line: int  # the def line, or the first decorator's
    start: int
    end: int


@dataclass(frozen=True)
class _FileIndex:
    scopes: tuple[_Scope, ...]
    calls: dict  # line -> tuple of dotted call names on that line, innermost first
    aliases: dict  # local name -> module path (import x as y, from m import f)


@lru_cache(maxsize=512)
def _index(path: str) -> _FileIndex | None:
    """The file's index, from the disk cache when the file hasn't changed since."""
    if not path or path.startswith("<frozen"):
        return None
    try:
        stat = os.stat(path)
    except (OSError, ValueError):  # no file: a notebook cell's code, from linecache
        return _build_index(path)
    signature = (INDEX_FORMAT, path, stat.st_size, stat.st_mtime_ns)
    stored = _cache_file(path)
    cached = _read_cached(stored, signature)
    if cached is not None:
        return cached
    index = _build_index(path)
    if index is not None:
        _write_cached(stored, signature, index)
    return index


# Bump when _FileIndex or what _build_index puts in it changes: older cache entries are
# then rebuilt.
INDEX_FORMAT = 2


def _cache_file(path: str) -> str | None:
    """Where the index of ``path`` is kept between runs: parsing the standard library's
    files again on every run costs a few tenths of a second."""
    chosen = os.environ.get("CONCADVISOR_CACHE_DIR", "")
    if chosen == "off":
        return None
    folder = os.path.join(chosen, "source-index") if chosen else os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "concadvisor", "source-index")
    name = hashlib.sha1(path.encode("utf-8", "surrogateescape")).hexdigest()
    return os.path.join(folder, name + ".marshal")


def _read_cached(stored: str | None, signature: tuple) -> _FileIndex | None:
    if stored is None:
        return None
    try:
        with open(stored, "rb") as handle:
            saved_signature, scopes, calls, aliases = marshal.load(handle)
        if tuple(saved_signature) != signature:
            return None
        return _FileIndex(tuple(_Scope(*scope) for scope in scopes), calls, aliases)
    except (OSError, EOFError, ValueError, TypeError):
        return None


def _write_cached(stored: str | None, signature: tuple, index: _FileIndex) -> None:
    """Best effort: a cache that can't be written is only a slower next run."""
    if stored is None:
        return
    scopes = tuple((s.name, s.first_line, s.start, s.end) for s in index.scopes)
    tmp = None
    try:
        os.makedirs(os.path.dirname(stored), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(stored), suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            marshal.dump((signature, scopes, index.calls, index.aliases), handle)
        os.replace(tmp, stored)
    except (OSError, ValueError):
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _build_index(path: str) -> _FileIndex | None:
    from ..sourcelines import read_source

    text = read_source(path)
    try:
        tree = ast.parse(text) if text is not None else None
    except (SyntaxError, ValueError, RecursionError):
        tree = None
    if tree is None:
        return None
    scopes, calls, aliases = [], {}, {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            scopes.append(_Scope(node.name, first, first, node.end_lineno or node.lineno))
        elif isinstance(node, ast.Lambda):
            scopes.append(_Scope("<lambda>", node.lineno, node.lineno, node.end_lineno or node.lineno))
        elif isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            name = {ast.ListComp: "<listcomp>", ast.SetComp: "<setcomp>",
                    ast.DictComp: "<dictcomp>", ast.GeneratorExp: "<genexpr>"}[type(node)]
            scopes.append(_Scope(name, node.lineno, node.lineno, node.end_lineno or node.lineno))
        elif isinstance(node, ast.Call):
            dotted = written_name(node.func)
            if dotted:
                for line in range(node.lineno, (node.end_lineno or node.lineno) + 1):
                    calls.setdefault(line, []).append((node.col_offset, dotted))
            for passed in _called_for_it(node, dotted):  # map(hashlib.sha256, blocks)
                for line in range(node.lineno, (node.end_lineno or node.lineno) + 1):
                    calls.setdefault(line, []).append((passed.col_offset, written_name(passed)))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    # innermost (latest starting) calls first: on ``f(g(x))`` the thread is in g
    ordered = {line: tuple(name for _, name in sorted(found, reverse=True)) for line, found in calls.items()}
    return _FileIndex(tuple(scopes), ordered, aliases)


# Callables that call the function handed to them, as (positional index, keyword): the
# thread runs that function on the line that passed it (``map(zlib.compress, chunks)``).
_CALLERS_OF_ARGUMENTS = {"map": (0, None), "filter": (0, None), "starmap": (0, None),
                         "reduce": (0, None), "sorted": (None, "key"), "sort": (None, "key"),
                         "min": (None, "key"), "max": (None, "key")}


def _called_for_it(call: ast.Call, dotted: str) -> list:
    """The function references (names, attributes) ``call`` hands to code that calls them."""
    where = _CALLERS_OF_ARGUMENTS.get(dotted.rsplit(".", 1)[-1]) if dotted else None
    if where is None:
        return []
    position, keyword = where
    passed = []
    if position is not None and len(call.args) > position:
        passed.append(call.args[position])
    passed += [k.value for k in call.keywords if keyword and k.arg == keyword]
    return [p for p in passed if isinstance(p, (ast.Name, ast.Attribute)) and written_name(p)]


def written_name(func) -> str:
    """``a.b.c`` for a call's function as written (``?.m`` when it is an expression's method)."""
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
    elif parts:
        parts.append("?")  # a call on an expression: only the method name is known
    else:
        return ""
    return ".".join(reversed(parts))


def bare_name(name: str) -> str:
    """``Thread.join`` (a qualified name, as samplers show it) -> ``join``."""
    if name.startswith("<") and name.endswith(">"):
        return name
    return name.rsplit(".", 1)[-1]


def def_line(path: str, name: str, line: int) -> int:
    """The first line of the function called ``name`` whose body holds ``line`` (0: unknown)."""
    if name == "<module>":
        return 1
    index = _index(path)
    if index is None:
        return 0
    best = None
    for scope in index.scopes:
        if scope.name == name and scope.start <= line <= scope.end:
            if best is None or scope.start >= best.start:
                best = scope
    return best.first_line if best else 0


def calls_at(path: str, line: int) -> tuple[tuple[str, str], ...]:
    """The calls on ``path:line``, innermost first, as (name, catalog category or "")."""
    index = _index(path)
    if index is None:
        return ()
    return _resolved(path, line, index)


def _resolved(path: str, line: int, index: _FileIndex):
    key = (path, line)
    found = _RESOLVED.get(key)
    if found is None:
        library = any(marker in path for marker in LIBRARY_MARKERS)
        out = []
        for dotted in index.calls.get(line, ()):
            name, category = _written(dotted, index.aliases), ""
            for candidate in _candidates(dotted, index.aliases):
                kind = lookup(candidate)
                if kind is not None and kind.category == CPU_GIL and library and _guessed(dotted, candidate):
                    continue  # numpy's own ``a.sort()`` is not list.sort: the samples say
                if kind is not None:
                    name, category = candidate, kind.category
                    break
            out.append((name, category))
        found = _RESOLVED[key] = tuple(out)
    return found


_RESOLVED: dict = {}


def native_at(path: str, line: int, categories: tuple[str, ...]) -> str:
    """The native callable a thread stopped in at ``path:line`` ("" when no call is there):
    the first call the catalog puts in one of ``categories``, else the first it doesn't know."""
    calls = calls_at(path, line)
    for wanted in categories:
        for name, category in calls:
            if category == wanted:
                return name
    return next((name for name, category in calls if not category), "")


def _written(dotted: str, aliases: dict) -> str:
    head, _, rest = dotted.partition(".")
    if head == "?":
        return rest
    module = aliases.get(head)
    return f"{module}.{rest}" if module and rest else (module or dotted)


# A library's own code calls methods of its own types by common names (numpy's
# ``a.sort()``, pandas' ``values.take()``): a guess from the name alone that such a call
# keeps the GIL is not made there.
LIBRARY_MARKERS = ("/site-packages/", "/dist-packages/")


def _guessed(dotted: str, candidate: str) -> bool:
    """Whether ``candidate`` names the call written ``dotted`` by its method name alone."""
    written = dotted.partition(".")[2] if dotted.startswith("?.") else dotted
    return "." in written and candidate in _catalog_methods(written.rsplit(".", 1)[-1]) \
        and not candidate.endswith("." + written)


def _candidates(dotted: str, aliases: dict):
    """Names cProfile might give the callable written as ``dotted`` in this file."""
    written = _written(dotted, aliases)
    module, _, function = written.rpartition(".")
    if module:
        yield f"{NATIVE_MODULES.get(module, module)}.{function}"
        yield f"_{module}.{function}"
    elif written in _BUILTINS and written not in aliases:
        yield f"builtins.{written}"
    method = written.rsplit(".", 1)[-1]
    yield from _catalog_methods(method)


# Method names too common to name a native by: ``counts.get(k)`` is not a queue wait,
# ``d.update(x)`` not a hash. On such lines the sampler's own state decides instead.
GENERIC_METHODS = frozenset({"get", "put", "update", "join", "wait", "run", "close", "open",
                             "read", "write", "send", "copy", "pop", "clear", "items", "start"})


@lru_cache(maxsize=1024)
def _catalog_methods(method: str) -> tuple[str, ...]:
    """Catalog names whose last part matches a method name (``recv_into`` ->
    ``_socket.socket.recv_into``); wildcard-only last parts (``builtins.*``) don't count."""
    if method in GENERIC_METHODS:
        return ()
    found = []
    for kind in CATALOG:
        owner, _, last = kind.pattern.rpartition(".")
        if owner and last.strip("*") and "*" not in owner and fnmatch.fnmatchcase(method, last):
            found.append(f"{owner}.{method}")
    return tuple(found)
