"""Exact call counts of the user's own code, at almost no cost, for a sampled run.

A sampler sees where the time goes but cannot count calls: 25 back-to-back downloads
from one loop look like one long download. How many times a unit of work repeats is
what the advice rests on, so the runner counts it: the user's own files (never the
standard library or installed packages) are compiled with one counter increment at
the top of each function body and of each loop body that makes a call. Nothing else
changes: same lines, same names, same behaviour; a function call costs one list-item
increment more. Counters are read when the run is saved.

Like the runner, this file is run by the target's Python (3.9+) and uses only the
standard library. The runner loads it by path when asked (``count_calls``).
"""
import ast
import builtins
import importlib.abc
import importlib.machinery
import os
import sys

COUNTER = "__concadvisor_counts__"
_counts = []
_sites = []  # per counter: ["def", file, first line, name] or ["loop", file, body line, end line]


def install(is_user_file, runpy_module):
    """Count calls in every user file compiled from now on (imports and the main script)."""
    setattr(builtins, COUNTER, _counts)
    sys.meta_path.insert(0, _UserFinder(is_user_file))
    real_compile = compile

    def counting_compile(source, filename, mode, *args, **kwargs):
        if mode == "exec" and not args and not kwargs and is_user_file(filename):
            try:
                return real_compile(instrument(source, filename), filename, mode, dont_inherit=True)
            except Exception:
                pass
        return real_compile(source, filename, mode, *args, **kwargs)

    runpy_module.compile = counting_compile  # runpy compiles the main script with compile()


def counts():
    """[[kind, file, line, name or end line, count], ...] for the counters that moved."""
    return [site + [n] for site, n in zip(_sites, _counts) if n]


def instrument(source, filename):
    tree = ast.parse(source, filename)
    _Counting(filename).visit(tree)
    return ast.fix_missing_locations(tree)


class _Counting(ast.NodeTransformer):
    def __init__(self, filename):
        self.filename = filename

    def _counter(self, site, anchor):
        _sites.append(site)
        _counts.append(0)
        target = ast.Subscript(value=ast.Name(id=COUNTER, ctx=ast.Load()),
                               slice=ast.Constant(value=len(_counts) - 1), ctx=ast.Store())
        node = ast.AugAssign(target=target, op=ast.Add(), value=ast.Constant(value=1))
        return ast.copy_location(node, anchor)

    def _function(self, node):
        self.generic_visit(node)
        first = min([node.lineno] + [d.lineno for d in node.decorator_list])
        at = 1 if _docstring(node.body) else 0
        anchor = node.body[at] if at < len(node.body) else node.body[0]
        node.body.insert(at, self._counter(["def", self.filename, first, node.name], anchor))
        return node

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def _loop(self, node):
        self.generic_visit(node)
        if _calls_in(node.body):
            end = max(getattr(n, "end_lineno", None) or n.lineno for n in node.body)
            node.body.insert(0, self._counter(["loop", self.filename, node.body[0].lineno, end],
                                              node.body[0]))
        return node

    visit_For = _loop
    visit_AsyncFor = _loop
    visit_While = _loop


def _docstring(body):
    first = body[0] if body else None
    return (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str))


def _calls_in(statements):
    """Whether these statements make a call themselves (not in nested functions)."""
    stack = list(statements)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Call):
            return True
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        stack.extend(ast.iter_child_nodes(node))
    return False


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
            tree = instrument(data, path)
        except SyntaxError:
            tree = data
        return compile(tree, path, "exec", dont_inherit=True, optimize=_optimize)


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
