"""What a native (C-level) callable does with its time: wait, or compute with or without the GIL.

Profilers see native callables by name only (cProfile: ``<built-in method time.sleep>``,
normalised here to ``time.sleep``). This table says what each one is. Patterns are
``fnmatch`` globs over the normalised name; the first match wins. A callable that is not
here is classified from what was measured (its wall time against the thread's CPU time),
never from its name. Adding one is one line: pattern, category, family, why.

Families group callables the advice talks about: a ``socket`` wait has async clients,
a ``file`` wait has none in the standard library, and so on (see ``FAMILIES``).
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from functools import lru_cache

IO_WAIT = "io_wait"
CPU_GIL = "cpu_gil"
CPU_NOGIL = "cpu_nogil"
OTHER = "other"
CATEGORIES = (IO_WAIT, CPU_GIL, CPU_NOGIL, OTHER)
# Not a category of its own: a system call that releases the GIL and either waits (disk,
# pipe) or burns kernel CPU (page cache copies). Which one is settled from the thread's
# CPU clock; the waiting part is io_wait, the CPU part cpu_nogil.
SYSCALL = "syscall"


@dataclass(frozen=True)
class NativeKind:
    """One catalog entry: what a native callable is."""

    pattern: str
    category: str
    family: str
    why: str
    # Below this many seconds per call the callable holds the GIL after all (hashlib
    # only releases it for buffers over 2 KiB), so short calls count as cpu_gil.
    nogil_min_call_seconds: float = 0.0


CATALOG: tuple[NativeKind, ...] = (
    # --- waiting ---------------------------------------------------------------------
    NativeKind("time.sleep", IO_WAIT, "sleep", "the thread sleeps; no CPU, GIL released"),
    NativeKind("_socket.socket.recv*", IO_WAIT, "socket", "blocks until the peer sends"),
    NativeKind("_socket.socket.send*", IO_WAIT, "socket", "blocks while the send buffer is full"),
    NativeKind("_socket.socket.accept", IO_WAIT, "socket", "blocks until a client connects"),
    NativeKind("_socket.socket._accept", IO_WAIT, "socket", "blocks until a client connects"),
    NativeKind("_socket.socket.connect*", IO_WAIT, "socket", "waits for the TCP handshake"),
    NativeKind("_socket.getaddrinfo", IO_WAIT, "socket", "name resolution may query DNS"),
    NativeKind("_socket.gethostbyname*", IO_WAIT, "socket", "name resolution may query DNS"),
    NativeKind("_ssl._SSLSocket.read", IO_WAIT, "socket", "TLS read waits for the peer"),
    NativeKind("_ssl._SSLSocket.write", IO_WAIT, "socket", "TLS write waits for the peer"),
    NativeKind("_ssl._SSLSocket.do_handshake", IO_WAIT, "socket", "TLS handshake round trips"),
    NativeKind("select.select", IO_WAIT, "select", "waits for file descriptors to be ready"),
    NativeKind("select.poll.poll", IO_WAIT, "select", "waits for file descriptors to be ready"),
    NativeKind("select.epoll.poll", IO_WAIT, "select", "waits for file descriptors (event loops)"),
    NativeKind("select.kqueue.control", IO_WAIT, "select", "waits for events (event loops)"),
    NativeKind("posix.waitpid", IO_WAIT, "subprocess", "waits for a child process to end"),
    NativeKind("posix.wait*", IO_WAIT, "subprocess", "waits for a child process to end"),
    NativeKind("posix.read", SYSCALL, "pipe", "reads a pipe or file; waits for data or copies it"),
    NativeKind("posix.readv", SYSCALL, "file", "reads a file descriptor"),
    NativeKind("posix.pread*", SYSCALL, "file", "reads a file at an offset; may wait for the disk"),
    NativeKind("posix.write", SYSCALL, "pipe", "writes a pipe or file descriptor"),
    NativeKind("posix.pwrite*", SYSCALL, "file", "writes a file at an offset"),
    NativeKind("posix.open", SYSCALL, "file", "opening a file may wait for the disk"),
    NativeKind("posix.stat", SYSCALL, "file", "file metadata may wait for the disk"),
    NativeKind("posix.lstat", SYSCALL, "file", "file metadata may wait for the disk"),
    NativeKind("posix.fstat", SYSCALL, "file", "file metadata"),
    NativeKind("posix.scandir", SYSCALL, "file", "lists a folder; may wait for the disk"),
    NativeKind("posix.listdir", SYSCALL, "file", "lists a folder; may wait for the disk"),
    NativeKind("posix.unlink", SYSCALL, "file", "removes a file; may wait for the disk"),
    NativeKind("posix.remove", SYSCALL, "file", "removes a file; may wait for the disk"),
    NativeKind("posix.rmdir", SYSCALL, "file", "removes a folder"),
    NativeKind("posix.rename", SYSCALL, "file", "renames a file"),
    NativeKind("posix.replace", SYSCALL, "file", "renames a file"),
    NativeKind("posix.mkdir", SYSCALL, "file", "creates a folder"),
    NativeKind("posix.sync", IO_WAIT, "file", "waits for every dirty page to reach the disk"),
    NativeKind("posix.fsync", IO_WAIT, "file", "waits for the disk to confirm the write"),
    NativeKind("posix.fdatasync", IO_WAIT, "file", "waits for the disk to confirm the write"),
    NativeKind("_posixsubprocess.fork_exec", IO_WAIT, "subprocess", "starts a child process"),
    NativeKind("_thread.lock.acquire", IO_WAIT, "lock", "waits for another thread to release"),
    NativeKind("_thread.RLock.acquire", IO_WAIT, "lock", "waits for another thread to release"),
    NativeKind("_thread.lock.__enter__", IO_WAIT, "lock", "waits for another thread to release"),
    NativeKind("_thread.RLock.__enter__", IO_WAIT, "lock", "waits for another thread to release"),
    NativeKind("_queue.SimpleQueue.get", IO_WAIT, "queue", "waits for a producer"),
    NativeKind("_io.BufferedReader.read*", SYSCALL, "file", "file or pipe read, may wait for the disk"),
    NativeKind("_io.FileIO.read*", SYSCALL, "file", "file read, may wait for the disk"),
    NativeKind("_io.TextIOWrapper.read*", SYSCALL, "file", "file read, may wait for the disk"),
    NativeKind("_io.BufferedWriter.write", SYSCALL, "file", "file write to the kernel"),
    NativeKind("_io.BufferedWriter.flush", SYSCALL, "file", "file write to the kernel"),
    NativeKind("_io.TextIOWrapper.write", SYSCALL, "file", "file write to the kernel"),
    NativeKind("_io.open", SYSCALL, "file", "opening a file may wait for the disk"),
    NativeKind("io.open", SYSCALL, "file", "opening a file may wait for the disk"),
    NativeKind("builtins.input", IO_WAIT, "stdin", "waits for the user"),
    # sqlite3 runs the query with the GIL released: GIL-free CPU over data in memory or the
    # page cache, a wait for the disk otherwise; the thread's CPU clock settles which.
    # cProfile names the classes ``sqlite3.Cursor``, samplers' source index ``_sqlite3``.
    NativeKind("*sqlite3.Connection.commit", IO_WAIT, "database", "waits for the disk"),
    NativeKind("*sqlite3.*execute*", SYSCALL, "database", "runs the query without the GIL: CPU or disk"),
    NativeKind("*sqlite3.Cursor.fetch*", SYSCALL, "database", "steps the query without the GIL: CPU or disk"),
    # --- native CPU that releases the GIL -------------------------------------------------
    NativeKind("_hashlib.*", CPU_NOGIL, "hash", "OpenSSL hashing releases the GIL over 2 KiB", 5e-6),
    NativeKind("_sha*.*", CPU_NOGIL, "hash", "builtin hashes release the GIL over 2 KiB", 5e-6),
    NativeKind("_md5.*", CPU_NOGIL, "hash", "builtin md5 releases the GIL over 2 KiB", 5e-6),
    NativeKind("_blake2.*", CPU_NOGIL, "hash", "blake2 releases the GIL over 2 KiB", 5e-6),
    NativeKind("zlib.*", CPU_NOGIL, "compress", "zlib releases the GIL while (de)compressing", 5e-6),
    NativeKind("_bz2.*", CPU_NOGIL, "compress", "bz2 releases the GIL while (de)compressing", 5e-6),
    NativeKind("_lzma.*", CPU_NOGIL, "compress", "lzma releases the GIL while (de)compressing", 5e-6),
    NativeKind("numpy.*", CPU_NOGIL, "numpy", "numpy kernels release the GIL on large arrays", 5e-5),
    NativeKind("_ssl.*", CPU_NOGIL, "crypto", "OpenSSL releases the GIL"),
    # --- native CPU that keeps the GIL ----------------------------------------------------
    NativeKind("_json.*", CPU_GIL, "json", "the json accelerator keeps the GIL"),
    NativeKind("_pickle.*", CPU_GIL, "pickle", "pickle keeps the GIL"),
    NativeKind("_sre.*", CPU_GIL, "re", "regular expressions keep the GIL"),
    NativeKind("re.Pattern.*", CPU_GIL, "re", "regular expressions keep the GIL"),
    NativeKind("builtins.sorted", CPU_GIL, "sort", "sorting compares Python objects"),
    NativeKind("builtins.list.sort", CPU_GIL, "sort", "sorting compares Python objects"),
    NativeKind("builtins.compile", CPU_GIL, "compile", "compiling Python source"),
    NativeKind("builtins.exec", CPU_GIL, "compile", "runs Python code"),
    NativeKind("marshal.*", CPU_GIL, "pickle", "marshal keeps the GIL"),
    NativeKind("_struct.*", CPU_GIL, "struct", "struct packing keeps the GIL"),
    NativeKind("builtins.*", CPU_GIL, "builtin", "builtins run with the GIL held"),
    NativeKind("math.*", CPU_GIL, "builtin", "math functions keep the GIL"),
    NativeKind("_collections.*", CPU_GIL, "builtin", "containers keep the GIL"),
    NativeKind("_functools.*", CPU_GIL, "builtin", "functools keeps the GIL"),
    NativeKind("itertools.*", CPU_GIL, "builtin", "itertools keeps the GIL"),
    NativeKind("_operator.*", CPU_GIL, "builtin", "operator keeps the GIL"),
    NativeKind("_heapq.*", CPU_GIL, "builtin", "heapq keeps the GIL"),
    NativeKind("_bisect.*", CPU_GIL, "builtin", "bisect keeps the GIL"),
    NativeKind("_random.*", CPU_GIL, "builtin", "random keeps the GIL"),
    NativeKind("_csv.*", CPU_GIL, "builtin", "csv parsing keeps the GIL"),
    NativeKind("unicodedata.*", CPU_GIL, "builtin", "keeps the GIL"),
)

# Families of waits that another thread of the same process ends (a lock it releases, a
# queue it feeds): not a wait on anything outside the program.
IN_PROCESS_WAIT_FAMILIES = ("lock", "queue")

# What the advice can say about each family of waits.
FAMILIES: dict[str, dict[str, str]] = {
    "sleep": {"async_api": "await asyncio.sleep(...)", "blocking_library": "no"},
    "socket": {"async_api": "asyncio streams or an async client (aiohttp, httpx.AsyncClient)",
               "blocking_library": "no"},
    "select": {"async_api": "the event loop itself", "blocking_library": "no"},
    "subprocess": {"async_api": "asyncio.create_subprocess_exec", "blocking_library": "yes"},
    "pipe": {"async_api": "asyncio.create_subprocess_exec / loop.connect_read_pipe",
             "blocking_library": "yes"},
    "file": {"async_api": "none in the standard library (asyncio.to_thread)",
             "blocking_library": "yes"},
    "lock": {"async_api": "asyncio.Lock / asyncio.Queue", "blocking_library": "yes"},
    "queue": {"async_api": "asyncio.Queue", "blocking_library": "yes"},
    "stdin": {"async_api": "loop.connect_read_pipe", "blocking_library": "yes"},
    "database": {"async_api": "an async driver (aiosqlite, asyncpg)", "blocking_library": "yes"},
}

# Python-level libraries that wrap socket waits in a blocking API: when the waits come
# through them, the cheapest change is threads (or asyncio.to_thread), not a rewrite.
BLOCKING_LIBRARIES: dict[str, str] = {
    "urllib": "urllib.request is blocking (httpx.AsyncClient or aiohttp are async)",
    "http": "http.client is blocking",
    "requests": "requests is blocking (httpx.AsyncClient or aiohttp are async)",
    "urllib3": "urllib3 is blocking",
    "subprocess": "subprocess is blocking (asyncio.create_subprocess_exec is async)",
    "ftplib": "ftplib is blocking",
    "smtplib": "smtplib is blocking",
    "sqlite3": "sqlite3 is blocking (aiosqlite wraps it in a thread)",
    "psycopg2": "psycopg2 is blocking (asyncpg, psycopg 3 async are async)",
    "pymysql": "pymysql is blocking (aiomysql is async)",
    "redis": "redis-py's default client is blocking (redis.asyncio is async)",
    "boto3": "boto3 is blocking (aioboto3 is async)",
    "botocore": "botocore is blocking",
    "shutil": "file copies are blocking",
}


@lru_cache(maxsize=65536)
def lookup(name: str) -> NativeKind | None:
    """The catalog entry for a normalised native name, or None when unknown."""
    for kind in CATALOG:
        if fnmatch.fnmatchcase(name, kind.pattern):
            return kind
    return None


def _core_types() -> frozenset:
    """The interpreter's own types, which cProfile names without a module (``dict``,
    ``generator``). A library's C type with no module in its name (Pillow's
    ``ImagingCore``) is not one of them: the catalog's ``builtins.*`` must not answer for it."""
    import builtins
    import types

    names = {name for name, value in vars(builtins).items() if isinstance(value, type)}
    names |= {value.__name__ for value in vars(types).values() if isinstance(value, type)}
    names |= {type(v).__name__ for v in ({}.keys(), {}.values(), {}.items(), iter([]), iter(()),
                                          iter(""), iter({}), iter(set()), iter(range(1)), iter(b""))}
    return frozenset(names)


CORE_TYPES = _core_types()


def normalise_cprofile_name(raw: str) -> str:
    """``<built-in method time.sleep>`` -> ``time.sleep``;
    ``<method 'recv_into' of '_socket.socket' objects>`` -> ``_socket.socket.recv_into``."""
    text = raw.strip("{}<>")
    if text.startswith("built-in method "):
        name = text[len("built-in method "):]
        return name if "." in name else "builtins." + name
    if text.startswith("method '") and "' of '" in text:
        method, _, rest = text[len("method '"):].partition("' of '")
        owner = rest.split("'", 1)[0]
        owner = owner if "." in owner or owner not in CORE_TYPES else "builtins." + owner
        return f"{owner}.{method}"
    return text
