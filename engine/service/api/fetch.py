"""Fetching a finished job's takes from an engine that may lie.

A ``finished`` event names takes and announces their files (path, size, sha256). Before a byte is written, the
takes are checked against what the job asked for (only the take ids it allocated, each at most once, none whose
folder exists already, valid stem names, the parent its request named) and the manifest against
:class:`FetchLimits` (files per take, bytes per file and per take, the free disk space).

Each file is then streamed, never held in memory, into a hidden staging folder beside its take's folder
(``takes/.<id>.partial``: what an interrupted write leaves and the next open of the project removes), through a
temporary file created with ``O_CREAT|O_EXCL|O_NOFOLLOW``. A download is cut the moment it passes its announced
size, when nothing arrives for ``idle_s`` seconds, when it falls behind ``min_rate_bps`` (after ``grace_s``), and
when it has taken ``transfer_s`` seconds in all, headers included (every socket read and write is bounded by the
transfer's deadline). The body is taken as sent, never
decompressed. Only when every file of every take has arrived whole with its sha256 are the staging folders renamed
into place; a refusal removes them, so a refused event leaves the project as it was.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.song.model import check_id, check_stem

from .client import EngineApiError, safe_target

#: One name in a take folder's file path, as the engine's takes write them (``mix.wav``, ``stems/vocal.wav``).
_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_MAX_DEPTH = 3


@dataclass(frozen=True)
class FetchLimits:
    """What a client accepts from an engine for one job's takes (bytes, seconds)."""

    max_file_bytes: int = 2 << 30  # a 15-minute float32 stereo stem is about 320 MiB
    max_take_bytes: int = 4 << 30  # the same cap the engine puts on an uploaded take folder
    max_files: int = 64  # per take
    transfer_s: float = 900.0  # one file, from connecting to its last byte
    idle_s: float = 30.0  # the longest wait for the next bytes of a file
    connect_s: float = 10.0
    #: the slowest a file may arrive on average, once ``grace_s`` has passed: an engine that sends a byte every
    #: few seconds is never idle for long, yet would take days
    min_rate_bps: float = 16 << 10
    grace_s: float = 10.0


@dataclass(frozen=True)
class Asked:
    """What a job asked the engine for: the take ids it allocated with the folder each take's files go to, and
    each take's parent (the take it edits, or None); ``parents`` is None where not known (a job attached to)."""

    folders: Mapping[str, Path]
    parents: Mapping[str, str | None] | None = None


def check_finished(where: str, job_id: str, takes: Sequence[Any], files: Sequence[Mapping[str, Any]], asked: Asked,
                   limits: FetchLimits) -> dict[str, list[Mapping[str, Any]]]:
    """Each take's announced files, once the takes and the manifest pass; EngineApiError naming the first fault.
    ``where`` names the engine in messages ("the engine at http://…")."""
    ids: list[str] = []
    for take in takes:
        if take.id not in asked.folders:
            wanted = ", ".join(sorted(asked.folders)) or "none"
            raise EngineApiError(f"{where} sent take {take.id[:80]!r} ({len(takes)} take(s) in all) for job {job_id}, "
                                 f"which asked only for {wanted}; nothing was added")
        if take.id in ids:
            raise EngineApiError(f"{where} sent take {take.id} twice for job {job_id}; nothing was added")
        try:
            check_id(take.id, "take")
            if len(set(take.stems)) != len(take.stems):
                raise ValueError(f"stems must be distinct, got {list(take.stems)!r}")
            for stem in take.stems:
                check_stem(stem, "stem")
        except ValueError as exc:
            raise EngineApiError(f"{where} sent take {take.id} for job {job_id} with a bad stem: {exc}") from None
        if asked.parents is not None and take.parent != asked.parents.get(take.id):
            raise EngineApiError(f"{where} sent take {take.id} for job {job_id} as an edit of {take.parent!r}; "
                                 f"the job asked for {asked.parents.get(take.id)!r}")
        folder = asked.folders[take.id]
        if os.path.lexists(folder):
            raise EngineApiError(f"{where} sent take {take.id} for job {job_id}, but {folder} exists already; a "
                                 f"take is never replaced")
        ids.append(take.id)
    plan: dict[str, list[Mapping[str, Any]]] = {t: [] for t in ids}
    seen: set[tuple[str, str]] = set()
    for f in files:
        name = f"{f['take']}/{f['path']}"[:120]
        if f["take"] not in plan:
            raise EngineApiError(f"{where} sent file {name!r} for a take that job {job_id} did not finish or ask "
                                 f"for; nothing was added")
        parts = f["path"].split("/")
        if len(parts) > _MAX_DEPTH or not all(_PART.fullmatch(p) and ".." not in p for p in parts):
            raise EngineApiError(f"{where} sent a file name that cannot be in a take folder: {name!r}")
        if (f["take"], f["path"]) in seen:
            raise EngineApiError(f"{where} sent file {name} twice")
        seen.add((f["take"], f["path"]))
        if f["size"] > limits.max_file_bytes:
            raise EngineApiError(f"{where} announced {f['size']} bytes for {name}, more than the "
                                 f"{limits.max_file_bytes} bytes a file may have; nothing was fetched")
        plan[f["take"]].append(f)
    for take in takes:
        entries = plan[take.id]
        if len(entries) > limits.max_files:
            raise EngineApiError(f"{where} announced {len(entries)} files for take {take.id}, more than "
                                 f"{limits.max_files}")
        total = sum(int(f["size"]) for f in entries)
        if total > limits.max_take_bytes:
            raise EngineApiError(f"{where} announced {total} bytes for take {take.id}, more than the "
                                 f"{limits.max_take_bytes} bytes a take may have; nothing was fetched")
        paths = {f["path"] for f in entries}
        missing = [p for p in ("mix.wav", *(f"stems/{s}.wav" for s in take.stems)) if p not in paths]
        if missing:
            raise EngineApiError(f"{where} sent take {take.id} without {missing[0]}; nothing was added")
    need = sum(int(f["size"]) for entries in plan.values() for f in entries)
    if plan:
        free = _free_bytes(next(iter(asked.folders[t] for t in plan)))
        if free is not None and need > free:
            raise EngineApiError(f"job {job_id}'s takes need {need / 2**20:.0f} MiB and the disk has "
                                 f"{free / 2**20:.0f} MiB free; nothing was fetched")
    return plan


def _free_bytes(folder: Path) -> int | None:
    for p in (folder, *folder.parents):
        if p.is_dir():
            return shutil.disk_usage(p).free
    return None


def fetch_takes(base_url: str, key: bytes, ssl_context: Any, job_id: str, plan: Mapping[str, Sequence[Any]],
                asked: Asked, limits: FetchLimits, where: str) -> None:
    """Download the files of :func:`check_finished`'s plan and move each take's folder into place, all or none."""
    import httpcore

    backend = _DeadlineBackend()
    staged: list[tuple[Path, Path]] = []
    placed: list[tuple[Path, Path]] = []
    headers = [(b"Authorization", b"Bearer " + key), (b"Accept-Encoding", b"identity")]
    try:
        with httpcore.ConnectionPool(ssl_context=ssl_context, network_backend=backend, max_connections=1) as pool:
            for take_id, entries in plan.items():
                folder = asked.folders[take_id]
                staging = _fresh_staging(folder, where)
                staged.append((staging, folder))
                for f in entries:
                    url = f"{base_url}/v1/jobs/{job_id}/files/{take_id}/{f['path']}"
                    _download(pool, backend, url, headers, safe_target(staging, f["path"]), f, limits, where)
        for staging, folder in staged:
            if os.path.lexists(folder):
                raise EngineApiError(f"{folder} appeared while take {folder.name} was being fetched; a take is "
                                     f"never replaced")
            os.rename(staging, folder)
            placed.append((staging, folder))
    except BaseException:
        for staging, folder in reversed(placed):  # all or none: a half-landed job is not a take
            try:
                os.rename(folder, staging)
            except OSError:
                pass
        for staging, _ in staged:
            shutil.rmtree(staging, ignore_errors=True)
        raise


def _fresh_staging(folder: Path, where: str) -> Path:
    takes = folder.parent
    if takes.is_symlink():
        raise EngineApiError(f"{takes} is a symbolic link; the takes from {where} are not written through it")
    takes.mkdir(parents=True, exist_ok=True)
    staging = takes / f".{folder.name}.partial"
    if staging.is_symlink() or (os.path.lexists(staging) and not staging.is_dir()):
        staging.unlink()
    elif staging.exists():
        shutil.rmtree(staging)  # what an interrupted fetch left
    os.mkdir(staging, 0o755)
    return staging


def _download(pool: Any, backend: _DeadlineBackend, url: str, headers: list[tuple[bytes, bytes]], target: Path,
              f: Mapping[str, Any], limits: FetchLimits, where: str) -> None:
    """Stream one file into ``target`` through a temporary file beside it; EngineApiError naming it otherwise."""
    import httpcore

    name = f"{f['take']}/{f['path']}"
    size = int(f["size"])
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    digest, n = hashlib.sha256(), 0
    backend.start(limits.transfer_s)
    t0 = time.monotonic()
    timeout = {"connect": limits.connect_s, "read": limits.idle_s, "write": limits.idle_s, "pool": limits.connect_s}
    try:
        with os.fdopen(fd, "wb") as fh, pool.stream("GET", url, headers=headers,
                                                     extensions={"timeout": timeout}) as r:
            if r.status != 200:
                raise EngineApiError(f"{where} answered {r.status} for {name}")
            length = dict((k.lower(), v) for k, v in r.headers).get(b"content-length")
            if length is not None and (not length.isdigit() or int(length) != size):
                raise EngineApiError(f"{where} sent {length[:20].decode('latin-1')} bytes for {name}, not the "
                                     f"{size} bytes it announced; nothing was added")
            for chunk in r.iter_stream():
                n += len(chunk)
                if n > size:
                    raise EngineApiError(f"{where} sent more than the {size} bytes it announced for {name}; cut "
                                         f"off, nothing was added")
                digest.update(chunk)
                fh.write(chunk)
                late = time.monotonic() - t0 - limits.grace_s
                if n < size and n < limits.min_rate_bps * late:
                    raise EngineApiError(f"{where} sent {name} at {n / (late + limits.grace_s):.3g} bytes/s ({n} "
                                         f"of {size} bytes), slower than the {limits.min_rate_bps:.0f} bytes/s a "
                                         f"transfer must keep up; cut off, nothing was added")
        if n != size or digest.hexdigest() != f["sha256"]:
            raise EngineApiError(f"{name}: the bytes from {where} do not match the size and sha256 it announced")
        os.replace(tmp, target)
    except httpcore.TimeoutException as exc:
        if backend.overdue():
            raise EngineApiError(f"{where} took longer than {limits.transfer_s:g} s to send {name} ({n} of {size} "
                                 f"bytes); cut off, nothing was added") from None
        if isinstance(exc, httpcore.ConnectTimeout):
            raise EngineApiError(f"{where} could not be reached within {limits.connect_s:g} s to fetch {name}") \
                from None
        raise EngineApiError(f"{where} sent nothing for {limits.idle_s:g} s while sending {name} ({n} of {size} "
                             f"bytes); cut off, nothing was added") from None
    except (httpcore.NetworkError, httpcore.ProtocolError) as exc:
        raise EngineApiError(f"{where}: fetching {name} broke off: {exc or type(exc).__name__}") from None
    finally:
        tmp.unlink(missing_ok=True)


class _DeadlineStream:
    """A network stream whose every read and write ends by its backend's deadline (a whole transfer's)."""

    def __init__(self, inner: Any, backend: _DeadlineBackend):
        self._inner, self._backend = inner, backend

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._backend.bound(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._backend.bound(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> Any:
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, self._backend.bound(timeout)),
                               self._backend)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend:
    """httpcore's blocking socket backend with one deadline over a whole transfer (``start`` sets it)."""

    def __init__(self) -> None:
        import httpcore

        self._inner = httpcore.SyncBackend()
        self.deadline = float("inf")

    def start(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def overdue(self) -> bool:
        return time.monotonic() >= self.deadline - 1e-3

    def bound(self, timeout: float | None) -> float:
        import httpcore

        left = self.deadline - time.monotonic()
        if left <= 0:
            raise httpcore.ReadTimeout("the transfer's time is up")
        return left if timeout is None else min(timeout, left)

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> _DeadlineStream:
        stream = self._inner.connect_tcp(host, port, self.bound(timeout), local_address, socket_options)
        return _DeadlineStream(stream, self)

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None) -> Any:
        return _DeadlineStream(self._inner.connect_unix_socket(path, self.bound(timeout), socket_options), self)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)
