"""Writing a take: the same layout for every backend, atomically.

Files go into a hidden staging folder beside the take's folder and are renamed into place only when the take is
complete, so a cancelled or failed job leaves nothing behind and a half-written take never exists.

Layout: ``takes/<id>/mix.wav``, ``takes/<id>/stems/<stem>.wav``, optional ``latent.safetensors``, and
``record.json``: the take as in ``song.json`` plus the tool version and the file list.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from engine.audio.io import write_wav
from engine.errors import SongBridgeError
from engine.safe_fs import fresh_dir, make_dirs, remove, write_text
from engine.song.document import read_take, take_to_dict
from engine.song.model import Take, check_stem
from engine.song.reader import Obj
from engine.version import __version__

RECORD = "record.json"


class TakeWriter:
    """Use as a context manager: write files into ``staging``, then :meth:`commit` the take."""

    def __init__(self, out_dir: Path):
        self.out_dir = Path(out_dir)
        self.staging = self.out_dir.with_name(f".{self.out_dir.name}.partial")
        self._committed = False

    def __enter__(self) -> TakeWriter:
        if self.out_dir.exists():
            raise SongBridgeError(f"{self.out_dir}: a take with this id already exists")
        # takes/ is the root every file of the take is written below: no link in it is followed
        fresh_dir(self.staging, self.out_dir.parent)
        make_dirs(self.staging / "stems", self.out_dir.parent)
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._committed:
            remove(self.staging)

    def write_stem(self, name: str, audio: np.ndarray) -> None:
        write_wav(self.staging / "stems" / f"{check_stem(name)}.wav", audio, root=self.out_dir.parent)

    def write_mix(self, audio: np.ndarray) -> None:
        write_wav(self.staging / "mix.wav", audio, root=self.out_dir.parent)

    def path(self, name: str) -> Path:
        """A path in the staging folder for backend-specific files (e.g. ``latent.safetensors``)."""
        return self.staging / name

    def commit(self, take: Take, extra: Mapping[str, Any] | None = None) -> Take:
        if not take.created:
            take = dataclasses.replace(take, created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
        record = {"songbridge_version": __version__, **take_to_dict(take), **dict(extra or {})}
        record["files"] = sorted(str(p.relative_to(self.staging)) for p in self.staging.rglob("*") if p.is_file())
        write_text(self.staging / RECORD, json.dumps(record, indent=2, ensure_ascii=False) + "\n",
                   self.out_dir.parent)
        self.staging.rename(self.out_dir)
        self._committed = True
        return take


def read_record(take_dir: Path) -> Take:
    """The take described by ``take_dir/record.json``."""
    path = Path(take_dir) / RECORD
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SongBridgeError(f"{path}: not found") from None
    except json.JSONDecodeError as exc:
        raise SongBridgeError(f"{path}: line {exc.lineno}: invalid JSON: {exc.msg}") from None
    known = set(take_to_dict(Take("x", "x", 0)))
    return read_take(Obj({k: v for k, v in data.items() if k in known}, str(path)))


def update_record(take_dir: Path, take: Take) -> None:
    """Rewrite ``record.json`` with ``take``'s fields (anything else in it kept), whole then renamed."""
    path = Path(take_dir) / RECORD
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        record = {"songbridge_version": __version__}
    record.update(take_to_dict(take))
    record["files"] = sorted(str(p.relative_to(take_dir)) for p in Path(take_dir).rglob("*")
                             if p.is_file() and not any(part.startswith(".") for part in p.relative_to(take_dir).parts)
                             and p.name != RECORD)
    tmp = Path(take_dir) / f".{RECORD}.tmp"
    write_text(tmp, json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    tmp.replace(path)


PENDING = ".pending-"  # takes/.pending-<job>-<n>/: a take rendered by a job, waiting for its id
QUARANTINE = ".quarantine"


def commit_pending(takes_dir: Path, pending: Take, new_id: str, name: str) -> Take:
    """Give a finished take its id: rename ``takes/.pending-…`` to ``takes/<new_id>`` and rewrite its record."""
    src = Path(takes_dir) / f".{pending.id}"
    dst = Path(takes_dir) / new_id
    take = dataclasses.replace(pending, id=new_id, name=name)
    record_path = src / RECORD
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        record = {}
    record.update(take_to_dict(take))
    tmp = src / f".{RECORD}.tmp"
    write_text(tmp, json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    tmp.replace(record_path)
    src.rename(dst)
    return take


def leftovers(takes_dir: Path, known: set[str]) -> tuple[list[Path], list[Path], list[Path]]:
    """What a crash can leave in ``takes/``: (partial folders, finished takes not in the song, unreadable folders)."""
    partial, finished, broken = [], [], []
    if not Path(takes_dir).is_dir():
        return partial, finished, broken
    for p in sorted(Path(takes_dir).iterdir()):
        if not p.is_dir() or p.name == QUARANTINE:
            continue
        if p.name.endswith(".partial"):
            partial.append(p)
        elif p.name.startswith(PENDING) or p.name not in known:
            (finished if (p / RECORD).is_file() and (p / "mix.wav").is_file() else broken).append(p)
    return partial, finished, broken


def quarantine(takes_dir: Path, folder: Path) -> Path:
    """Move an unreadable take folder aside (``takes/.quarantine/``) instead of deleting someone's audio."""
    q = Path(takes_dir) / QUARANTINE
    q.mkdir(exist_ok=True)
    dst = q / folder.name.lstrip(".")
    n = 2
    while dst.exists():
        dst, n = q / f"{folder.name.lstrip('.')}-{n}", n + 1
    folder.rename(dst)
    return dst
