"""One renderer per output format; each turns a Result into text."""
from __future__ import annotations

from .base import Renderer
from .json import JSONRenderer
from .markdown import MarkdownRenderer
from .terminal import TerminalRenderer

__all__ = ["Renderer", "JSONRenderer", "MarkdownRenderer", "TerminalRenderer"]
