"""Hand-written multiprocessing variant of sample_apps/json_docs.py.

Same 7 documents, same ``process_document(seed)``; each worker of a
ProcessPoolExecutor (one per core) builds and round-trips whole documents,
so only the seed and a two-number summary cross the process boundary.
"""

import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sample_apps"))

from json_docs import N_DOCUMENTS, process_document  # noqa: E402


def main():
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
        results = list(pool.map(process_document, range(N_DOCUMENTS)))
    total_bytes = sum(size for size, _ in results)
    total_orders = sum(orders for _, orders in results)
    elapsed = time.perf_counter() - start
    print(f"json_docs[multiprocessing]: {N_DOCUMENTS} documents, {total_orders} orders, "
          f"{total_bytes} JSON bytes round-tripped, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
