"""Run a batch of reporting queries against a SQLite file, one after another.

The program first builds a sales database in a temporary folder (one table,
200 000 rows, with ``executemany``), then runs one aggregate report per job:
each job opens its own connection and runs a GROUP BY over the whole table
(revenue and order count per region and product for a range of days,
filtered and ordered), then totals the rows it gets back.  The jobs run in a
plain ``for`` loop.

Right model: threads.  Once the database is built, the time is SQLite's C
code stepping through the table, and Python's sqlite3 module releases the GIL
while SQLite works (cpu_nogil); each job has its own connection, so a
ThreadPoolExecutor with one worker per core runs two reports at once.  The
one-time build (Python making 200 000 tuples, SQLite inserting them) stays
serial in every variant.

Measured on this 2-core machine (``python -m benchmarks libraries``: wall of
the whole ``python`` command, best of 3): as written 2.38 s; threads (2
workers) 1.67 s = 1.43x; processes (2 workers) 1.89 s = 1.26x.
"""

import os
import sqlite3
import tempfile
import time
import zlib

N_ROWS = 200_000
N_REPORTS = 24
REGIONS = ("north", "south", "east", "west", "central")


def build_database(folder):
    """Create sales.db in ``folder``; return its path."""
    path = os.path.join(folder, "sales.db")
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE sales (id INTEGER PRIMARY KEY, day INTEGER, region TEXT, "
                   "product TEXT, quantity INTEGER, price REAL)")
        db.executemany("INSERT INTO sales VALUES (?, ?, ?, ?, ?, ?)",
                       ((i, i % 365, REGIONS[i % 5], f"p{(i * 7) % 150:03d}", 1 + i % 9,
                         round(((i * 31) % 1000) / 10, 2)) for i in range(N_ROWS)))
    db.close()
    return path


REPORT = """
SELECT region, product, SUM(quantity * price) AS revenue, COUNT(*) AS orders, AVG(quantity)
FROM sales
WHERE day BETWEEN ? AND ? AND price > ?
GROUP BY region, product
HAVING orders > 2
ORDER BY revenue DESC
"""


def report(path, job):
    """One job: (job, groups, total revenue, crc of the top rows) for a window of days."""
    first = (job * 23) % 200
    db = sqlite3.connect(path)
    try:
        rows = db.execute(REPORT, (first, first + 160, job % 5)).fetchall()
    finally:
        db.close()
    revenue = round(sum(row[2] for row in rows), 2)
    top = ";".join(f"{r[0]}/{r[1]}" for r in rows[:5])
    return job, len(rows), revenue, zlib.crc32(top.encode())


def summarize(results):
    crc = 0
    for r in results:
        crc = zlib.crc32(r[3].to_bytes(4, "little"), crc)
    return (f"{len(results)} reports, {sum(r[1] for r in results)} groups, "
            f"revenue {sum(r[2] for r in results):.2f}, crc {crc:08x}")


def main():
    with tempfile.TemporaryDirectory() as folder:
        path = build_database(folder)
        start = time.perf_counter()
        results = [report(path, job) for job in range(N_REPORTS)]
        elapsed = time.perf_counter() - start
    print(f"sqlite_query: {summarize(results)}, queries {elapsed:.2f}s")


if __name__ == "__main__":
    main()
