"""The renderer contract: ``render(result) -> str``. Adding a format is one new module."""
from __future__ import annotations

from ..result import Result


class Renderer:
    extension = ".txt"

    def render(self, result: Result) -> str:  # pragma: no cover - interface
        raise NotImplementedError
