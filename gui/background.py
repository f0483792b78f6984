"""The app's one way to do slow work (disk, imports, plugins) off the GUI thread.

``Background.run(work, on_done, on_error)`` runs ``work()`` on a small pool of worker threads and calls
``on_done(result)`` or ``on_error(exc)`` back on the GUI thread (a queued signal), so a slot never waits for the
disk. Tasks run in the order given per pool; the pool is shared by the window's features.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal


class Background(QObject):
    """A thread pool whose results come back as calls on the GUI thread."""

    _finished = Signal(object, object)  # (callback, argument), delivered on the thread that owns this object

    def __init__(self, parent: QObject | None = None, workers: int = 2):
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="songbridge-gui-task")
        # queued even when the work is done before ``run`` returns (its callback then fires on this thread)
        self._finished.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        self.pending = 0

    def run(self, work: Callable[[], Any], on_done: Callable[[Any], None] | None = None,
            on_error: Callable[[BaseException], None] | None = None) -> Future[Any]:
        """Start ``work`` on a worker thread; its result or exception comes back on the GUI thread."""
        self.pending += 1

        def done(fut: Future[Any]) -> None:
            exc = fut.exception()
            if exc is not None:
                self._finished.emit(on_error, exc)
            else:
                self._finished.emit(on_done, fut.result())

        fut = self._pool.submit(work)
        fut.add_done_callback(done)
        return fut

    def _deliver(self, callback: Callable[[Any], None] | None, value: Any) -> None:
        self.pending -= 1
        if callback is not None:
            callback(value)
        elif isinstance(value, BaseException):
            raise value

    def shutdown(self) -> None:
        """Let running tasks finish (their results are no longer delivered once the window is gone)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
