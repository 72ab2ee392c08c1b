"""Beyond one machine: when CPU still sets the pace after the change, how far more cores go.

The speedup model already estimated the recommended model on 2..32 cores
(``recommendation.more_cores``). When, after the change, the CPU work spread over this
machine's cores is still most of the predicted time, and more cores would gain
noticeably more, the report says how far they would go and names executors that take the
same ``map`` call across machines (Dask's ``Client.get_executor()``, a
``concurrent.futures.Executor``; Ray's ``ray.util.multiprocessing.Pool``, the
``multiprocessing.Pool`` API). A suggestion only: neither is a dependency.
"""
from __future__ import annotations

from ..result import Result

CPU_BOUND_SHARE = 0.5    # CPU over this machine's cores is at least this share of the predicted time
MORE_GAIN = 1.25         # more cores must gain at least this much over today's estimate
POOL_MODELS = ("multiprocessing", "asyncio+multiprocessing", "threads")


def scaling(result: Result) -> dict | None:
    """The figures behind the section, or None when more cores wouldn't matter much."""
    rec = result.recommendation
    model, work = rec.get("model"), rec.get("work") or {}
    more = {int(k): float(v) for k, v in (rec.get("more_cores") or {}).items()}
    if model not in POOL_MODELS or not more or not work:
        return None
    cores = int(work.get("cores") or result.target.get("cpu_count") or 1)
    today = sum(float(work.get(k) or 0) for k in ("overlappable_wait", "single_wait", "cpu_gil",
                                                   "cpu_nogil", "other"))
    speedup = float(rec.get("estimated_speedup") or 1.0)
    if today <= 0 or speedup <= 0:
        return None
    predicted = today / speedup
    cpu = float(work.get("cpu_gil") or 0) + float(work.get("cpu_nogil") or 0)
    cpu_share = (cpu / cores) / predicted if predicted > 0 else 0.0
    best_cores = max(more, key=lambda c: (more[c], -c))
    if cpu_share < CPU_BOUND_SHARE or more[best_cores] < speedup * MORE_GAIN or best_cores <= cores:
        return None
    return {"cores": cores, "predicted": predicted, "cpu_on_cores": cpu / cores, "cpu_share": min(cpu_share, 1.0),
            "speedup": speedup, "best_cores": best_cores, "best": more[best_cores],
            "table": {c: s for c, s in sorted(more.items()) if c <= best_cores},
            "repeats": int(work.get("repeats") or 0)}


def beyond_one_machine(result: Result) -> str:
    figures = scaling(result)
    if figures is None:
        return ""
    rec = result.recommendation
    unit = _unit(rec)
    rows = "\n".join(f"| {c} | {s:.2f}x |" for c, s in figures["table"].items())
    capped = (f" It stops at {figures['best_cores']} cores: the run showed {figures['repeats']} independent "
              f"pieces of work, and each extra process costs start-up time; smaller pieces would spread further."
              if figures["best_cores"] < 32 else "")
    return (
        "## Beyond one machine\n\n"
        f"After the change, CPU work still sets the pace: about {figures['cpu_on_cores']:.2f} s of the predicted "
        f"{figures['predicted']:.2f} s is CPU spread over this machine's {figures['cores']} cores. The same "
        f"speedup model with more cores:\n\n"
        "| Cores | Estimated speedup |\n|---|---|\n" + rows + "\n\n"
        f"On {figures['best_cores']} cores the estimate reaches about {figures['best']:.1f}x "
        f"(against {figures['speedup']:.1f}x here).{capped}\n\n"
        "More cores than one machine has are a change of executor, not of code: the same "
        f"`map` over `{unit}` runs on a cluster with\n\n"
        "- Dask (`pip install distributed`): its `Client.get_executor()` is a `concurrent.futures.Executor`:\n\n"
        "  ```python\n"
        "  from distributed import Client\n"
        "  executor = Client(\"tcp://scheduler:8786\").get_executor()   # Client() alone: a local cluster\n"
        f"  results = list(executor.map({unit}, items))\n"
        "  ```\n\n"
        "- Ray (`pip install ray`): `ray.util.multiprocessing.Pool` is the `multiprocessing.Pool` API on a Ray cluster:\n\n"
        "  ```python\n"
        "  from ray.util.multiprocessing import Pool\n"
        "  pool = Pool()   # Pool(ray_address=\"auto\") joins a running cluster\n"
        f"  results = pool.map({unit}, items)\n"
        "  ```\n\n"
        "A suggestion, not a requirement: the change above needs neither.\n"
    )


def _unit(rec: dict) -> str:
    for change in rec.get("changes") or []:
        if change.get("category") in ("cpu_gil", "cpu_nogil") and change.get("unit"):
            return _ident(change["unit"])
    changes = rec.get("changes") or []
    return _ident(changes[0].get("unit")) if changes and changes[0].get("unit") else "work"


def _ident(name) -> str:
    text = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in str(name)).strip("_")
    return text or "work"
