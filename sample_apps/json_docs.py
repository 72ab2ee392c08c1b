"""Serialise and re-parse several big nested JSON documents.

Simulates an export/import job: for each of 7 accounts, ``process_document``
builds a large nested order history (customers, orders, line items, tags),
serialises it with ``json.dumps``, parses the text back with ``json.loads``
and checks the round trip.  Building the document is pure Python, and the
``json`` C accelerator holds the GIL while it encodes and decodes Python
objects, so the whole run is GIL-bound CPU work with no I/O.

The documents are independent, so the work parallelises over processes:
``ProcessPoolExecutor`` over ``process_document`` (only the small seed goes
to the worker and a short summary comes back, so there is almost no pickling
cost).  Threads would just take turns on the GIL.

Expected model: multiprocessing
Dominant category: cpu_gil
"""

import json
import random
import time

N_DOCUMENTS = 7
ORDERS_PER_DOC = 2600


def build_document(seed, n_orders=ORDERS_PER_DOC):
    """Build one account's nested order history as plain dicts and lists."""
    rng = random.Random(seed)
    skus = [f"SKU-{i:05d}" for i in range(400)]
    tags = ["gift", "express", "fragile", "b2b", "promo", "repeat", "eu", "us"]
    orders = []
    for i in range(n_orders):
        items = [{"sku": rng.choice(skus),
                  "qty": rng.randint(1, 5),
                  "unit_price": round(rng.uniform(1, 200), 2),
                  "discount": {"kind": "percent", "value": rng.choice((0, 5, 10))}}
                 for _ in range(rng.randint(1, 6))]
        orders.append({
            "id": f"{seed}-{i}",
            "status": rng.choice(("open", "paid", "shipped", "returned")),
            "customer": {"name": f"customer {rng.randrange(10_000)}",
                         "address": {"city": rng.choice(("Oslo", "Lyon", "Porto")),
                                     "zip": f"{rng.randrange(99999):05d}"}},
            "tags": rng.sample(tags, 3),
            "items": items,
            "total": round(sum(it["qty"] * it["unit_price"] for it in items), 2),
        })
    return {"account": seed, "currency": "EUR", "orders": orders}


def process_document(seed):
    """Build, dump and re-load one document; return (json bytes, order count)."""
    doc = build_document(seed)
    text = json.dumps(doc, sort_keys=True)
    back = json.loads(text)
    if back["account"] != seed or len(back["orders"]) != len(doc["orders"]):
        raise ValueError("round trip mismatch")
    text2 = json.dumps(back, sort_keys=True)
    if text2 != text:
        raise ValueError("round trip is not stable")
    return len(text), len(back["orders"])


def main():
    start = time.perf_counter()
    total_bytes = total_orders = 0
    for seed in range(N_DOCUMENTS):
        size, orders = process_document(seed)
        total_bytes += size
        total_orders += orders
    elapsed = time.perf_counter() - start
    print(f"json_docs: {N_DOCUMENTS} documents, {total_orders} orders, "
          f"{total_bytes} JSON bytes round-tripped, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
