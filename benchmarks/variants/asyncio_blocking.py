"""Hand-written asyncio variant of sample_apps/asyncio_blocking.py (the bug fixed).

Same services, same ``read_status(name, attempt)``, same pause length; the
pause is ``await asyncio.sleep(...)`` instead of ``time.sleep(...)``, so the
8 pollers really run concurrently on the event loop.
"""

import asyncio
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sample_apps"))

from asyncio_blocking import N_SERVICES, POLL_INTERVAL_S, POLLS_PER_SERVICE, read_status  # noqa: E402


async def poll_service(name):
    healthy = 0
    for attempt in range(POLLS_PER_SERVICE):
        ok, _passed, _etag = read_status(name, attempt)
        healthy += ok
        await asyncio.sleep(POLL_INTERVAL_S)  # yields to the other pollers
    return healthy


async def poll_all(names):
    return await asyncio.gather(*(poll_service(name) for name in names))


def main():
    names = [f"svc-{i}" for i in range(N_SERVICES)]
    start = time.perf_counter()
    results = asyncio.run(poll_all(names))
    elapsed = time.perf_counter() - start
    print(f"asyncio_blocking[asyncio]: {len(names)} services, {sum(results)}/"
          f"{len(names) * POLLS_PER_SERVICE} healthy polls, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
