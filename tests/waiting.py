"""The one way tests wait for something to happen: poll a condition until it holds or the time is up."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(condition: Callable[[], object], timeout: float, what: str = "the condition",
               interval: float = 0.05) -> None:
    """Return as soon as ``condition()`` is true; fail the test naming ``what`` after ``timeout`` seconds. An
    exception raised by ``condition`` counts as not yet (a file still being written, a port not yet open)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except (OSError, ValueError):
            pass
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}")
        time.sleep(interval)
