"""An asyncio health poller that blocks its own event loop with time.sleep.

The program polls the status of 8 services concurrently: ``main()`` runs
``asyncio.gather`` over one ``poll_service(name)`` task per service, and
each task reads the service's status document 5 times with a pause of
``POLL_INTERVAL_S`` between reads.  The pause is written as
``time.sleep(...)`` inside the coroutine: the classic asyncio bug.  A
blocking sleep freezes the whole event loop, so the 8 "concurrent" pollers
actually run one pause after another and the run takes 8 x 5 x 35 ms of
waiting instead of 5 x 35 ms.

The work is almost entirely waiting, the program is already asyncio, and the
fix is a one-liner: ``await asyncio.sleep(POLL_INTERVAL_S)`` (or
``await asyncio.to_thread(...)`` for a blocking call that cannot be
replaced).  So the right model is asyncio, used properly.

Expected model: asyncio
Dominant category: io_wait
"""

import asyncio
import hashlib
import json
import time

N_SERVICES = 8
POLLS_PER_SERVICE = 5
POLL_INTERVAL_S = 0.035


def read_status(name, attempt):
    """Produce and decode one status document for a service (light CPU work)."""
    doc = json.dumps({"service": name, "attempt": attempt, "healthy": attempt % 7 != 3,
                      "checks": [{"id": k, "ok": (k + attempt) % 5 != 0} for k in range(20)]})
    status = json.loads(doc)
    etag = hashlib.sha256(doc.encode()).hexdigest()[:12]
    return status["healthy"], sum(c["ok"] for c in status["checks"]), etag


async def poll_service(name):
    """Poll one service POLLS_PER_SERVICE times; return how many polls were healthy."""
    healthy = 0
    for attempt in range(POLLS_PER_SERVICE):
        ok, _passed, _etag = read_status(name, attempt)
        healthy += ok
        time.sleep(POLL_INTERVAL_S)  # BUG: blocks the event loop; should be await asyncio.sleep(...)
    return healthy


async def poll_all(names):
    return await asyncio.gather(*(poll_service(name) for name in names))


def main():
    names = [f"svc-{i}" for i in range(N_SERVICES)]
    start = time.perf_counter()
    results = asyncio.run(poll_all(names))
    elapsed = time.perf_counter() - start
    print(f"asyncio_blocking: {len(names)} services, {sum(results)}/"
          f"{len(names) * POLLS_PER_SERVICE} healthy polls, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
