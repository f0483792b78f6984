"""Jobs and events as JSON, validated field by field on both ends. A generate request travels as the song
document fragment it was planned from (lyrics, sections, tempo, key, style and title, read back through the song
document's own validating reader) plus its take id, length, seed, parameters and name. Nothing here can build an
arbitrary object: unknown kinds and fields are refused with a message naming the field."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from engine.errors import SongBridgeError

SCHEMA = "songbridge-engine/1"
MAX_REQUESTS = 16
#: set to 1 in the engine's environment (the tests and benchmarks do) to accept ``sleep`` jobs, which can crash a
#: worker on request; never set in production, so a client with the key cannot reach them
TEST_JOBS_ENV = "SONGBRIDGE_ENGINE_TEST_JOBS"


def sleep_jobs_allowed() -> bool:
    import os

    return os.environ.get(TEST_JOBS_ENV) == "1"


class WireError(SongBridgeError):
    """A message does not follow the schema; the text names the field."""


def _obj(v: Any, where: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise WireError(f"{where}: expected an object")
    return v


def _num(v: Any, where: str, lo: float, hi: float) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or not lo <= v <= hi:
        raise WireError(f"{where}: expected a number {lo:g}..{hi:g}")
    return float(v)


def _int(v: Any, where: str, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise WireError(f"{where}: expected an integer {lo}..{hi}")
    return v


def _str(v: Any, where: str, limit: int = 200, pattern: str | None = None) -> str:
    import re

    if not isinstance(v, str) or len(v) > limit or (pattern and not re.fullmatch(pattern, v)):
        raise WireError(f"{where}: expected a string" + (f" matching {pattern}" if pattern else ""))
    return v


def _params(v: Any, where: str) -> dict[str, Any]:
    p = _obj(v, where)
    if len(p) > 32:
        raise WireError(f"{where}: at most 32 parameters")
    for k, x in p.items():
        _str(k, f"{where} key", 40, r"[a-z_][a-z0-9_]*")
        if not (isinstance(x, str | int | float | bool) and (not isinstance(x, float) or math.isfinite(x))):
            raise WireError(f"{where}.{k}: expected a string, number or boolean")
    return dict(p)


# -- jobs ------------------------------------------------------------------------------------------------------------
TAKE_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
UPLOAD_ID = r"[0-9a-f]{32}"


def job_to_json(job: Any, uploads: dict[str, str] | None = None) -> dict[str, Any]:
    """``uploads``: {source take id: upload id} for the takes a generate job edits (uploaded beforehand)."""
    from engine.service.jobs import GenerateJob, SleepJob

    if isinstance(job, SleepJob):
        return {"kind": "sleep", "steps": job.steps, "step_s": job.step_s, "priority": job.priority,
                "label": job.label, "crash": job.crash}
    if isinstance(job, GenerateJob):
        from engine.song.document import song_to_dict
        from engine.song.model import Song, SongInfo

        reqs = []
        for r in job.requests:
            song = Song(info=SongInfo(r.title), tempo=r.tempo, key=r.key, style=r.style, sections=r.sections,
                        lyrics=r.lyrics)
            req = {"take_id": r.take_id, "folder": r.out_dir.name, "song": song_to_dict(song),
                   "duration_s": r.duration_s, "seed": r.seed, "params": dict(r.params), "name": r.name}
            if r.edit is not None:
                upload = (uploads or {}).get(r.edit.source_take)
                if upload is None:
                    raise WireError(f"the take to edit ({r.edit.source_take}) was not uploaded")
                req["edit"] = {"source": r.edit.source_take, "upload": upload,
                               "ranges": [[x.start_s, x.end_s] for x in r.edit.ranges]}
            reqs.append(req)
        return {"kind": "generate", "backend": job.backend, "requests": reqs, "priority": job.priority,
                "label": job.label, "batch": job.batch}
    raise WireError(f"a {type(job).__name__} cannot run on a remote engine (render jobs run where the files are)")


def edit_uploads(data: Any) -> dict[str, str]:
    """{source take: upload id} a (validated) generate job needs in place before it runs."""
    out: dict[str, str] = {}
    for r in data.get("requests", []) if isinstance(data, dict) else []:
        e = r.get("edit") if isinstance(r, dict) else None
        if isinstance(e, dict):
            out[e["source"]] = e["upload"]
    return out


def _edit(v: Any, where: str) -> Any:
    from engine.backends.base import EditSpec
    from engine.song.model import TimeRange

    e = _obj(v, where)
    extra = set(e) - {"source", "upload", "ranges"}
    if extra:
        raise WireError(f"{where}: unknown field {sorted(extra)[0]!r}")
    source = _str(e.get("source"), f"{where}.source", 64, TAKE_NAME)
    _str(e.get("upload"), f"{where}.upload", 32, UPLOAD_ID)
    raw = e.get("ranges")
    if not isinstance(raw, list) or not 1 <= len(raw) <= 256:
        raise WireError(f"{where}.ranges: expected 1..256 [start, end] pairs")
    ranges = []
    for i, pair in enumerate(raw):
        if not isinstance(pair, list) or len(pair) != 2:
            raise WireError(f"{where}.ranges[{i}]: expected [start_s, end_s]")
        try:
            ranges.append(TimeRange(_num(pair[0], f"{where}.ranges[{i}][0]", 0, 900),
                                    _num(pair[1], f"{where}.ranges[{i}][1]", 0, 900)))
        except ValueError as exc:
            raise WireError(f"{where}.ranges[{i}]: {exc}") from None
    return EditSpec(source, tuple(ranges))


def job_from_json(data: Any, scratch: Path) -> Any:
    """A job from a client, its takes placed under ``scratch`` (the server's folder for this job); a take it edits
    is expected at ``scratch/takes/<source>`` (the server moves the upload there, see :func:`edit_uploads`)."""
    from engine.service.jobs import GenerateJob, SleepJob

    d = _obj(data, "job")
    kind = d.get("kind")
    priority = _int(d.get("priority", 0), "job.priority", -100, 100)
    label = _str(d.get("label", ""), "job.label")
    if kind == "sleep" and not sleep_jobs_allowed():
        raise WireError("job.kind: 'sleep' jobs are for the engine's tests and are off on this engine")
    if kind == "sleep":
        extra = set(d) - {"kind", "steps", "step_s", "priority", "label", "crash"}
        if extra:
            raise WireError(f"job: unknown field {sorted(extra)[0]!r}")
        return SleepJob(_int(d.get("steps", 10), "job.steps", 1, 10_000), _num(d.get("step_s", 0.05), "job.step_s",
                                                                                 0, 10),
                        priority, label, _str(d.get("crash", ""), "job.crash", 10, r"(raise|exit)?"))
    if kind != "generate":
        raise WireError(f"job.kind: expected generate, not {str(kind)[:40]!r}")
    extra = set(d) - {"kind", "backend", "requests", "priority", "label", "batch"}
    if extra:
        raise WireError(f"job: unknown field {sorted(extra)[0]!r}")
    from engine.backends.base import GenerationRequest
    from engine.song.document import song_from_dict

    backend = _str(d.get("backend"), "job.backend", 40, r"[a-z][a-z0-9_-]*")
    raw = d.get("requests")
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_REQUESTS:
        raise WireError(f"job.requests: expected 1..{MAX_REQUESTS} requests")
    reqs = []
    for i, r in enumerate(raw):
        where = f"job.requests[{i}]"
        r = _obj(r, where)
        extra = set(r) - {"take_id", "folder", "song", "duration_s", "seed", "params", "name", "edit"}
        if extra:
            raise WireError(f"{where}: unknown field {sorted(extra)[0]!r}")
        take_id = _str(r.get("take_id"), f"{where}.take_id", 64, TAKE_NAME)
        edit = _edit(r["edit"], f"{where}.edit") if r.get("edit") is not None else None
        if edit is not None and edit.source_take in (take_id, r.get("folder")):
            raise WireError(f"{where}.edit.source: a take cannot edit itself")
        folder = _str(r.get("folder", take_id), f"{where}.folder", 80, r"\.?[A-Za-z0-9][A-Za-z0-9_.-]*")
        try:
            song = song_from_dict(_obj(r.get("song"), f"{where}.song"), f"{where}.song")
        except SongBridgeError as exc:
            raise WireError(str(exc)) from None
        try:
            reqs.append(GenerationRequest(
                take_id=take_id, out_dir=scratch / "takes" / folder, lyrics=tuple(song.timed_lines()),
                style=song.style, duration_s=_num(r.get("duration_s"), f"{where}.duration_s", 0.5, 900),
                seed=_int(r.get("seed"), f"{where}.seed", 0, 2**32 - 1), tempo=song.tempo, key=song.key,
                sections=song.sections, params=_params(r.get("params", {}), f"{where}.params"),
                title=song.info.title, name=_str(r.get("name", ""), f"{where}.name"), edit=edit))
        except ValueError as exc:
            raise WireError(f"{where}: {exc}") from None
    batch = d.get("batch", True)
    if not isinstance(batch, bool):
        raise WireError("job.batch: expected true or false")
    return GenerateJob(backend, tuple(reqs), {}, priority, label, batch)


# -- events ----------------------------------------------------------------------------------------------------------
def event_to_json(ev: Any, files: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    from engine.service import events as e

    base = {"job": ev.job_id}
    if isinstance(ev, e.Queued):
        return {**base, "type": "queued", "position": ev.position, "estimate_s": ev.estimate_s,
                "estimate_bytes": ev.estimate_bytes}
    if isinstance(ev, e.Started):
        return {**base, "type": "started"}
    if isinstance(ev, e.Progress):
        return {**base, "type": "progress", "step": ev.step, "total": ev.total, "eta_s": ev.eta_s}
    if isinstance(ev, e.Finished):
        from engine.song.document import take_to_dict

        return {**base, "type": "finished", "takes": [take_to_dict(t) for t in ev.takes], "files": files or []}
    if isinstance(ev, e.Failed):
        return {**base, "type": "failed", "error": ev.error[:2000]}
    if isinstance(ev, e.Cancelled):
        return {**base, "type": "cancelled"}
    raise WireError(f"no wire form for {type(ev).__name__}")


def event_from_json(data: Any) -> tuple[Any, list[dict[str, Any]]]:
    """(event, file manifest) from the server; the manifest is checked by the client before any write."""
    from engine.service import events as e

    d = _obj(data, "event")
    job = _str(d.get("job"), "event.job", 64, r"[A-Za-z0-9_-]+")
    kind = d.get("type")
    if kind == "queued":
        return e.Queued(job, _int(d.get("position"), "event.position", 0, 10**6),
                        _num(d.get("estimate_s"), "event.estimate_s", 0, 1e7),
                        _int(d.get("estimate_bytes"), "event.estimate_bytes", 0, 2**50)), []
    if kind == "started":
        return e.Started(job), []
    if kind == "progress":
        eta = d.get("eta_s")
        return e.Progress(job, _int(d.get("step"), "event.step", 0, 10**7), _int(d.get("total"), "event.total", 0,
                                                                               10**7),
                          None if eta is None else _num(eta, "event.eta_s", 0, 1e7)), []
    if kind == "finished":
        from engine.song.document import Obj, read_take

        takes = d.get("takes", [])
        files = d.get("files", [])
        if not isinstance(takes, list) or not isinstance(files, list) or len(files) > 10_000:
            raise WireError("event.takes and event.files: expected lists")
        try:
            parsed = tuple(read_take(Obj(_obj(t, f"event.takes[{i}]"), f"event.takes[{i}]"))
                           for i, t in enumerate(takes))
        except (SongBridgeError, ValueError) as exc:
            raise WireError(f"event.takes: {exc}") from None
        checked = []
        for i, f in enumerate(files):
            f = _obj(f, f"event.files[{i}]")
            checked.append({"take": _str(f.get("take"), f"event.files[{i}].take", 64, TAKE_NAME),
                            "path": _str(f.get("path"), f"event.files[{i}].path", 300),
                            "size": _int(f.get("size"), f"event.files[{i}].size", 0, 2**40),
                            "sha256": _str(f.get("sha256"), f"event.files[{i}].sha256", 64, r"[0-9a-f]{64}")})
        return e.Finished(job, parsed), checked
    if kind == "failed":
        return e.Failed(job, _str(d.get("error", ""), "event.error", 4000)), []
    if kind == "cancelled":
        return e.Cancelled(job), []
    raise WireError(f"event.type: unknown {str(kind)[:40]!r}")
