"""A short before/after sketch for the recommended model, in the user's own names."""
from __future__ import annotations

import re

_IDENT = re.compile(r"[^A-Za-z0-9_]")


def _name(text, default) -> str:
    text = _IDENT.sub("_", str(text or "")).strip("_")
    return text or default


def sketch_for(model: str, change: dict) -> str:
    unit = _name(change.get("unit"), "work")
    driver = _name(change.get("driver"), "main")
    before = f"# before ({driver}):\nresults = [{unit}(item) for item in items]\n"
    if model == "threads":
        after = ("from concurrent.futures import ThreadPoolExecutor\n\n"
                 "with ThreadPoolExecutor(max_workers=16) as pool:\n"
                 f"    results = list(pool.map({unit}, items))\n")
    elif model == "multiprocessing":
        after = ("import os\nfrom concurrent.futures import ProcessPoolExecutor\n\n"
                 "with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:\n"
                 f"    results = list(pool.map({unit}, items, chunksize=max(1, len(items) // (4 * os.cpu_count()))))\n")
    elif model == "asyncio":
        if change.get("family") == "sleep":
            body = f"async def {unit}(item):\n    ...\n    await asyncio.sleep(delay)   # not time.sleep\n\n"
        else:
            body = (f"async def {unit}_async(item):\n"
                    f"    return await asyncio.to_thread({unit}, item)   # or an async client\n\n")
        after = ("import asyncio\n\n" + body +
                 f"async def {driver}_async(items):\n"
                 f"    return await asyncio.gather(*({unit}{'' if change.get('family') == 'sleep' else '_async'}(item) for item in items))\n\n"
                 f"results = asyncio.run({driver}_async(items))\n")
    elif model == "asyncio+multiprocessing":
        after = ("import asyncio, os\nfrom concurrent.futures import ProcessPoolExecutor\n\n"
                 "async def handle(item, pool):\n"
                 "    data = await fetch_async(item)          # the waiting part, awaited\n"
                 "    loop = asyncio.get_running_loop()\n"
                 "    return await loop.run_in_executor(pool, parse, data)   # the CPU part, in a process\n\n"
                 "async def run_all(items):\n"
                 "    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:\n"
                 "        return await asyncio.gather(*(handle(item, pool) for item in items))\n")
    else:
        return ""
    return f"```python\n{before}\n# after:\n{after}```"
