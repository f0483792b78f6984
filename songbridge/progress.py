"""A terminal progress bar that stays quiet when output is piped."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    def __init__(self, label: str, stream: TextIO | None = None, width: int = 30):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.label, self.width = label, width
        self.t0 = time.monotonic()
        self._last = 0.0
        self._closed = False

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0 or self._closed:
            return
        now = time.monotonic()
        if done < total and now - self._last < 0.05:
            return
        self._last = now
        frac = min(1.0, done / total)
        bar = "#" * int(frac * self.width)
        self.stream.write(f"\r{self.label} [{bar:<{self.width}}] {frac * 100:3.0f}% {now - self.t0:5.1f}s")
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line (once: closing again does nothing)."""
        if self.enabled and not self._closed:
            self.stream.write("\n")
            self.stream.flush()
        self._closed = True
