"""The engine's HTTP/WebSocket API on loopback: the token, hostile connections, files checked on arrival, cancel."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import pytest

from engine.service import SleepJob
from engine.service.api.auth import EngineKeyError
from engine.service.api.client import EngineApiError, HttpEngine, safe_target
from engine.service.events import Cancelled, Finished
from engine.song.document import save_song
from tests.engine.service.conftest import KEY, free_port
from tests.waiting import wait_until


def test_a_missing_or_wrong_token_is_refused_before_the_queue(engine_url: str) -> None:
    assert httpx.get(f"{engine_url}/v1/status").status_code == 401
    r = httpx.post(f"{engine_url}/v1/jobs", headers={"Authorization": "Bearer " + "x" * 32},
                   json={"job": {"kind": "sleep"}})
    assert r.status_code == 401
    with pytest.raises(EngineKeyError, match="refused the key"):
        HttpEngine(engine_url, b"w" * 32)
    good = HttpEngine(engine_url, KEY)
    assert good.jobs() == []  # nothing reached the queue
    good.close()


def test_repeated_failures_are_rate_limited(engine_url: str) -> None:
    codes = [httpx.get(f"{engine_url}/v1/status", headers={"Authorization": "Bearer nope"}).status_code
             for _ in range(12)]
    assert codes[:10] == [401] * 10 and codes[-1] == 429


def test_hostile_connections_leave_the_engine_serving(engine_url: str) -> None:
    host, port = "127.0.0.1", int(engine_url.rsplit(":", 1)[1])
    silent = socket.create_connection((host, port))  # never speaks
    socket.create_connection((host, port)).close()  # closes at once
    junk = socket.create_connection((host, port))
    junk.sendall(b"\x00\xff garbage \r\n\r\n" * 50)
    t0 = time.monotonic()
    client = HttpEngine(engine_url, KEY)
    assert client.status()["schema"].startswith("songbridge-engine/")
    assert time.monotonic() - t0 < 1.0
    client.close()
    silent.close()
    junk.close()


def test_bad_jobs_are_refused_naming_the_field(engine_url: str) -> None:
    h = {"Authorization": "Bearer " + KEY.decode()}
    r = httpx.post(f"{engine_url}/v1/jobs", headers=h, json={"job": {"kind": "pickle", "payload": "cos\nsystem"}})
    assert r.status_code == 422 and "job.kind" in r.json()["detail"]
    r = httpx.post(f"{engine_url}/v1/jobs", headers=h, content=b"{not json")
    assert r.status_code == 400
    r = httpx.post(f"{engine_url}/v1/jobs", headers=h, content=b"x" * (5 << 20))
    assert r.status_code == 413


def test_cancel_through_the_api_within_a_step(engine_url: str) -> None:
    client = HttpEngine(engine_url, KEY)
    job = client.submit(SleepJob(steps=200, step_s=0.05))
    time.sleep(0.5)
    t0 = time.monotonic()
    assert client.cancel(job)
    ev = next(e for e in client.follow(job, timeout=10) if isinstance(e, Cancelled | Finished))
    assert isinstance(ev, Cancelled) and time.monotonic() - t0 < 1.0
    client.close()


def test_a_guide_take_arrives_checked_in_the_clients_project(engine_url: str, tmp_path: Path) -> None:
    from engine.generation import SongChoices, plan_takes, prepare_song
    from engine.lyrics import parse
    from engine.service import GenerateJob
    from engine.song.model import Song
    from engine.song.project import Project

    project = Project(tmp_path / "laptop.songbridge", Song())
    project.song = prepare_song(project.song, parse("[verse]\nover the wire\nand back\n"),
                                SongChoices(title="Remote", style="pop", bpm=120, sections="verse:2"),
                                first_time=True)
    save_song(project.song, project.folder)
    req = plan_takes(project, 1, 11)[0]
    client = HttpEngine(engine_url, KEY)
    job = client.submit(GenerateJob("guide", (req,)))
    events = list(client.follow(job, timeout=120))
    fin = events[-1]
    assert isinstance(fin, Finished), events
    assert [type(e).__name__ for e in events][:2] == ["Queued", "Started"]
    take_dir = project.folder / "takes" / req.take_id
    assert (take_dir / "mix.wav").stat().st_size > 44100 and (take_dir / "record.json").exists()
    assert fin.takes[0].id == req.take_id
    client.close()


def test_paths_from_the_engine_cannot_leave_the_take_folder(tmp_path: Path) -> None:
    root = tmp_path / "takes" / "take-001"
    root.mkdir(parents=True)
    assert safe_target(root, "stems/vocal.wav") == root / "stems" / "vocal.wav"
    for bad in ("../../../../etc/passwd", "/etc/passwd", "stems/../../x", "", "a\\..\\b", "a//b"):
        with pytest.raises(EngineApiError, match="outside the take folder"):
            safe_target(root, bad)
    (root / "link").symlink_to(tmp_path)
    with pytest.raises(EngineApiError):
        safe_target(root, "link/escape.wav")


def _serve_cli(port: int, *extra: str):
    import os
    import subprocess
    import sys

    env = {**os.environ, "SONGBRIDGE_ENGINE_KEY": KEY.decode()}
    proc = subprocess.Popen([sys.executable, "-m", "songbridge", "serve", "--engine", "--listen",
                             f"127.0.0.1:{port}", *extra], env=env, stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    assert "engine API on" in line, line
    wait_until(lambda: socket.create_connection(("127.0.0.1", port), timeout=0.2).close() is None, 20,
               f"the engine API to listen on port {port}")
    return proc, env


@pytest.mark.slow
def test_generate_on_a_remote_engine_over_https_with_a_trusted_certificate(tmp_path: Path) -> None:
    import subprocess
    import sys

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    port = free_port()
    proc, env = _serve_cli(port, "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        lrc = tmp_path / "song.lrc"
        lrc.write_text("[00:01.00]over the wire\n[00:04.00]and back again\n")
        base = [sys.executable, "-m", "songbridge", "generate", str(lrc), "--backend", "guide", "--duration", "8",
                "--engine", f"https://127.0.0.1:{port}"]
        r = subprocess.run([*base, "-o", str(tmp_path / "untrusted")], env=env, capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 2 and "certificate" in r.stderr.lower() and "Traceback" not in r.stderr
        assert not (tmp_path / "untrusted.songbridge").exists()
        r = subprocess.run([*base, "-o", str(tmp_path / "remote"), "--engine-ca", str(cert)], env=env,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        takes = list((tmp_path / "remote.songbridge" / "takes").glob("take-*/mix.wav"))
        assert len(takes) == 1 and takes[0].stat().st_size > 44100
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_a_job_survives_its_client_going_away(engine_url: str) -> None:
    first = HttpEngine(engine_url, KEY)
    job = first.submit(SleepJob(steps=20, step_s=0.05))
    time.sleep(0.3)
    first.close()  # the laptop's program quits mid-job
    with pytest.raises(EngineApiError, match="was closed"):  # its event thread's next request: an error it handles
        first.status()
    second = HttpEngine(engine_url, KEY)
    second.attach(job)
    events = list(second.follow(job, timeout=30))
    names = [type(e).__name__ for e in events]
    assert names[0] == "Queued" and names[-1] == "Finished" and names.count("Progress") == 20  # replayed whole
    second.close()
