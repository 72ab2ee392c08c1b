"""concadvisor: measure where a Python program's time goes and say which concurrency model pays.

The public API (see the README, "Use from Python and Jupyter")::

    concadvisor.profile_script(path, args=(), backend="auto") -> Result
    concadvisor.attach(pid, duration=5.0) -> Result
    concadvisor.load(path) -> Result
    with concadvisor.advise(report=None) as advice: ...   # advice.result
    %load_ext concadvisor    # then %%concadvisor on a cell, in IPython or Jupyter

Importing the package is cheap: the API loads on first use, pandas only when a
measurement is analysed.
"""
from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (13 ms here)

__version__ = "0.1.0"
__all__ = ["Advice", "NothingMeasured", "PySpyUnavailable", "Result", "ResultError", "UsageError",
           "advise", "attach", "load", "load_ipython_extension", "profile_script"]

if TYPE_CHECKING:
    from .api import Advice, UsageError, advise, attach, load, profile_script
    from .collect import NothingMeasured
    from .collect.pyspy import PySpyUnavailable
    from .result import Result, ResultError

_WHERE = {"Advice": "api", "UsageError": "api", "attach": "api", "load": "api",
          "profile_script": "api", "NothingMeasured": "collect", "PySpyUnavailable": "collect.pyspy",
          "Result": "result", "ResultError": "result"}


def __getattr__(name: str):
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'concadvisor' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"{__name__}.{where}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _AdvisePackage(type(__import__("sys"))):
    """``concadvisor.advise`` is the ``advise/`` package (the checklist, the speedup model)
    and, called, the API's ``advise()``, which measures a block (see ``api.advise``): the
    package had the name first, and ``import concadvisor.advise.checklist`` sets it as the
    package's attribute, so the package itself answers the call."""

    def __call__(self, report=None, **options):
        from .api import advise as measure_block

        return measure_block(report, **options)


from . import advise as _advise  # noqa: E402  (a namespace package: nothing in it runs)

_advise.__class__ = _AdvisePackage
_advise.__doc__ = ("with concadvisor.advise(report=None, *, json=None, backend='auto') as advice: "
                   "measure the block in this process; advice.result is the Result (see concadvisor.api.advise)")


def load_ipython_extension(ipython) -> None:
    """``%load_ext concadvisor``: the ``%concadvisor`` and ``%%concadvisor`` magics."""
    from .magic import load_ipython_extension as load_magics

    load_magics(ipython)
