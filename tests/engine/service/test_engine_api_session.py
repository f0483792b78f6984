"""A project's session on a remote engine, as the app and the bridge use it: new takes, an edit of a take (its
folder uploaded and checked), a render for the DAW (run where the files are), and the engine keeping no copy."""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path

import httpx
import pytest

from engine.service import RenderJob
from engine.service.api.auth import EngineKeyError, read_key
from engine.service.api.client import HttpEngine
from engine.session import JobEnded, Regenerate, Session
from engine.song import load_song
from tests.engine.service.conftest import KEY
from tests.engine.session.test_session import make_project
from tests.waiting import wait_until


def _wait(ended: list, n: int, timeout: float = 120) -> None:
    wait_until(lambda: len(ended) >= n, timeout, f"{n} jobs to end")


def test_a_session_generates_edits_and_renders_through_the_api(engine_url: str, tmp_path: Path) -> None:
    project = make_project(tmp_path)  # take-001 made here, on the laptop
    engine = HttpEngine(engine_url, KEY)
    session = Session.open(project.folder, engine, "test")
    ended: list[JobEnded] = []
    session.subscribe(lambda ev: ended.append(ev) if isinstance(ev, JobEnded) else None)
    try:
        session.generate("guide", 1, 5)
        _wait(ended, 1)
        session.regenerate(Regenerate(seconds=((2.0, 4.0),), take="take-001", seed=6))
        _wait(ended, 2)
        assert [e.state for e in ended] == ["finished", "finished"], [e.error for e in ended]
        assert [t.id for e in ended for t in e.takes] == ["take-002", "take-003"]
        session.flush()
        song = load_song(project.folder)
        edited = song.take("take-003")
        record = json.loads((project.folder / "takes" / "take-003" / "record.json").read_text())
        assert record["id"] == "take-003" and edited.duration_s == song.take("take-001").duration_s
        from engine.audio.io import read_audio

        assert edited.parent == "take-001" and [(r.start_s, r.end_s) for r in edited.edited_ranges] == [(2.0, 4.0)]
        keep, redo = slice(int(0.5 * 44100), int(1.5 * 44100)), slice(int(2.1 * 44100), int(3.9 * 44100))
        changed = 0.0
        for stem in edited.stems:  # the engine had the source take: outside the range it is spliced back exactly
            old, _ = read_audio(project.folder / "takes" / "take-001" / "stems" / f"{stem}.wav")
            new, _ = read_audio(project.folder / "takes" / "take-003" / "stems" / f"{stem}.wav")
            assert abs(old[keep] - new[keep]).max() < 1e-4, stem
            changed = max(changed, float(abs(old[redo] - new[redo]).max()))
        assert changed > 1e-3  # and inside it, new material

        from engine.render import RenderSettings

        job = engine.submit(RenderJob(project.folder, "take-003", RenderSettings(), label="render take-003"))
        assert any(j.id == job for j in engine.jobs())
        wait_until((project.folder / "renders" / "take-003").is_dir, 120, "renders/take-003")
        remote_ids = {j.id for j in engine.engine_jobs()}
        assert job not in remote_ids and len(remote_ids) == 2  # the render ran here, not on the engine
    finally:
        session.close()
        engine.close()
    scratch = tmp_path / "scratch"
    assert not list(scratch.rglob("*.wav")), list(scratch.rglob("*.wav"))  # fetched, checked, deleted there


def test_uploads_are_checked_and_refused_clearly(engine_url: str, tmp_path: Path) -> None:
    h = {"Authorization": "Bearer " + KEY.decode()}
    up = httpx.post(f"{engine_url}/v1/uploads", headers=h).json()["upload"]
    data = b"RIFF not really a wav"
    good = {**h, "X-SongBridge-SHA256": hashlib.sha256(data).hexdigest()}
    assert httpx.put(f"{engine_url}/v1/uploads/{up}/stems/vocal.wav", headers=good, content=data).status_code == 201
    bad = httpx.put(f"{engine_url}/v1/uploads/{up}/mix.wav", headers={**h, "X-SongBridge-SHA256": "0" * 64},
                    content=data)
    assert bad.status_code == 422 and "do not match" in bad.json()["detail"]
    for path in ("..%2F..%2Fescape", "a/../../../../escape", "%2E%2E/%2E%2E/escape", "/etc/escape"):
        r = httpx.put(f"{engine_url}/v1/uploads/{up}/{path}", headers=good, content=data)
        assert r.status_code != 201 and r.status_code >= 300, (path, r.status_code)
    assert [p.name for p in tmp_path.rglob("*escape*")] == []
    assert httpx.put(f"{engine_url}/v1/uploads/{'f' * 32}/mix.wav", headers=good, content=data).status_code == 404
    unauth = httpx.put(f"{engine_url}/v1/uploads/{up}/x.wav", content=data)
    assert unauth.status_code == 401
    host, port = engine_url[len("http://"):].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:  # says 1 TiB, sends nothing
        raw.sendall(f"PUT /v1/uploads/{up}/x.wav HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY.decode()}\r\n"
                    f"X-SongBridge-SHA256: {'0' * 64}\r\nContent-Length: {1 << 40}\r\n\r\n".encode())
        assert raw.recv(100).startswith(b"HTTP/1.1 413")
    # a job naming an upload that does not exist is refused before it is queued
    job = {"kind": "generate", "backend": "guide", "requests": [{
        "take_id": "take-002", "song": {"schema": 1}, "duration_s": 4, "seed": 1,
        "edit": {"source": "take-001", "upload": "0" * 32, "ranges": [[1, 2]]}}]}
    r = httpx.post(f"{engine_url}/v1/jobs", headers=h, json={"job": job})
    assert r.status_code == 422
    assert httpx.get(f"{engine_url}/v1/jobs", headers=h).json() == []


def test_keys(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("SONGBRIDGE_ENGINE_KEY", raising=False)
    with pytest.raises(EngineKeyError, match="SONGBRIDGE_ENGINE_KEY"):
        read_key()
    f = tmp_path / "key"
    f.write_text("a-long-enough-secret-key\n")
    assert read_key(str(f)) == b"a-long-enough-secret-key"
    with pytest.raises(EngineKeyError, match="cannot read"):
        read_key(str(tmp_path / "missing"))
    f.write_text("a key with spaces in it\n")
    with pytest.raises(EngineKeyError, match="printable ASCII"):
        read_key(str(f))


def test_status_lists_the_workers(engine_url: str) -> None:
    with HttpEngine(engine_url, KEY) as engine:
        workers = engine.workers()
        assert len(workers) == 1 and workers[0]["running"] is None and "device" in workers[0]
