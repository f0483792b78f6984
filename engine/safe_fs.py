"""Writing inside a project without following symbolic links.

A project folder is data that may come from someone else (a zip, a shared drive). A symbolic link planted in it
(``.songbridge.lock`` -> ``~/notes.txt``, ``takes/<id>/.locked.partial`` -> ``/elsewhere``) must never make
SongBridge write outside it. Every file SongBridge writes inside a project is opened here: the last component with
``O_NOFOLLOW`` (a link there is refused), and, where the project folder is known, every folder between it and the
file checked to be a real folder, not a link. Staging folders are made fresh: a link in their place is removed
(the link itself, inside the project), never followed.

Reading through links is left alone: a project may link its audio to another disk, and reading writes nothing.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from pathlib import Path
from typing import IO

from engine.errors import DocumentError, SongBridgeError

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class UnsafePathError(SongBridgeError):
    """A path inside a project leads through a symbolic link, or out of the project."""


def check_inside(root: str | os.PathLike[str], path: str | os.PathLike[str]) -> Path:
    """``path`` (absolute, or relative to ``root``) lexically inside ``root`` with no symbolic link among the
    existing folders and file between them; returns it as an absolute path. Missing components are fine (they
    will be made as real folders)."""
    root_p = Path(os.path.abspath(root))
    p = Path(os.path.abspath(root_p / path))
    try:
        rel = p.relative_to(root_p)
    except ValueError:
        raise UnsafePathError(f"{p}: outside the project folder {root_p}") from None
    cur = root_p
    for part in rel.parts:
        cur = cur / part
        try:
            st = os.lstat(cur)
        except FileNotFoundError:
            break
        if stat.S_ISLNK(st.st_mode):
            raise UnsafePathError(f"{cur}: is a symbolic link inside the project; SongBridge does not write through "
                                  "links (replace it with a real folder or file)")
    return p


def make_dirs(path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None) -> Path:
    """``mkdir -p`` that refuses to pass through a link below ``root``."""
    p = check_inside(root, path) if root is not None else Path(path)
    p.mkdir(parents=True, exist_ok=True)
    if root is not None:
        check_inside(root, p)  # made by someone else between the check and the mkdir: check again
    return p


def open_write(path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None, *,
               exclusive: bool = False, text: bool = False) -> IO:
    """Open ``path`` for writing (created or truncated; ``exclusive``: must not exist), never through a link.
    Its folder is made as needed; with ``root`` every folder below it is checked to be real."""
    p = Path(path)
    make_dirs(p.parent, root)
    if root is not None:
        check_inside(root, p)
    flags = os.O_RDWR | os.O_CREAT | _NOFOLLOW | _CLOEXEC | (os.O_EXCL if exclusive else os.O_TRUNC)
    try:
        fd = os.open(p, flags, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP or (exc.errno == errno.EEXIST and os.path.islink(p)):
            raise UnsafePathError(f"{p}: is a symbolic link; SongBridge does not write through links") from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UnsafePathError(f"{p}: not a plain file")
    return os.fdopen(fd, "w+", encoding="utf-8", newline="") if text else os.fdopen(fd, "w+b")


def write_text(path: str | os.PathLike[str], text: str, root: str | os.PathLike[str] | None = None) -> Path:
    with open_write(path, root, text=True) as fh:
        fh.write(text)
    return Path(path)


def fresh_dir(path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None) -> Path:
    """An empty real folder at ``path``: whatever was there is removed first (a link is unlinked, not followed)."""
    p = Path(path)
    if root is not None:
        check_inside(root, p.parent)
    remove(p)
    return make_dirs(p, root)


def remove(path: str | os.PathLike[str]) -> None:
    """Remove a file, link or folder tree at ``path`` without following a link (``shutil.rmtree`` on a link
    raises; on a link's parent it would not follow it either)."""
    p = Path(path)
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(p, ignore_errors=True)
    else:
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def write_atomic(path: Path, text: str, *, keep_backup: bool = False) -> None:
    """Write ``text`` to ``path`` so that ``path`` is always either the old or the new complete file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        remove(tmp)  # left by a save that died, or planted: never written through
        with open_write(tmp, exclusive=True, text=True) as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if keep_backup and path.exists():
            bak_tmp = path.with_name(f".{path.name}.bak.{os.getpid()}.tmp")
            remove(bak_tmp)
            with open(path, "rb") as src, open_write(bak_tmp, exclusive=True) as dst:
                dst.write(src.read())
                dst.flush()
                os.fsync(dst.fileno())
            os.replace(bak_tmp, path.with_name(path.name + ".bak"))
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise DocumentError(f"{path}: cannot save: {exc}") from None
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
