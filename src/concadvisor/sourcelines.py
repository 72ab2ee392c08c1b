"""Find, in the user's source, the line of a call that the profile only knows by function.

cProfile knows that ``download`` (app.py:12) called ``urlopen`` 25 times, not on which
line. The function's syntax tree does: the call whose name matches. It also says whether
that function is a coroutine and whether the call is awaited, which is what separates a
blocking call inside the event loop from a healthy ``await``.
"""
from __future__ import annotations

import ast
import builtins
import linecache
import os
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class CallSite:
    line: int
    in_coroutine: bool
    awaited: bool
    source: str


# A syntax tree costs about 150 times its source in memory: past this size (generated
# code, not code people write) only the lines are read, and calls keep their def line.
MAX_PARSE_BYTES = 1_000_000


def read_source(path: str) -> str | None:
    """A source file's text. Code with no file of its own (a notebook cell, such as
    ``<ipython-input-3-...>``, measured by ``with advise():`` or the magic in the same
    process) is read from what ``linecache`` holds for it: IPython puts every cell there."""
    if not path:
        return None
    if not path.startswith("<") and os.path.isfile(path):
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except OSError:
            return None
    entry = linecache.cache.get(path)
    if entry is not None and len(entry) == 4 and entry[2]:  # (size, mtime, lines, name)
        return "".join(entry[2])
    return None


@lru_cache(maxsize=256)
def _parse(path: str) -> tuple[ast.Module | None, tuple[str, ...]]:
    text = read_source(path)
    if text is None:
        return None, ()
    if len(text) > MAX_PARSE_BYTES:
        return None, tuple(text.splitlines())
    try:
        return ast.parse(text), tuple(text.splitlines())
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None, ()


def source_line(path: str, line: int) -> str:
    _, lines = _parse(path)
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def function_node(path: str, def_line: int):
    """The function or module node that starts at ``def_line`` (1 for the module)."""
    tree, _ = _parse(path)
    if tree is None:
        return None
    node = _functions_by_line(path).get(def_line)
    if node is not None:
        return node
    return tree if def_line <= 1 else None


@lru_cache(maxsize=256)
def _functions_by_line(path: str) -> dict[int, ast.AST]:
    """Each function by its ``def`` line and its first decorator's line; the first one met
    in ``ast.walk`` order wins, as a walk for one line would find it. One walk per file:
    a profile can name tens of thousands of functions in one file."""
    tree, _ = _parse(path)
    index: dict[int, ast.AST] = {}
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            index.setdefault(node.lineno, node)
            index.setdefault(first, node)
    return index


def is_coroutine(path: str, def_line: int) -> bool:
    tree, lines = _parse(path)
    if tree is None and lines:  # too big to parse: the def line says it
        for text in lines[max(def_line - 1, 0):def_line + 20]:
            text = text.strip()
            if not text.startswith("@"):
                return text.startswith("async def ")
        return False
    return isinstance(function_node(path, def_line), ast.AsyncFunctionDef)


@lru_cache(maxsize=4096)
def suspension_points(path: str, def_line: int) -> int:
    """How many times one run of the coroutine at ``def_line`` may suspend, as written:
    each ``await``, two per ``async with`` (enter, exit), one per ``async for`` (at least
    one step each); nested functions excluded. 0 when it is not a coroutine we can read."""
    node = function_node(path, def_line)
    if not isinstance(node, ast.AsyncFunctionDef):
        return 0
    count = 0
    pending = list(node.body)
    while pending:
        child = pending.pop()
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(child, ast.Await):
            count += 1
        elif isinstance(child, ast.AsyncWith):
            count += 2 * len(child.items)
        elif isinstance(child, (ast.AsyncFor, ast.comprehension)) and getattr(child, "is_async", True):
            count += 1
        pending.extend(ast.iter_child_nodes(child))
    return count


@lru_cache(maxsize=4096)
def suspends_in_loop(path: str, def_line: int) -> bool:
    """Whether the coroutine at ``def_line`` may suspend inside a loop (an ``await`` in a
    ``for``/``while`` body, an ``async for``): its steps per run are then not bounded by
    its suspension points as written. True when it can't be read."""
    node = function_node(path, def_line)
    if not isinstance(node, ast.AsyncFunctionDef):
        return True
    pending = [(child, False) for child in node.body]
    while pending:
        child, looped = pending.pop()
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(child, ast.AsyncFor) or (looped and isinstance(child, (ast.Await, ast.AsyncWith))):
            return True
        if isinstance(child, ast.comprehension) and child.is_async:
            return True
        inner = looped or isinstance(child, (ast.For, ast.While))
        pending.extend((grand, inner) for grand in ast.iter_child_nodes(child))
    return False


@lru_cache(maxsize=4096)
def step_bounds(path: str, def_line: int) -> tuple[tuple[int, ...], int, int]:
    """(the lines its suspension points are on, first body line, last body line) of the
    coroutine at ``def_line``, when its steps follow its source: code between two of those
    lines runs in one step. No lines when it suspends in a loop or can't be read."""
    node = function_node(path, def_line)
    if not isinstance(node, ast.AsyncFunctionDef) or suspends_in_loop(path, def_line):
        return (), 0, 0
    lines = set()
    pending = list(node.body)
    while pending:
        child = pending.pop()
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(child, (ast.Await, ast.AsyncWith)):
            lines.add(child.lineno)
            if isinstance(child, ast.AsyncWith):
                lines.add(child.end_lineno or child.lineno)
        pending.extend(ast.iter_child_nodes(child))
    return tuple(sorted(lines)), node.body[0].lineno, node.end_lineno or node.lineno


def _call_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def _dotted_name(call: ast.Call) -> str:
    """``time.sleep``, ``self.sock.recv``, ``sleep``: the call as spelled ("" if computed)."""
    from .collect.leafcalls import written_name

    return written_name(call.func)


def _own_calls(node):
    """Calls in ``node``'s body, not in nested functions or classes, with await flags."""
    out = []

    def visit(child, awaited):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            return
        if isinstance(child, ast.Await):
            for grand in ast.iter_child_nodes(child):
                visit(grand, True)
            return
        if isinstance(child, (ast.AsyncWith, ast.AsyncFor)):
            # ``async with session.get(u)`` awaits its __aenter__ and __aexit__, ``async for``
            # its __anext__: the expression that makes them is awaited.
            for grand in ast.iter_child_nodes(child):
                visit(grand, awaited or grand in _async_heads(child))
            return
        if isinstance(child, ast.Call):
            out.append((child, awaited))
        for grand in ast.iter_child_nodes(child):
            visit(grand, False if isinstance(child, ast.Call) else awaited)

    body = node.body if hasattr(node, "body") else []
    for statement in body:
        visit(statement, False)
    return out


def _async_heads(node) -> list:
    """The expressions an ``async with`` / ``async for`` statement awaits through."""
    if isinstance(node, ast.AsyncWith):
        return [item for item in node.items]
    return [node.iter]


# Methods an ``async with`` or ``async for`` calls for the code: the call they are made on
# is the one written in the statement.
ASYNC_PROTOCOL = frozenset({"__aenter__", "__aexit__", "__anext__", "__aiter__"})


@lru_cache(maxsize=4096)
def _calls_of(path: str, def_line: int):
    node = function_node(path, def_line)
    if node is None:
        return None
    return node, [(call, awaited, _call_name(call)) for call, awaited in _own_calls(node)]


@lru_cache(maxsize=65536)
def find_call(path: str, def_line: int, callee: str, line: int = 0, native: bool = False) -> CallSite | None:
    """The call in the function at ``def_line`` to ``callee`` (its qualified name).

    ``line``, when a sampler saw it, picks among the calls on that line. Calls of the same
    short name (``asyncio.sleep`` and ``time.sleep`` in one coroutine) are told apart by
    the qualified name as spelled, and a native callee is never the one awaited (a C
    function returns no coroutine to await)."""
    found = _calls_of(path, def_line)
    if found is None:
        return None
    node, calls = found
    if line:
        on_line = [c for c in calls if c[0].lineno <= line <= (getattr(c[0], "end_lineno", None) or c[0].lineno)]
        calls = on_line or calls
    match = _best_match(calls, callee.strip("<>"), native)
    if match is None:
        return None
    call, awaited = match
    return CallSite(line=call.lineno, in_coroutine=isinstance(node, ast.AsyncFunctionDef),
                    awaited=awaited, source=source_line(path, call.lineno))


_BUILTIN_NAMES = frozenset(dir(builtins))


def _best_match(calls, qualified: str, native: bool = False):
    """``calls`` are (call, awaited, name). Among those with the wanted short name, the one
    spelled most like the qualified name (``time.sleep`` over ``asyncio.sleep``), not
    awaited for a native callee, else the first in the source; failing any, the first
    whose name and the wanted one contain each other."""
    wanted = qualified.rsplit(".", 1)[-1]
    named = [(index, call, awaited) for index, (call, awaited, name) in enumerate(calls) if name == wanted]
    if not named and wanted in ASYNC_PROTOCOL:
        named = [(index, call, awaited) for index, (call, awaited, _) in enumerate(calls) if awaited]
    if not native and wanted in _BUILTIN_NAMES:
        # A bare ``map(...)`` is the builtin, a native callable: a Python ``map`` is a
        # method called on something (``pool.map``).
        named = [c for c in named if _dotted_name(c[1]) != wanted] or named
    if named:
        index, call, awaited = max(named, key=lambda c: (
            _spelling_match(_dotted_name(c[1]), qualified), native and not c[2], -c[0]))
        return call, awaited
    for call, awaited, name in calls:
        if name and len(name) > 2 and (name in wanted or wanted in name):
            return call, awaited
    return None


def _spelling_match(spelled: str, qualified: str) -> int:
    """How many of the qualifiers before the short name agree (``_socket`` is ``socket``)."""
    said = [p.lstrip("_").lower() for p in spelled.split(".")[:-1]]
    known = {p.lstrip("_").lower() for p in qualified.split(".")[:-1]}
    return sum(1 for p in said if p and p in known)
