"""The session core: one owner per project, take ids at commit, what a crash leaves, history, saving."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from engine.errors import SongBridgeError
from engine.generation import SongChoices, plan_takes, prepare_song, run_take
from engine.lyrics import parse
from engine.service import EngineService
from engine.session import JobEnded, Regenerate, Session, SongChanged
from engine.song import Project, Song, load_song
from engine.song.document import save_song
from engine.song.lock import LOCK_FILE, ProjectBusy, ProjectLock


def make_project(tmp: Path, take: bool = True) -> Project:
    from engine.backends.guide.backend import GuideBackend

    project = Project(tmp / "s.songbridge", Song())
    project.song = prepare_song(project.song, parse("[verse]\none two three\n[chorus]\nfour five six\n"),
                                SongChoices(title="Session", style="pop", bpm=120, sections="verse:2,chorus:2"),
                                first_time=True)
    save_song(project.song, project.folder)
    if take:
        run_take(project, GuideBackend(), plan_takes(project, 1, 1)[0], lambda d, t: None, lambda: False)
    return project


def test_requests_queued_back_to_back_all_become_takes(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    engine = EngineService("thread").start()
    session = Session.open(project.folder, engine, "test")
    ended: list[JobEnded] = []
    session.subscribe(lambda ev: ended.append(ev) if isinstance(ev, JobEnded) else None)
    try:
        jobs = [session.generate("guide", 1, 7) for _ in range(3)]
        jobs.append(session.regenerate(Regenerate(seconds=((2.0, 4.0),), take="take-001", seed=8)))
        jobs.append(session.generate("guide", 2, 9))  # one job, two takes: job/done must name both
        deadline = time.monotonic() + 120
        while len(ended) < len(jobs) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [e.state for e in ended] == ["finished"] * 5, [e.error for e in ended]
        named = [t.id for e in ended for t in e.takes]
        assert sorted(named) == [f"take-{i:03d}" for i in range(2, 8)]
        assert [len(e.takes) for e in ended if e.job_id == jobs[-1]] == [2]
        session.flush()
        on_disk = load_song(project.folder)
        assert [t.id for t in on_disk.takes] == ["take-001", *named]
        assert not [p.name for p in (project.folder / "takes").iterdir() if p.name.startswith(".")]
        for t in on_disk.takes:  # every record agrees with the song on the take's id
            assert json.loads((project.folder / "takes" / t.id / "record.json").read_text())["id"] == t.id
    finally:
        session.close()
        engine.close()


def test_a_second_program_is_refused_and_a_dead_ones_lock_is_taken_over(tmp_path: Path) -> None:
    project = make_project(tmp_path, take=False)
    code = ("import sys, time; from engine.song.lock import ProjectLock; "
            f"ProjectLock.acquire({str(project.folder)!r}, 'songbridge gui'); print('held', flush=True); "
            "time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ProjectBusy, match=rf"open in songbridge gui \(pid {holder.pid}"):
            Session.open(project.folder, None, "songbridge serve")
        before = (project.folder / "song.json").read_bytes()
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        assert (project.folder / LOCK_FILE).exists()  # kill -9 leaves the file; the flock went with the process
        session = Session.open(project.folder, None, "songbridge serve")
        try:
            assert any(f"pid {holder.pid}" in n and "no longer running" in n for n in session.notes)
            assert json.loads((project.folder / LOCK_FILE).read_text())["pid"] == os.getpid()
        finally:
            session.close()
        assert not (project.folder / LOCK_FILE).exists()
        assert (project.folder / "song.json").read_bytes() == before
    finally:
        holder.kill()
        holder.wait(10)


def test_opening_tidies_what_a_crash_left(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    takes = project.folder / "takes"
    shutil.copytree(takes / "take-001", takes / ".pending-dead-1")  # finished, never committed
    record = json.loads((takes / ".pending-dead-1" / "record.json").read_text())
    record["id"] = "pending-dead-1"
    (takes / ".pending-dead-1" / "record.json").write_text(json.dumps(record))
    (takes / ".take-009.partial" / "stems").mkdir(parents=True)  # interrupted while writing
    (takes / "take-005").mkdir()  # a folder with no audio and no record
    (takes / "take-005" / "junk.txt").write_text("?")
    (project.folder / ".song.json.4242.tmp").write_text("{")  # an interrupted save
    session = Session.open(project.folder, None, "test")
    try:
        assert [t.id for t in session.song.takes] == ["take-001", "take-002"]
        assert session.song.take("take-002").name == "Take 2"
        assert (takes / "take-002" / "mix.wav").is_file()
        assert not (takes / ".pending-dead-1").exists() and not (takes / ".take-009.partial").exists()
        assert (takes / ".quarantine" / "take-005" / "junk.txt").read_text() == "?"
        assert not list(project.folder.glob(".*.tmp"))
        text = " | ".join(session.notes)
        assert "recovered take-002" in text and "take-005" in text and "temporary" in text
    finally:
        session.close()
    assert [t.id for t in load_song(project.folder).takes] == ["take-001", "take-002"]


def test_history_undo_keeps_takes_and_edits_are_acknowledged_once_saved(tmp_path: Path) -> None:
    project = make_project(tmp_path, take=False)
    session = Session(project)
    events: list[SongChanged] = []
    session.subscribe(lambda ev: events.append(ev) if isinstance(ev, SongChanged) else None)
    acked = threading.Event()
    seen_on_disk: list[float] = []

    def saved(ok: bool, error: str) -> None:
        seen_on_disk.append(load_song(project.folder).tempo.bpm)
        acked.set()

    from daw_bridge.song_props import song_with

    assert session.edit(song_with(session.song, "tempo", 96.0), "Set tempo (from DAW)", "daw", saved)
    assert acked.wait(10) and seen_on_disk == [96.0]  # acknowledged only when it is on disk
    assert events[-1].origin == "daw" and events[-1].changed() >= {"tempo", "sections", "lyrics"}
    from engine.song.model import Take

    take = Take("take-001", "guide", 1, duration_s=8.0)
    session.project.song = session.song.with_take(take)  # as if a take had been committed since
    assert session.undo() == "Set tempo (from DAW)"
    assert session.song.tempo.bpm == 120.0 and [t.id for t in session.song.takes] == ["take-001"]
    assert session.redo() == "Set tempo (from DAW)" and session.song.tempo.bpm == 96.0
    assert session.undo() and session.undo() is None
    session.accept("take-001")
    with pytest.raises(SongBridgeError, match="no take 'take-404'"):
        session.accept("take-404")
    session.close()
    assert load_song(project.folder).accepted == {"": "take-001"}


def test_schema_1_projects_open_with_no_accepted_takes(tmp_path: Path) -> None:
    project = make_project(tmp_path, take=False)
    data = json.loads((project.folder / "song.json").read_text())
    data["schema_version"] = 1
    del data["accepted"]
    (project.folder / "song.json").write_text(json.dumps(data))
    assert load_song(project.folder).accepted == {}
    data["schema_version"] = 2
    data["accepted"] = {"": "take-404"}
    (project.folder / "song.json").write_text(json.dumps(data))
    with pytest.raises(Exception, match="take-404"):
        load_song(project.folder)


def test_the_lock_is_released_and_reacquired_in_one_process(tmp_path: Path) -> None:
    project = make_project(tmp_path, take=False)
    with ProjectLock.acquire(project.folder, "a") as lock:
        lock.set_osc("127.0.0.1:11300")
        assert json.loads((project.folder / LOCK_FILE).read_text())["osc"] == "127.0.0.1:11300"
    with ProjectLock.acquire(project.folder, "b"):
        pass
