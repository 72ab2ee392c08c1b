"""The machine-readable result, exactly the contract's JSON (plus added keys)."""
from __future__ import annotations

from ..result import Result
from .base import Renderer


class JSONRenderer(Renderer):
    extension = ".json"

    def render(self, result: Result) -> str:
        return result.to_json() + "\n"
