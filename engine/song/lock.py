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
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import SongBridgeError

log = logging.getLogger("songbridge.project")
LOCK_FILE = ".songbridge.lock"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_MAX_LOCK_BYTES = 4096  # a holder is a few hundred bytes; a hostile lock file is not read whole

try:  # POSIX; on Windows the lock is the file's existence plus the pid check
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class ProjectBusy(SongBridgeError):
    """The project is open in another program; the message names it."""

    def __init__(self, message: str, holder: dict[str, Any]):
        super().__init__(message)
        self.holder = holder


def gone(holder: dict[str, Any]) -> bool:
    """Whether the program a lock names (``ProjectBusy.holder``) is known to have ended: on this machine, its process
    is no longer running. A holder on another machine is never known to be gone."""
    pid = holder.get("pid")
    return holder.get("host") == socket.gethostname() and isinstance(pid, int) and not alive(pid)


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


def alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine."""
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
        fd = os.open(Path(folder) / LOCK_FILE, os.O_RDONLY | _NOFOLLOW)
        try:
            raw = os.read(fd, _MAX_LOCK_BYTES)
        finally:
            os.close(fd)
        data = json.loads(raw.decode("utf-8"))
        return Holder(int(data["pid"]), str(data["host"]), str(data["program"]), str(data.get("started", "")),
                      str(data.get("osc", "")))
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None


class ProjectLock:
    """``ProjectLock.acquire(folder, "songbridge gui")``; ``release()`` (or process exit) frees it."""

    def __init__(self, folder: Path, fd: int, holder: Holder, took_over: Holder | None):
        self.folder, self._fd, self.holder, self.took_over = folder, fd, holder, took_over

    @classmethod
    def acquire(cls, folder: str | os.PathLike[str], program: str) -> ProjectLock:
        folder = Path(folder)
        path = folder / LOCK_FILE
        fd = cls._open_locked(folder, path)
        previous = read_holder(folder)  # what the file we now hold names: a program that died holding it
        if fcntl is None and previous is not None and previous.host == socket.gethostname() \
                and alive(previous.pid) and previous.pid != os.getpid():  # pragma: no cover - Windows
            os.close(fd)
            raise ProjectBusy(f"{folder}: the project is open in {previous.describe()}", vars(previous))
        holder = Holder(os.getpid(), socket.gethostname(), program,
                        dt.datetime.now().astimezone().isoformat(timespec="seconds"))
        took_over = previous if previous is not None and previous.pid != os.getpid() else None
        lock = cls(folder, fd, holder, took_over)
        lock._write()
        if took_over is not None:
            state = "no longer running" if not alive(took_over.pid) or took_over.host != holder.host else "gone"
            log.info("%s: took over the lock of %s (%s)", folder, took_over.describe(), state)
        return lock

    @staticmethod
    def _open_locked(folder: Path, path: Path) -> int:
        """Open the lock file (never through a symlink) and flock it; retry while the file we locked is not the one
        at ``path`` any more (its holder unlinked it on release after we opened it), so two programs never both
        hold the project."""
        for _ in range(100):
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o644)
            except OSError as exc:
                if _NOFOLLOW and os.path.islink(path):
                    # A project from elsewhere may carry a symlink here: writing through it would truncate the file
                    # it points at. Remove the link itself (inside the project) and make a plain lock file.
                    log.warning("%s: the project lock was a symbolic link (to %s); replaced it with a plain file",
                                folder, os.readlink(path))
                    try:
                        os.unlink(path)
                    except FileNotFoundError:
                        pass
                    except OSError as exc2:
                        raise SongBridgeError(f"{path}: the project lock is a symbolic link and cannot be removed: "
                                              f"{exc2.strerror or exc2}") from None
                    continue
                raise SongBridgeError(f"{path}: cannot create the project lock: {exc.strerror or exc}") from None
            if fcntl is None:  # pragma: no cover - Windows
                return fd
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                holder = read_holder(folder)
                who = holder.describe() if holder else "another program"
                raise ProjectBusy(f"{folder}: the project is open in {who}; close it there first, or send the "
                                  "command to that program", vars(holder) if holder else {}) from None
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                os.close(fd)
                raise SongBridgeError(f"{path}: the project lock is not a plain file")
            try:
                now = os.lstat(path)
            except FileNotFoundError:
                now = None
            if now is not None and (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino):
                return fd
            os.close(fd)  # we locked a file its holder had already unlinked: take the new one
        raise SongBridgeError(f"{path}: the project lock kept changing under us; is another program looping on it?")

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
