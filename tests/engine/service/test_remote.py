from __future__ import annotations

import time
from pathlib import Path

import pytest

from engine.generation import SongChoices, plan_takes, prepare_song
from engine.lyrics import parse
from engine.service import EngineService, Finished, GenerateJob
from engine.service.remote import EngineKeyError, RemoteEngine, RemoteEngineServer, read_key
from engine.song import Project, Song

KEY = b"test-key-0123456789abcdef"


@pytest.fixture
def server(tmp_path: Path):
    srv = RemoteEngineServer(("127.0.0.1", 0), KEY, EngineService("process"), workdir=tmp_path / "server").start()
    yield srv
    srv.close()


def address(srv: RemoteEngineServer) -> str:
    return f"{srv.address[0]}:{srv.address[1]}"


def test_wrong_key_is_refused_and_the_server_keeps_serving(server: RemoteEngineServer) -> None:
    with pytest.raises(EngineKeyError, match="refused the key"):
        RemoteEngine(address(server), b"not-the-right-key-at-all")
    deadline = time.monotonic() + 10  # the server counts the refusal after the client has its answer
    while server.refused < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.refused == 1
    with RemoteEngine(address(server), KEY) as client:
        assert client.jobs() == []


def test_a_remote_job_lands_in_the_clients_project(server: RemoteEngineServer, tmp_path: Path) -> None:
    p = Project(tmp_path / "client" / "song.songbridge", Song())
    p.song = prepare_song(p.song, parse("far away\n"), SongChoices(style="folk", bpm=100, sections="verse:2"),
                          first_time=True)
    p.save()
    req = plan_takes(p, 1, 5)[0]
    with RemoteEngine(address(server), KEY) as client:
        job = client.submit(GenerateJob("guide", (req,)))
        events = list(client.follow(job, timeout=180))
    assert isinstance(events[-1], Finished) and events[-1].take.id == "take-001"
    folder = tmp_path / "client" / "song.songbridge" / "takes" / "take-001"
    assert sorted(x.name for x in folder.rglob("*") if x.is_file()) == [
        "bass.wav", "drums.wav", "keys.wav", "mix.wav", "record.json", "vocal.wav"]
    assert not list((tmp_path / "server").rglob("*.wav"))  # the server keeps no copy


def test_keys(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("SONGBRIDGE_ENGINE_KEY", raising=False)
    with pytest.raises(EngineKeyError, match="SONGBRIDGE_ENGINE_KEY"):
        read_key()
    f = tmp_path / "key"
    f.write_text("a-long-enough-secret-key\n")
    assert read_key(str(f)) == b"a-long-enough-secret-key"
    with pytest.raises(EngineKeyError, match="cannot read"):
        read_key(str(tmp_path / "missing"))
