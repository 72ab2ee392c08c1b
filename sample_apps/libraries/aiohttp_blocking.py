"""Price a batch of orders with aiohttp, but look up exchange rates with requests: a blocked loop.

The program starts its own "remote" pricing service on 127.0.0.1: an
``aiohttp.web`` application in a background thread with its own event loop,
with two endpoints: ``/quote/{n}`` answers after 30 ms with a JSON quote, and
``/rate/{n}`` (the exchange-rate lookup) answers after 50 ms.  The client runs
one ``price_order`` coroutine per order under ``asyncio.gather`` (an
``aiohttp.ClientSession``, 20 connections): each awaits its quote with
aiohttp, then fetches its exchange rate with ``requests.get``, a blocking
call made inside the coroutine, once per order.  ``asyncio.run`` is called
once.

Right model: asyncio, used properly.  The quotes overlap, but every
``requests.get`` freezes the whole event loop for its 50 ms, so the 30 rate
lookups run one after another (io_wait, in the loop's thread).  Moving the
call to ``await asyncio.to_thread(requests.get, ...)`` (or fetching the rate
with the aiohttp session too) lets them overlap; nothing here needs more CPU.

Measured on this 2-core machine (``python -m benchmarks libraries``: wall of
the whole ``python`` command, best of 3): as written 2.05 s; aiohttp for the
rates 0.54 s = 3.8x; asyncio.to_thread 0.74 s = 2.8x (the default executor has
6 threads here); threads (16 workers, requests) 0.56 s = 3.6x; processes (2 x
the original loop) 1.40 s = 1.5x; sequential (none) 2.98 s = 0.69x.
"""

import asyncio
import json
import threading
import time
import zlib

import aiohttp
import requests
from aiohttp import web

QUOTE_LATENCY_S = 0.030
RATE_LATENCY_S = 0.050
N_ORDERS = 30
CONNECTIONS = 20
CURRENCIES = ("EUR", "GBP", "JPY", "CHF", "SEK")


async def quote_handler(request):
    n = int(request.match_info["n"])
    await asyncio.sleep(QUOTE_LATENCY_S)
    lines = [{"sku": f"S{(n * 11 + i) % 700}", "qty": 1 + (n + i) % 6, "unit": round(5 + (n * 17 + i) % 90 / 4, 2)}
             for i in range(12)]
    return web.json_response({"order": n, "currency": CURRENCIES[n % len(CURRENCIES)], "lines": lines})


async def rate_handler(request):
    n = int(request.match_info["n"])
    await asyncio.sleep(RATE_LATENCY_S)
    return web.json_response({"currency": CURRENCIES[n % len(CURRENCIES)], "rate": round(0.5 + (n % 7) / 10, 3)})


def start_server():
    """Start the pricing service in a background thread; return (server, base_url)."""
    ready = threading.Event()
    state = {}

    def serve():
        loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_get("/quote/{n}", quote_handler)
        app.router.add_get("/rate/{n}", rate_handler)
        runner = web.AppRunner(app, access_log=None)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=256)
        loop.run_until_complete(site.start())
        state.update(loop=loop, port=runner.addresses[0][1])
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait()
    return (state["loop"], thread), f"http://127.0.0.1:{state['port']}"


def stop_server(server):
    loop, thread = server
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)


def price(quote, rate):
    """(order, price in cents, crc32) of one priced order."""
    total = sum(line["qty"] * line["unit"] for line in quote["lines"]) * rate["rate"]
    cents = round(total * 100)
    return quote["order"], cents, zlib.crc32(json.dumps([quote, rate], sort_keys=True).encode())


async def price_order(session, base_url, n):
    async with session.get(f"{base_url}/quote/{n}") as response:
        response.raise_for_status()
        quote = await response.json()
    rate = requests.get(f"{base_url}/rate/{n}", timeout=10)  # blocks the event loop for ~50 ms
    rate.raise_for_status()
    return price(quote, rate.json())


async def price_all(base_url, orders, connections=CONNECTIONS):
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
        return await asyncio.gather(*(price_order(session, base_url, n) for n in orders))


def summarize(results):
    crc = 0
    for r in results:
        crc = zlib.crc32(r[2].to_bytes(4, "little"), crc)
    return f"{len(results)} orders, total {sum(r[1] for r in results)} cents, crc {crc:08x}"


def main():
    server, base_url = start_server()
    try:
        start = time.perf_counter()
        results = asyncio.run(price_all(base_url, range(N_ORDERS)))
        elapsed = time.perf_counter() - start
    finally:
        stop_server(server)
    print(f"aiohttp_blocking: {summarize(results)}, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
