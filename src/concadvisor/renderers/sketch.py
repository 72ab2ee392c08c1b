"""Before/after sketches for the recommended model, at the user's own lines.

The profile says which loop drives the repeated unit of work (``loop_location``) and
which call inside it waits or computes (``unit``). This module reads that loop from the
user's file and rewrites it with the user's own names: the unit mapped over the loop's
items by a ``ThreadPoolExecutor``, a ``ProcessPoolExecutor`` (with a chunk size), an
``asyncio.gather`` (``to_thread`` or ``await asyncio.sleep``), or an event loop that
awaits the waits and hands the CPU part to a process pool. The rewrite is a sketch to
adapt, not a patch: when the loop has a shape it doesn't know, it falls back to a
generic sketch that still uses the user's function names.

A blocking call inside a coroutine gets its own one-line sketch: that line, fixed.
"""
from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass

MAX_BEFORE_LINES = 14
THREAD_LANES = 32
_IDENT = re.compile(r"[^A-Za-z0-9_]")


@dataclass
class Sketch:
    title: str
    location: str       # file:line-line of the code shown as "before"
    before: str
    after: str
    note: str = ""


# ---------------------------------------------------------------- reading the user's code

@dataclass
class Loop:
    """A ``for`` loop in the user's file, with what the rewrite needs of it."""

    path: str
    node: ast.For
    text: str            # the loop as written, dedented
    target: str          # ``url`` or ``i, url``
    iterable: str
    body: list[str]      # each top-level statement of the body, dedented source
    statements: list[ast.stmt]


def split_location(location: str) -> tuple[str, int]:
    path, _, line = str(location or "").rpartition(":")
    try:
        return path, int(line)
    except ValueError:
        return "", 0


def _source(path: str) -> str | None:
    from ..sourcelines import read_source

    return read_source(path)


def read_lines(location: str, context: int = 0) -> tuple[str, str]:
    """The source line(s) at ``file:line`` (dedented) and the ``file:a-b`` they came from."""
    path, line = split_location(location)
    text = _source(path)
    if text is None or line <= 0:
        return "", ""
    lines = text.splitlines()
    if line > len(lines):
        return "", ""
    first, last = max(1, line - context), min(len(lines), line + context)
    block = textwrap.dedent("\n".join(lines[first - 1:last]))
    return block, f"{path}:{first}" if first == last else f"{path}:{first}-{last}"


def find_loop(location: str) -> Loop | None:
    """The innermost ``for`` loop whose lines include ``file:line``."""
    path, line = split_location(location)
    text = _source(path)
    if text is None or line <= 0:
        return None
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    best = None
    for node in ast.walk(tree):
        if isinstance(node, ast.For) and node.lineno <= line <= (node.end_lineno or node.lineno):
            if best is None or node.lineno >= best.lineno:
                best = node
    if best is None or best.orelse:
        return None
    lines = text.splitlines()
    block = textwrap.dedent("\n".join(lines[best.lineno - 1:best.end_lineno]))
    body = [textwrap.dedent(_segment(lines, stmt)) for stmt in best.body]
    return Loop(path, best, block, _target_text(best.target), ast.unparse(best.iter), body, list(best.body))


def _target_text(target: ast.AST) -> str:
    """``i, url`` (no parentheses) for a tuple target, the name otherwise."""
    if isinstance(target, ast.Tuple):
        return ", ".join(ast.unparse(e) for e in target.elts)
    return ast.unparse(target)


def _segment(lines: list[str], node: ast.AST) -> str:
    """A statement's own lines, comments and all (what the user wrote, not a re-print)."""
    return "\n".join(lines[node.lineno - 1:node.end_lineno])


def _call_named(node: ast.AST, name: str) -> ast.Call | None:
    for child in ast.walk(node):
        if isinstance(child, ast.Call):
            func = child.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called == name:
                return child
    return None


def _names_used(statements, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for s in statements for n in ast.walk(s))


# ---------------------------------------------------------------- the loop rewrite

@dataclass
class Mapped:
    """The unit's call inside the loop, as ``pool.map`` and friends need it."""

    statement: int         # index of the body statement that calls the unit
    function: str          # what to map: the unit itself, or a small helper
    helper: str            # a module-level helper def (when the call isn't unit(item))
    result: str            # the name (or tuple) the result is bound to in the loop
    replaced: str          # the statement with the call replaced by ``result`` ("" if dropped)


def map_unit(loop: Loop, unit: str, result_name: str = "result", processes: bool = False) -> Mapped | None:
    """How the loop's call of ``unit`` becomes one element of a mapped iterable.

    ``unit(item)`` maps as it is. Otherwise a worker process needs something picklable:
    ``functools.partial`` when the item is the last positional argument, else a helper at
    module level; a thread or a task can use a small helper right beside the loop.
    """
    for index, stmt in enumerate(loop.statements):
        call = _call_named(stmt, unit)
        if call is None:
            continue
        callee = ast.unparse(call.func)
        target_is_name = isinstance(loop.node.target, ast.Name)
        simple = (target_is_name and len(call.args) == 1 and not call.keywords
                  and isinstance(call.args[0], ast.Name) and call.args[0].id == loop.target)
        helper, function = "", callee
        fixed = call.args[:-1]
        partial = (processes and target_is_name and call.args and isinstance(call.args[-1], ast.Name)
                   and call.args[-1].id == loop.target
                   and not _names_used([ast.Expr(a) for a in fixed] + [ast.Expr(k.value) for k in call.keywords],
                                       loop.target)
                   and not any(isinstance(a, ast.Starred) for a in call.args))
        if not simple and partial:
            pieces = [callee, *map(ast.unparse, fixed), *(ast.unparse(k) for k in call.keywords)]
            function = f"functools.partial({', '.join(pieces)})"
        elif not simple:
            function = f"{_name(unit, 'work')}_one"
            param = loop.target if target_is_name else "item"
            unpack = "" if target_is_name else f"    {loop.target} = item\n"
            where = ("# module level, for the worker processes: pass in what it uses from the caller"
                     if processes else "# beside the loop")
            helper = (f"def {function}({param}):   {where}\n"
                      f"{unpack}    return {ast.unparse(call)}\n")
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and stmt.value is call:
            return Mapped(index, function, helper, ast.unparse(stmt.targets[0]).strip("()"), "")
        if isinstance(stmt, ast.Expr) and stmt.value is call:
            return Mapped(index, function, helper, "_", "")
        result = result_name if not _names_used(loop.statements, result_name) else f"{_name(unit, 'work')}_result"
        segment = ast.get_source_segment(_source(loop.path) or "", call) or ast.unparse(call)
        replaced = loop.body[index].replace(segment, result, 1)
        if replaced == loop.body[index]:
            replaced = ast.unparse(stmt).replace(ast.unparse(call), result, 1)
        return Mapped(index, function, helper, result, replaced)
    return None


def rewrite_loop(loop: Loop, mapped: Mapped, iterable: str, items: str, indent: str = "") -> str:
    """``for RESULT in ITERABLE:`` + the rest of the body, with the loop's items kept when used."""
    rest = [b for i, b in enumerate(loop.body) if i != mapped.statement]
    if mapped.replaced:
        rest.insert(mapped.statement, mapped.replaced)
    try:
        kept = [ast.parse("\n".join(rest))]
    except SyntaxError:
        kept = list(loop.statements)
    uses_item = any(_names_used(kept, n.id) for n in ast.walk(loop.node.target) if isinstance(n, ast.Name))
    result = mapped.result if "," not in mapped.result else f"({mapped.result})"
    if uses_item:
        head = f"for {_paren(loop.target)}, {result} in zip({items}, {iterable}):"
    else:
        head = f"for {mapped.result} in {iterable}:"
    body = textwrap.indent("\n".join(rest) or "pass", "    ")
    return textwrap.indent(f"{head}\n{body}", indent)


def _paren(target: str) -> str:
    return f"({target})" if "," in target else target


def items_name(loop: Loop) -> str:
    if isinstance(loop.node.target, ast.Name):
        name = loop.node.target.id
        return f"all_{name}" if name.endswith("s") else f"{name}s"
    return "items"


# ---------------------------------------------------------------- one sketch per model

def sketches_for(model: str, changes: list[dict], findings: list[dict] = (),
                 child_cores: int | None = None) -> list[Sketch]:
    """The sketches the report shows for ``model``: the loop to change, or the blocking lines.
    ``child_cores``: the waits are on child processes that compute (CPU-bound), so a pool
    running them gets no more workers than that many cores."""
    out = []
    if model in ("asyncio", "asyncio+multiprocessing"):
        out.extend(blocking_fixes(findings))
    change = _driving_change(changes, model)
    if change is not None:
        sketch = loop_sketch(model, change, changes, child_cores)
        if sketch is not None:
            out.append(sketch)
    return out


def _driving_change(changes: list[dict], model: str) -> dict | None:
    """The change whose loop repeats the unit most (what a pool or gather can spread)."""
    looped = [c for c in changes if c.get("loop_location") and int(c.get("repeats") or 0) > 1]
    if not looped:
        return None
    if model == "asyncio+multiprocessing":
        waits = [c for c in looped if c.get("category") == "io_wait"]
        return (waits or looped)[0]
    return looped[0]


def repeats_text(change: dict) -> str:
    """How often a change's unit ran: "at least N" when the call counter stopped early."""
    repeats = int(change.get("repeats") or 0)
    return f"at least {repeats}" if change.get("repeats_at_least") else str(repeats)


def loop_sketch(model: str, change: dict, changes: list[dict], child_cores: int | None = None) -> Sketch | None:
    unit = str(change.get("unit") or "")
    loop = find_loop(change.get("loop_location", ""))
    mapped = (map_unit(loop, unit, processes=model == "multiprocessing")
              if loop is not None and unit else None)
    location = _loop_location(loop) if loop else change.get("loop_location", "")
    repeats = int(change.get("repeats") or 0)
    title = f"The loop at {change.get('loop_location')} that calls {unit}() {repeats_text(change)} times"
    if loop is None or mapped is None:
        return _generic(model, change, changes, title)
    if isinstance(loop.node.iter, ast.Name):   # already a collection with a name: map over it
        items, prepare = loop.iterable, ""
    else:
        items = items_name(loop)
        prepare = f"{items} = list({loop.iterable})\n"
    helper = mapped.helper + "\n" if mapped.helper else ""
    if model == "threads":
        lanes = max(2, min(repeats, THREAD_LANES))
        why = f"one thread per {unit}(), up to {THREAD_LANES}"
        if child_cores and change.get("family") == "subprocess":
            # each job is a child process computing: more at once than cores only take turns
            lanes, why = max(1, min(repeats, child_cores)), "CPU-bound child processes: at most one per core"
        after = ("from concurrent.futures import ThreadPoolExecutor\n\n" + helper + prepare +
                 f"with ThreadPoolExecutor(max_workers={lanes}) as pool:   # {why}\n" +
                 rewrite_loop(loop, mapped, f"pool.map({mapped.function}, {items})", items, "    ") + "\n")
        note = f"`pool.map` keeps the order of `{items}`; each {unit}() waits in its own thread."
    elif model == "multiprocessing":
        imports = "import functools, os\n" if mapped.function.startswith("functools.") else "import os\n"
        after = (imports + "from concurrent.futures import ProcessPoolExecutor\n\n" + helper + prepare +
                 "workers = os.cpu_count() or 1\n"
                 f"chunksize = max(1, len({items}) // (4 * workers))   # fewer, larger hand-offs between processes\n"
                 "with ProcessPoolExecutor(max_workers=workers) as pool:\n" +
                 rewrite_loop(loop, mapped, f"pool.map({mapped.function}, {items}, chunksize=chunksize)", items, "    ")
                 + "\n")
        note = (f"{mapped.function}() and its arguments must be importable and picklable (module level); "
                "keep the pool's start behind `if __name__ == \"__main__\":`.")
    elif model == "asyncio":
        gather = f"{_name(unit, 'work')}_all"
        if change.get("family") == "sleep":
            body = (f"    # make {unit}() a coroutine (`async def`, `await asyncio.sleep(...)` where it sleeps)\n"
                    f"    return await asyncio.gather(*({mapped.function}(item) for item in items))\n")
        else:
            body = (f"    # to_thread keeps the blocking {unit}(); an async client (asyncio streams, httpx.AsyncClient)\n"
                    "    # in an `async def` version of it avoids the threads\n"
                    f"    return await asyncio.gather(*(asyncio.to_thread({mapped.function}, item) for item in items))\n")
        after = ("import asyncio\n\n" + helper + f"async def {gather}(items):\n" + body + "\n" + prepare +
                 rewrite_loop(loop, mapped, f"asyncio.run({gather}({items}))", items) + "\n")
        note = "`asyncio.gather` returns the results in the order of the items."
    elif model == "asyncio+multiprocessing":
        after = _mix_after(loop, change, changes, items, prepare)
        if after is None:   # no CPU call of its own in this loop: the waits are what to change here
            return loop_sketch("asyncio", change, changes)
        note = ("The waits overlap on the event loop; the CPU part runs in worker processes, "
                "so neither holds up the other.")
    else:
        return None
    return Sketch(title, location, loop.text, after, note)


def _mix_after(loop: Loop, change: dict, changes: list[dict], items: str, prepare: str) -> str | None:
    """Wait with asyncio, compute in a process pool: both calls from the same loop."""
    wait_unit = str(change.get("unit") or "")
    cpu = [c for c in changes if c.get("category") in ("cpu_gil", "cpu_nogil") and c.get("unit") != wait_unit]
    if not cpu:
        return None
    cpu_unit = str(cpu[0].get("unit") or "")
    wait_index = next((i for i, s in enumerate(loop.statements) if _call_named(s, wait_unit)), None)
    cpu_index = next((i for i, s in enumerate(loop.statements) if _call_named(s, cpu_unit)), None)
    if wait_index is None or cpu_index is None or cpu_index <= wait_index:
        return None
    wait_stmt, cpu_stmt = loop.statements[wait_index], loop.statements[cpu_index]
    if not all(isinstance(s, ast.Assign) and isinstance(s.value, ast.Call) and len(s.targets) == 1
               for s in (wait_stmt, cpu_stmt)):
        return None
    wait_call, cpu_call = wait_stmt.value, cpu_stmt.value
    target = loop.target if isinstance(loop.node.target, ast.Name) else "item"
    unpack = "" if isinstance(loop.node.target, ast.Name) else f"    {loop.target} = item\n"
    wait_args = ", ".join([ast.unparse(wait_call.func), *map(ast.unparse, wait_call.args)])
    cpu_args = ", ".join([ast.unparse(cpu_call.func), *map(ast.unparse, cpu_call.args)])
    if wait_call.keywords or cpu_call.keywords:
        return None
    between = [ast.unparse(s) for s in loop.statements[wait_index + 1:cpu_index]]
    handle = (f"async def handle({target}, pool):\n{unpack}"
              f"    {ast.unparse(wait_stmt.targets[0])} = await asyncio.to_thread({wait_args})   # the wait, overlapped\n"
              + "".join(f"    {line}\n" for line in between) +
              "    loop = asyncio.get_running_loop()\n"
              f"    return await loop.run_in_executor(pool, {cpu_args})   # the CPU, in a process\n\n")
    runner = ("async def handle_all(items):\n"
              "    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:\n"
              "        return await asyncio.gather(*(handle(item, pool) for item in items))\n\n")
    rest = Loop(loop.path, loop.node, loop.text, loop.target, loop.iterable,
                [b for i, b in enumerate(loop.body) if i not in range(wait_index, cpu_index)],
                [s for i, s in enumerate(loop.statements) if i not in range(wait_index, cpu_index)])
    mapped = Mapped(wait_index, "handle", "",
                    ast.unparse(cpu_stmt.targets[0]).strip("()"), "")
    return ("import asyncio, os\nfrom concurrent.futures import ProcessPoolExecutor\n\n" + handle + runner
            + prepare + rewrite_loop(rest, mapped, f"asyncio.run(handle_all({items}))", items) + "\n")


def _generic(model: str, change: dict, changes: list[dict], title: str) -> Sketch | None:
    """When the loop can't be read (file moved, odd shape): the pattern, in the user's names."""
    unit = _name(change.get("unit"), "work")
    before, location = read_lines(change.get("loop_location", ""))
    if before and str(change.get("unit") or "?") not in before:
        return None   # the line doesn't call the unit (import machinery, or the file changed since)
    if not before:
        driver = _name(change.get("driver"), "main")
        before = f"# in {driver}():\nfor item in items:\n    result = {unit}(item)\n"
        location = change.get("loop_location", "")
    if model == "threads":
        after = ("from concurrent.futures import ThreadPoolExecutor\n\n"
                 f"with ThreadPoolExecutor(max_workers={THREAD_LANES}) as pool:\n"
                 f"    results = list(pool.map({unit}, items))\n")
    elif model == "multiprocessing":
        after = ("import os\nfrom concurrent.futures import ProcessPoolExecutor\n\n"
                 "workers = os.cpu_count() or 1\n"
                 "with ProcessPoolExecutor(max_workers=workers) as pool:\n"
                 f"    results = list(pool.map({unit}, items, chunksize=max(1, len(items) // (4 * workers))))\n")
    elif model == "asyncio":
        call = (f"{unit}(item)   # {unit} made a coroutine: await asyncio.sleep(...)"
                if change.get("family") == "sleep" else f"asyncio.to_thread({unit}, item)")
        after = ("import asyncio\n\n"
                 f"async def {unit}_all(items):\n"
                 f"    return await asyncio.gather(*({call.split('   #')[0]} for item in items))\n\n"
                 f"results = asyncio.run({unit}_all(items))\n")
    elif model == "asyncio+multiprocessing":
        cpu = [c for c in changes if c.get("category") in ("cpu_gil", "cpu_nogil")]
        cpu_unit = _name(cpu[0].get("unit") if cpu else None, "compute")
        wait_unit = unit if change.get("category") == "io_wait" else "fetch"
        after = ("import asyncio, os\nfrom concurrent.futures import ProcessPoolExecutor\n\n"
                 "async def handle(item, pool):\n"
                 f"    data = await asyncio.to_thread({wait_unit}, item)   # the wait, overlapped\n"
                 "    loop = asyncio.get_running_loop()\n"
                 f"    return await loop.run_in_executor(pool, {cpu_unit}, data)   # the CPU, in a process\n\n"
                 "async def handle_all(items):\n"
                 "    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:\n"
                 "        return await asyncio.gather(*(handle(item, pool) for item in items))\n\n"
                 "results = asyncio.run(handle_all(items))\n")
    else:
        return None
    return Sketch(title, location, before, after,
                  "A pattern to adapt: the loop could not be read from the source as profiled "
                  "(file moved or changed since the run, or a loop shape this sketch doesn't rewrite).")


def _loop_location(loop: Loop) -> str:
    first, last = loop.node.lineno, loop.node.end_lineno or loop.node.lineno
    return f"{loop.path}:{first}" if first == last else f"{loop.path}:{first}-{last}"


# ---------------------------------------------------------------- blocking calls in coroutines

BLOCKING_REWRITES = {
    "time.sleep": lambda args: f"await asyncio.sleep({args})",
}


def blocking_fixes(findings, limit: int = 3) -> list[Sketch]:
    out = []
    for finding in findings:
        if finding.get("kind") != "blocking_in_event_loop":
            continue
        sketch = blocking_fix(finding)
        if sketch is not None:
            out.append(sketch)
        if len(out) >= limit:
            break
    return out


def blocking_fix(finding: dict) -> Sketch | None:
    """The line that blocks the event loop, and the same line awaited."""
    location = str(finding.get("location") or "")
    path, line = split_location(location)
    text = _source(path)
    if text is None:
        return None
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    statement = None
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt) and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                                ast.ClassDef, ast.For, ast.While, ast.If,
                                                                ast.With, ast.Try, ast.AsyncFor, ast.AsyncWith)):
            if node.lineno <= line <= (node.end_lineno or node.lineno):
                statement = node
    if statement is None:
        return None
    function = str(finding.get("function") or "")
    short = function.rsplit(".", 1)[-1].rstrip("()")
    call = _call_named(statement, short)
    lines = text.splitlines()
    before = textwrap.dedent(_segment(lines, statement))
    indent = ""
    if call is None:
        return None
    args = ", ".join([*map(ast.unparse, call.args), *(ast.unparse(k) for k in call.keywords)])
    if function in BLOCKING_REWRITES:
        awaited = BLOCKING_REWRITES[function](args)
        fix = "`await asyncio.sleep` lets the other tasks run while this one waits."
    elif str(finding.get("fix", "")).find("run_in_executor") >= 0 and "to_thread" not in str(finding.get("fix", "")):
        awaited = (f"await asyncio.get_running_loop().run_in_executor("
                   f"process_pool, {', '.join([ast.unparse(call.func), *map(ast.unparse, call.args)])})")
        fix = "CPU work in a process pool: the loop stays free (create the pool once, at start-up)."
    else:
        awaited = f"await asyncio.to_thread({', '.join([ast.unparse(call.func), args] if args else [ast.unparse(call.func)])})"
        fix = "`asyncio.to_thread` runs the blocking call in a worker thread; an async client avoids even that."
    new = ast.unparse(statement).replace(ast.unparse(call), awaited, 1)
    after = indent + new + "\n"
    span = f"{path}:{statement.lineno}" if statement.lineno == statement.end_lineno else \
        f"{path}:{statement.lineno}-{statement.end_lineno}"
    return Sketch(f"The blocking call at {location}", span, before, after, fix)


# ---------------------------------------------------------------- Markdown

def fence(code: str) -> str:
    """A backtick fence longer than any run of backticks in ``code``."""
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    return "`" * max(3, longest + 1)


def code_block(code: str, language: str = "python") -> str:
    code = code.rstrip("\n") + "\n"
    mark = fence(code)
    return f"{mark}{language}\n{code}{mark}"


def render(sketch: Sketch) -> str:
    """Markdown for one sketch: where, before (the user's code), after (the sketch)."""
    where = sketch.location.replace("`", "'")
    parts = [f"**{_escape(sketch.title)}**", "", f"Before (`{where}`, as written):", "",
             code_block(sketch.before), "", "After (a sketch to adapt):", "", code_block(sketch.after)]
    if sketch.note:
        parts += ["", _escape(sketch.note, keep_code=True)]
    return "\n".join(parts)


def _escape(text: str, keep_code: bool = False) -> str:
    if keep_code:
        return str(text).replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_\[\]<>|~])", r"\\\1", str(text))


def _name(text, default) -> str:
    text = _IDENT.sub("_", str(text or "")).strip("_")
    return text or default
