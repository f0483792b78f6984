"""The engine's client facing a malicious engine on loopback: downloads that lie about their size or drip, and
``finished`` events that claim takes the job never asked for. Every refusal names the engine and the take or file,
and leaves the project as it was."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from engine.service import GenerateJob
from engine.service.api.client import EngineApiError, HttpEngine
from engine.service.api.fetch import Asked, FetchLimits, fetch_takes
from engine.service.events import Failed
from engine.session import JobEnded, Session
from engine.song.lock import LOCK_FILE
from tests.engine.service.conftest import KEY
from tests.engine.service.hostile_engine import HostileEngine, entry, honest_files, take_json
from tests.engine.session.test_session import make_project

MiB = 1 << 20


def _bodies(bodies: dict[str, bytes]) -> Any:
    async def body(take: str, path: str) -> Any:
        yield bodies[path]

    return body


def _fetch_one(hostile: HostileEngine, project: Any, limits: FetchLimits | None = None,
               wait_s: float = 10.0) -> tuple[list[Any], float]:
    """Submit one take's job to ``hostile`` and follow it; (its events, seconds from submit to the last)."""
    from engine.generation import plan_takes

    req = plan_takes(project, 1, 11)[0]
    with HttpEngine(hostile.url, KEY, limits=limits) as client:
        t0 = time.monotonic()
        job = client.submit(GenerateJob("guide", (req,)))
        events = list(client.follow(job, timeout=wait_s))
        return events, time.monotonic() - t0


def _left_behind(project: Any) -> list[str]:
    takes = project.folder / "takes"
    return sorted(str(p.relative_to(takes)) for p in takes.rglob("*")) if takes.exists() else []


def test_a_download_longer_than_announced_is_cut_with_bounded_memory(tmp_path: Path) -> None:
    project = make_project(tmp_path, take=False)
    files, bodies = honest_files("take-001")
    files[0] = entry("take-001", "mix.wav", b"x" * MiB)  # announced: 1 MiB
    block = b"x" * MiB

    async def body(take: str, path: str) -> Any:
        if path != "mix.wav":
            yield bodies[path]
            return
        for _ in range(64):  # sent: 64 MiB, chunked (no length to check up front)
            yield block

    with HostileEngine(lambda asked: ([take_json(asked[0])], files), body) as hostile:
        tracemalloc.start()
        try:
            events, _ = _fetch_one(hostile, project)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    end = events[-1]
    assert isinstance(end, Failed), events
    assert peak < 16 * MiB, f"peak {peak / MiB:.1f} MiB"  # streamed and cut, not read whole and then checked
    assert hostile.url in end.error and "take-001/mix.wav" in end.error, end.error
    assert f"more than the {MiB} bytes it announced" in end.error, end.error
    assert _left_behind(project) == []  # no take folder, no staging folder, no temporary file


def test_a_file_over_the_cap_is_refused_before_it_is_fetched(tmp_path: Path) -> None:
    project = make_project(tmp_path, take=False)
    files, bodies = honest_files("take-001")
    files[0] = entry("take-001", "mix.wav", b"", size=3 << 30)  # over the 2 GiB a file may have
    with HostileEngine(lambda asked: ([take_json(asked[0])], files), _bodies(bodies)) as hostile:
        events, _ = _fetch_one(hostile, project)
    end = events[-1]
    assert isinstance(end, Failed), events
    assert hostile.url in end.error and "take-001/mix.wav" in end.error and "a file may have" in end.error
    assert hostile.fetched == []
    assert _left_behind(project) == []


@pytest.mark.parametrize(("limits", "said"), [
    (FetchLimits(transfer_s=1.0, idle_s=0.8), "took longer than 1 s to send take-001/mix.wav"),
    (FetchLimits(idle_s=0.8, min_rate_bps=1000, grace_s=0.5), "slower than the 1000 bytes/s"),
], ids=["transfer-limit", "rate-floor"])
def test_a_drip_fed_download_is_cut(tmp_path: Path, limits: FetchLimits, said: str) -> None:
    project = make_project(tmp_path, take=False)
    drip = b"x" * 40
    files, bodies = honest_files("take-001")
    files[0] = entry("take-001", "mix.wav", drip)

    async def body(take: str, path: str) -> Any:
        if path != "mix.wav":
            yield bodies[path]
            return
        for b in drip:  # a byte every 0.25 s: never idle for long, never done (10 s)
            yield bytes([b])
            await asyncio.sleep(0.25)

    with HostileEngine(lambda asked: ([take_json(asked[0])], files), body) as hostile:
        events, took = _fetch_one(hostile, project, limits, wait_s=5)
    end = events[-1]
    assert isinstance(end, Failed), events
    assert hostile.url in end.error and said in end.error and "take-001/mix.wav" in end.error, end.error
    assert took < 3.0, took
    assert _left_behind(project) == []


def test_a_stalled_download_is_cut_at_the_idle_limit(tmp_path: Path) -> None:
    project = make_project(tmp_path, take=False)
    data = b"x" * 1000
    files, bodies = honest_files("take-001")
    files[0] = entry("take-001", "mix.wav", data)

    async def body(take: str, path: str) -> Any:
        if path != "mix.wav":
            yield bodies[path]
            return
        yield data[:10]
        await asyncio.sleep(3)  # then silence, well inside a plain read timeout
        yield data[10:]

    limits = FetchLimits(transfer_s=30.0, idle_s=0.5)
    with HostileEngine(lambda asked: ([take_json(asked[0])], files), body) as hostile:
        events, took = _fetch_one(hostile, project, limits, wait_s=5)
    end = events[-1]
    assert isinstance(end, Failed), events
    assert "sent nothing for 0.5 s while sending take-001/mix.wav (10 of 1000 bytes)" in end.error, end.error
    assert took < 2.0, took
    assert _left_behind(project) == []


def test_a_transfer_limit_covers_dripped_headers(tmp_path: Path) -> None:
    """The deadline bounds every read, the response's headers too (one header line every 0.2 s, for ever)."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def drip() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            for i in range(50):  # bounded: 10 s at most
                if stop.wait(0.2):
                    return
                try:
                    conn.sendall(b"X-Drip-%d: y\r\n" % i)
                except OSError:
                    return

    t = threading.Thread(target=drip, daemon=True)
    t.start()
    folder = tmp_path / "takes" / "take-001"
    plan = {"take-001": [entry("take-001", "mix.wav", b"x" * 100)]}
    t0 = time.monotonic()
    try:
        with pytest.raises(EngineApiError, match="took longer than 1 s to send take-001/mix.wav"):
            fetch_takes(f"http://127.0.0.1:{port}", KEY, None, "job1", plan, Asked({"take-001": folder}),
                        FetchLimits(transfer_s=1.0, idle_s=0.8), "the engine at test")
        assert time.monotonic() - t0 < 2.0
    finally:
        stop.set()
        t.join(timeout=5)
        listener.close()
    assert sorted(p.name for p in (tmp_path / "takes").iterdir()) == []


def _snapshot(folder: Path) -> tuple[bytes, list[str]]:
    return (folder / "song.json").read_bytes(), sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                                                       if p.name != LOCK_FILE)


def _extra_takes(asked: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    files, _ = honest_files(asked[0])
    return [take_json(asked[0]), *(take_json(f"take-{i:04d}") for i in range(100, 3100))], files


def _replaced_take(asked: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    files, _ = honest_files(asked[0])
    return [take_json(asked[0]), take_json("take-001", name="Overwritten", seed=666)], files


def _hostile_stem(asked: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    files, _ = honest_files(asked[0])
    return [take_json(asked[0], stems=["../../x/victim"])], files


@pytest.mark.parametrize(("finish", "said"), [
    (_extra_takes, "sent take 'take-0100' (3001 take(s) in all) for job job1, which asked only for pending-"),
    (_replaced_take, "sent take 'take-001' (2 take(s) in all) for job job1, which asked only for pending-"),
    (_hostile_stem, "'../../x/victim'"),
], ids=["extra-takes", "replaced-take", "hostile-stem"])
def test_a_finished_event_is_held_to_what_the_job_asked_for(tmp_path: Path, finish: Any, said: str) -> None:
    project = make_project(tmp_path)  # take-001 exists
    before = _snapshot(project.folder)
    ended: list[JobEnded] = []

    async def body(take: str, path: str) -> Any:
        yield honest_files(take)[1][path]

    with HostileEngine(finish, body) as hostile, HttpEngine(hostile.url, KEY) as engine:
        session = Session.open(project.folder, engine, "test")
        session.subscribe(lambda ev: ended.append(ev) if isinstance(ev, JobEnded) else None)
        try:
            session.generate("guide", 1, 5)
            deadline = time.monotonic() + 10
            while not ended and time.monotonic() < deadline:
                time.sleep(0.02)
            session.flush()
        finally:
            session.close()
    assert [e.state for e in ended] == ["failed"], [(e.state, e.takes) for e in ended]
    error = ended[0].error
    assert f"the engine at {hostile.url}" in error and said in error and "Traceback" not in error, error
    assert _snapshot(project.folder) == before  # song.json and every file as they were
    assert json.loads(before[0])["takes"][0]["name"] == "Take 1"


@pytest.mark.slow  # a subprocess: about 5 s
def test_the_command_line_refuses_a_take_it_did_not_ask_for(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    project = make_project(tmp_path)  # take-001 exists
    lyrics = tmp_path / "l.txt"
    lyrics.write_text("[verse]\none two three\n[chorus]\nfour five six\n")

    async def body(take: str, path: str) -> Any:
        yield honest_files(take)[1][path]

    with HostileEngine(_replaced_take, body) as hostile:
        out = run_cli("generate", str(lyrics), "-o", str(project.folder), "--backend", "guide", "--engine",
                      hostile.url, env={"SONGBRIDGE_ENGINE_KEY": KEY.decode()})
    assert out.returncode == 2, out.stderr
    assert f"the engine at {hostile.url} sent take 'take-001'" in out.stderr and "Traceback" not in out.stderr
    song = json.loads((project.folder / "song.json").read_text())
    assert [(t["id"], t["name"], t["seed"]) for t in song["takes"]] == [("take-001", "Take 1", 1)]
    assert sorted(p.name for p in (project.folder / "takes").iterdir()) == ["take-001"]
