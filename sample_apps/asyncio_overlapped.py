"""A well-written asyncio client that already overlaps all of its waits.

The program starts a loopback quote service (``asyncio.start_server`` on
127.0.0.1, ephemeral port, running its own event loop in a daemon thread).
The service's handler answers each request line after ``await
asyncio.sleep(0.25)``, like a slow upstream.  The client side opens 30
connections with ``asyncio.open_connection`` and runs one
``fetch_quotes(client_id, ...)`` coroutine per connection under
``asyncio.gather``; each coroutine sends 5 requests one after another on
its connection.

Every wait is an ``await`` on a socket, nothing blocks the event loop, and
all 30 connections wait at the same time: the run takes ~5 x 0.25 s, not
30 x 5 x 0.25 s.  The program is already asyncio, used correctly, and there
is nothing left to overlap; the advice is to keep the asyncio model.

Expected model: asyncio
Dominant category: io_wait
"""

import asyncio
import threading
import time

N_CLIENTS = 30
REQUESTS_PER_CLIENT = 5
SERVICE_DELAY_S = 0.25


async def handle_client(reader, writer):
    """Server side: answer each 'QUOTE <symbol>' line after a delay."""
    try:
        while True:
            line = await reader.readline()
            if not line or line.strip() == b"QUIT":
                break
            symbol = line.split()[1].decode()
            await asyncio.sleep(SERVICE_DELAY_S)  # the slow upstream (server side)
            price = sum(map(ord, symbol)) % 500 + 0.25
            writer.write(f"{symbol} {price:.2f}\n".encode())
            await writer.drain()
    finally:
        writer.close()


def start_server():
    """Run the quote service in a daemon thread; return (loop, server, port)."""
    ready = threading.Event()
    box = {}

    def run():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(asyncio.start_server(handle_client, "127.0.0.1", 0))
        box.update(loop=loop, server=server, port=server.sockets[0].getsockname()[1])
        ready.set()
        loop.run_forever()

    threading.Thread(target=run, daemon=True).start()
    ready.wait()
    return box["loop"], box["server"], box["port"]


def stop_server(loop, server):
    async def close():
        server.close()
        await server.wait_closed()

    asyncio.run_coroutine_threadsafe(close(), loop).result(timeout=5)
    loop.call_soon_threadsafe(loop.stop)


async def fetch_quotes(client_id, host, port):
    """One client: open a connection and ask for REQUESTS_PER_CLIENT quotes."""
    reader, writer = await asyncio.open_connection(host, port)
    total = 0.0
    try:
        for k in range(REQUESTS_PER_CLIENT):
            writer.write(f"QUOTE SYM{client_id:02d}{k}\n".encode())
            await writer.drain()
            reply = await reader.readline()
            total += float(reply.split()[1])
        writer.write(b"QUIT\n")
        await writer.drain()
    finally:
        writer.close()
        await writer.wait_closed()
    return total


async def run_clients(host, port):
    return await asyncio.gather(*(fetch_quotes(i, host, port) for i in range(N_CLIENTS)))


def main():
    loop, server, port = start_server()
    try:
        start = time.perf_counter()
        totals = asyncio.run(run_clients("127.0.0.1", port))
        elapsed = time.perf_counter() - start
    finally:
        stop_server(loop, server)
    print(f"asyncio_overlapped: {N_CLIENTS} clients x {REQUESTS_PER_CLIENT} requests, "
          f"sum {sum(totals):.2f}, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
