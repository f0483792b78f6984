"""One owner per project: a lock file in the project folder naming the program that holds it.

The lock is ``.songbridge.lock``: JSON with pid, host, program, start time (and the OSC address of a bridge, when
it serves one), held with an exclusive ``flock`` for as long as the program runs. The kernel drops a ``flock`` when
its process dies, even by ``kill -9``, so a lock left by a dead program is never in the way: the next program takes
it over and says whose it was. A second program while the holder lives is refused with a message naming it.

``clean_temporary`` removes what an interrupted atomic save leaves (``.NAME.PID.tmp``); call it with the lock held.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import SongBridgeError

log = logging.getLogger("songbridge.project")
LOCK_FILE = ".songbridge.lock"

try:  # POSIX; on Windows the lock is the file's existence plus the pid check
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class ProjectBusy(SongBridgeError):
    """The project is open in another program; the message names it."""

    def __init__(self, message: str, holder: dict[str, Any]):
        super().__init__(message)
        self.holder = holder


@dataclass
class Holder:
    pid: int
    host: str
    program: str
    started: str
    osc: str = ""

    def describe(self) -> str:
        where = f" on {self.host}" if self.host != socket.gethostname() else ""
        since = self.started.replace("T", " ")[:19]
        osc = f", its bridge listens for OSC on {self.osc}" if self.osc else ""
        return f"{self.program} (pid {self.pid}{where}, since {since}{osc})"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def read_holder(folder: Path) -> Holder | None:
    """Who the lock file names (None when there is no readable lock)."""
    try:
        data = json.loads((Path(folder) / LOCK_FILE).read_text(encoding="utf-8"))
        return Holder(int(data["pid"]), str(data["host"]), str(data["program"]), str(data.get("started", "")),
                      str(data.get("osc", "")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


class ProjectLock:
    """``ProjectLock.acquire(folder, "songbridge gui")``; ``release()`` (or process exit) frees it."""

    def __init__(self, folder: Path, fd: int, holder: Holder, took_over: Holder | None):
        self.folder, self._fd, self.holder, self.took_over = folder, fd, holder, took_over

    @classmethod
    def acquire(cls, folder: str | os.PathLike[str], program: str) -> ProjectLock:
        folder = Path(folder)
        path = folder / LOCK_FILE
        previous = read_holder(folder)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise SongBridgeError(f"{path}: cannot create the project lock: {exc.strerror or exc}") from None
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                holder = read_holder(folder)
                who = holder.describe() if holder else "another program"
                raise ProjectBusy(f"{folder}: the project is open in {who}; close it there first, or send the "
                                  "command to that program", vars(holder) if holder else {}) from None
        elif previous is not None and previous.host == socket.gethostname() and _alive(previous.pid) \
                and previous.pid != os.getpid():  # pragma: no cover - Windows
            os.close(fd)
            raise ProjectBusy(f"{folder}: the project is open in {previous.describe()}", vars(previous))
        holder = Holder(os.getpid(), socket.gethostname(), program,
                        dt.datetime.now().astimezone().isoformat(timespec="seconds"))
        took_over = previous if previous is not None and previous.pid != os.getpid() else None
        lock = cls(folder, fd, holder, took_over)
        lock._write()
        if took_over is not None:
            state = "no longer running" if not _alive(took_over.pid) or took_over.host != holder.host else "gone"
            log.info("%s: took over the lock of %s (%s)", folder, took_over.describe(), state)
        return lock

    def _write(self) -> None:
        data = (json.dumps(vars(self.holder)) + "\n").encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)

    def set_osc(self, address: str) -> None:
        """Name the bridge's OSC address in the lock, so a refused program can say where to send commands."""
        self.holder.osc = address
        self._write()

    def release(self) -> None:
        if self._fd < 0:
            return
        try:
            (self.folder / LOCK_FILE).unlink(missing_ok=True)
        except OSError:
            pass
        os.close(self._fd)
        self._fd = -1

    def __enter__(self) -> ProjectLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def clean_temporary(folder: str | os.PathLike[str]) -> list[str]:
    """Remove the temporary files an interrupted save left in the project (with the lock held, none is live)."""
    removed = []
    folder = Path(folder)
    for p in folder.glob(".*.tmp"):
        try:
            p.unlink()
            removed.append(p.name)
        except OSError as exc:
            print(f"songbridge: cannot remove {p}: {exc}", file=sys.stderr)
    if removed:
        log.info("%s: removed %d temporary file(s) left by an interrupted save: %s", folder, len(removed),
                 ", ".join(sorted(removed)[:5]))
    return removed
