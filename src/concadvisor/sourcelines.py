"""Find, in the user's source, the line of a call that the profile only knows by function.

cProfile knows that ``download`` (app.py:12) called ``urlopen`` 25 times, not on which
line. The function's syntax tree does: the call whose name matches. It also says whether
that function is a coroutine and whether the call is awaited, which is what separates a
blocking call inside the event loop from a healthy ``await``.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class CallSite:
    line: int
    in_coroutine: bool
    awaited: bool
    source: str


@lru_cache(maxsize=256)
def _parse(path: str) -> tuple[ast.Module | None, tuple[str, ...]]:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
        return ast.parse(text), tuple(text.splitlines())
    except (OSError, SyntaxError, ValueError):
        return None, ()


def source_line(path: str, line: int) -> str:
    _, lines = _parse(path)
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def function_node(path: str, def_line: int):
    """The function or module node that starts at ``def_line`` (1 for the module)."""
    tree, _ = _parse(path)
    if tree is None:
        return None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            if def_line in (node.lineno, first):
                return node
    return tree if def_line <= 1 else None


def is_coroutine(path: str, def_line: int) -> bool:
    return isinstance(function_node(path, def_line), ast.AsyncFunctionDef)


def _call_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


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
        if isinstance(child, ast.Call):
            out.append((child, awaited))
        for grand in ast.iter_child_nodes(child):
            visit(grand, False if isinstance(child, ast.Call) else awaited)

    body = node.body if hasattr(node, "body") else []
    for statement in body:
        visit(statement, False)
    return out


def find_call(path: str, def_line: int, callee: str) -> CallSite | None:
    """The line in the function at ``def_line`` that calls ``callee`` (a short name)."""
    node = function_node(path, def_line)
    if node is None:
        return None
    wanted = callee.rsplit(".", 1)[-1].strip("<>")
    calls = _own_calls(node)
    match = _best_match(calls, wanted)
    if match is None:
        return None
    call, awaited = match
    return CallSite(line=call.lineno, in_coroutine=isinstance(node, ast.AsyncFunctionDef),
                    awaited=awaited, source=source_line(path, call.lineno))


def _best_match(calls, wanted: str):
    exact = [c for c in calls if _call_name(c[0]) == wanted]
    if exact:
        return exact[0]
    loose = [c for c in calls if _call_name(c[0]) and len(_call_name(c[0])) > 2
             and (_call_name(c[0]) in wanted or wanted in _call_name(c[0]))]
    return loose[0] if loose else None
