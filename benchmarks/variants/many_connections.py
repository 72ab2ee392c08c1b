"""Hand-written asyncio variant of sample_apps/many_connections.py.

Same server and same request/reply protocol; each lookup is a coroutine
using ``asyncio.open_connection``, and all 200 run concurrently under
``asyncio.gather`` on one event loop.
"""

import asyncio
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sample_apps"))

from many_connections import N_KEYS, start_server, stop_server  # noqa: E402


async def lookup(address, key):
    reader, writer = await asyncio.open_connection(*address)
    try:
        writer.write(f"{key}\n".encode())
        await writer.drain()
        data = await reader.readline()
    finally:
        writer.close()
        await writer.wait_closed()
    return int(data.split(b"=")[1])


async def lookup_all(address):
    return await asyncio.gather(*(lookup(address, f"user:{i}") for i in range(N_KEYS)))


def main():
    server, address = start_server()
    try:
        start = time.perf_counter()
        total = sum(asyncio.run(lookup_all(address)))
        elapsed = time.perf_counter() - start
    finally:
        stop_server(server)
    print(f"many_connections[asyncio]: {N_KEYS} lookups over {N_KEYS} connections, checksum {total}, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
