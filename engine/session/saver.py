"""Saving off the caller's thread: the saver writes the newest version of the song (older pending versions are
skipped: group commit) and then tells everyone waiting for a version at or below it. An edit acknowledged from
``on_saved`` is on disk (fsynced, renamed) and survives ``kill -9``."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from engine.errors import SongBridgeError
from engine.song.model import Song

log = logging.getLogger("songbridge.session")
Done = Callable[[bool, str], None]  # (saved, error message)


class Saver:
    def __init__(self, write: Callable[[Song], None], on_error: Callable[[str], None] | None = None,
                 name: str = "songbridge-saver"):
        self._write = write
        self._on_error = on_error
        self._cond = threading.Condition()
        self._pending: tuple[int, Song] | None = None
        self._waiting: list[tuple[int, Done]] = []
        self.saved_version = 0
        self.requested_version = 0
        self.failures = 0
        self.writes = 0
        self._stop = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def request(self, version: int, song: Song | None, done: Done | None = None) -> None:
        """Save ``song`` as ``version`` (``song`` None: nothing new, only wait for ``version``)."""
        with self._cond:
            if song is not None and version > self.requested_version:
                self._pending = (version, song)
                self.requested_version = version
            if done is not None:
                if version <= self.saved_version and self._pending is None:
                    ready = True
                else:
                    ready = False
                    self._waiting.append((version, done))
            self._cond.notify_all()
        if done is not None and ready:
            done(True, "")

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything requested is on disk (False on timeout)."""
        with self._cond:
            target = self.requested_version
            return self._cond.wait_for(lambda: self.saved_version >= target or self._stop, timeout)

    def close(self, timeout: float = 10.0) -> None:
        self.flush(timeout)
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None or self._stop)
                if self._pending is None:
                    return
                version, song = self._pending
                self._pending = None
            ok, error = True, ""
            try:
                self._write(song)
                self.writes += 1
            except SongBridgeError as exc:
                ok, error = False, str(exc)
            except Exception as exc:  # noqa: BLE001 - the saver thread must outlive a failing disk
                ok, error = False, f"{type(exc).__name__}: {exc}"
            if not ok:
                self.failures += 1
                log.error("saving the project failed: %s", error)
                if self._on_error is not None:
                    self._on_error(error)
            with self._cond:
                if ok:
                    self.saved_version = max(self.saved_version, version)
                ready = [(v, d) for v, d in self._waiting if v <= version]
                self._waiting = [(v, d) for v, d in self._waiting if v > version]
                self._cond.notify_all()
            for _, done in ready:
                try:
                    done(ok, error)
                except Exception:  # a subscriber's bug must not stop saving
                    log.exception("while reporting a save")
