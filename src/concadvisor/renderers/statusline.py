"""A status line on the terminal while the target runs: elapsed seconds, samples if known.

The target shares the terminal and prints what it likes, so the line can't simply be
redrawn with a carriage return (the target's output would land in it). Instead, as
``apt`` does for its progress bar, the terminal's scroll region is narrowed by one row:
the target's output scrolls above, the status sits on the bottom row, and the region is
given back (and the row cleared) at the end, whatever happened. Only on a terminal:
piped or redirected stderr gets nothing, and neither does ``TERM=dumb``.

Backends that count samples report them by calling the status line:
``progress(samples=n)`` (a plain ``progress(n)`` works too).
"""
from __future__ import annotations

import os
import shutil
import threading
import time

SAVE, RESTORE, CLEAR_LINE = "\0337", "\0338", "\033[2K"


class StatusLine:
    def __init__(self, label: str, stream, interval: float = 0.25):
        self.label = label
        self.stream = stream
        self.interval = interval
        self.samples: int | None = None
        self.phase = "running"
        self._fd = None
        self._rows = 0
        self._cols = 0
        self._started = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # the backend's progress callback
    def __call__(self, samples: int | None = None, **_ignored) -> None:
        if samples is not None:
            self.samples = int(samples)

    @property
    def active(self) -> bool:
        return self._fd is not None

    def start(self) -> "StatusLine":
        fd = _terminal_fd(self.stream)
        if fd is None:
            return self
        size = shutil.get_terminal_size(fallback=(0, 0))
        try:
            size = os.get_terminal_size(fd)
        except OSError:
            pass
        if size.lines < 3 or size.columns < 20:
            return self
        self._fd, self._rows, self._cols = fd, size.lines, size.columns
        self._started = time.monotonic()
        # make room, narrow the scroll region to all rows but the last, go back to where we were
        self._write(f"\n{SAVE}\033[1;{self._rows - 1}r{RESTORE}\033[1A")
        self._draw()
        self._thread = threading.Thread(target=self._tick, name="concadvisor-status", daemon=True)
        self._thread.start()
        return self

    def set_phase(self, phase: str) -> None:
        self.phase = phase
        if self.active:
            self._draw()

    def stop(self) -> None:
        if self._fd is None:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        with self._lock:
            # the whole screen scrolls again; the status row is cleared
            self._write(f"{SAVE}\033[r\033[{self._rows};1H{CLEAR_LINE}{RESTORE}")
            self._fd = None

    def __enter__(self) -> "StatusLine":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def text(self) -> str:
        elapsed = time.monotonic() - self._started if self._started else 0.0
        parts = [f"concadvisor {elapsed:5.1f} s"]
        if self.samples is not None:
            parts.append(f"{self.samples} samples")
        parts.append(f"{self.phase} {self.label}")
        if self.phase == "running":
            parts.append("Ctrl-C stops it and keeps what was measured")
        return " | ".join(parts)

    def _tick(self) -> None:
        while not self._stop.wait(self.interval):
            self._draw()

    def _draw(self) -> None:
        line = self.text()[: self._cols - 1]
        with self._lock:
            if self._fd is not None:
                self._write(f"{SAVE}\033[{self._rows};1H{CLEAR_LINE}\033[7m{line}\033[0m{RESTORE}")

    def _write(self, text: str) -> None:
        try:
            os.write(self._fd, text.encode("utf-8", "replace"))
        except OSError:
            self._fd = None


def _terminal_fd(stream) -> int | None:
    if os.environ.get("TERM", "") in ("", "dumb"):
        return None
    try:
        fd = stream.fileno()
    except (AttributeError, ValueError, OSError):
        return None
    return fd if os.isatty(fd) else None
