from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.errors import DocumentError
from engine.song import (
    EffectSlot,
    Key,
    LyricLine,
    MigrationRegistry,
    Project,
    Section,
    Song,
    SongInfo,
    Style,
    Take,
    TempoMap,
    TimeRange,
    WordTime,
    load_song,
    save_song,
    song_from_dict,
    song_to_dict,
)


def full_song() -> Song:
    return Song(
        info=SongInfo("Night Drive", "Me"),
        tempo=TempoMap.constant(96, "4/4", bar1_s=0.25),
        key=Key.parse("F#m"),
        sections=(Section("verse-1", "Verse 1", 0.25, 20.25), Section("chorus", "Chorus", 20.25, 30.25)),
        lyrics=(
            LyricLine("l001", "City lights", 1.0, 3.0, (WordTime(1.0, "City"), WordTime(1.6, "lights", 2.4)),
                      "verse-1"),
            LyricLine("l002", "", 10.0),
            LyricLine("l003", "untimed"),
        ),
        style=Style("synthwave, female vocal", preset="retro"),
        takes=(
            Take("t1", "guide", 7, params={"bpm": 96}, lrc="[00:01.00]City lights"),
            Take("t2", "diffrhythm", 8, parent="t1", edited_ranges=(TimeRange(1.0, 2.0),)),
        ),
        effects={"vocal": EffectSlot("vocal-clean"), "master": EffectSlot("master-gentle", bypass=True)},
    )


def test_round_trip(tmp_path: Path) -> None:
    song = full_song()
    assert song_from_dict(json.loads(json.dumps(song_to_dict(song)))) == song
    save_song(song, tmp_path / "a.songbridge")
    assert load_song(tmp_path / "a.songbridge") == song


def test_save_keeps_backup(tmp_path: Path) -> None:
    folder = tmp_path / "x.songbridge"
    first = full_song()
    save_song(first, folder)
    second = first.replace(info=SongInfo("Renamed"))
    save_song(second, folder)
    assert load_song(folder).info.title == "Renamed"
    assert load_song(folder / "song.json.bak").info.title == "Night Drive"
    assert [p.name for p in folder.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize("mutate,expected", [
    (lambda d: d["tempo"]["segments"][0].update(bpm="fast"), r"\$\.tempo\.segments\[0\]\.bpm: expected a number"),
    (lambda d: d["tempo"]["segments"][0].update(bpm=900), r"\$\.tempo\.segments\[0\]: tempo must be 20\.\.400 bpm"),
    (lambda d: d["lyrics"][0].update(start_s=-1), r"\$\.lyrics\[0\]\.start_s: must be in 0\.0"),
    (lambda d: d["lyrics"][0].pop("text"), r"\$\.lyrics\[0\]\.text: missing"),
    (lambda d: d["sections"][1].update(colour="red"), r"\$\.sections\[1\]\.colour: unknown field"),
    (lambda d: d.update(key="H minor"), r"\$: key must look like"),
    (lambda d: d["takes"][1].update(parent="nope"), r"unknown parent take 'nope'"),
    (lambda d: d["lyrics"][0].update(section_id="bridge"), r"unknown section 'bridge'"),
    (lambda d: d["effects"].update(guitar={"preset": None}), r"effect slot must be one of"),
    (lambda d: d.update(schema_version=99), r"newer SongBridge \(schema 99"),
    (lambda d: d.update(schema_version="1"), r"schema_version: expected a positive integer"),
])
def test_load_errors_name_the_field(tmp_path: Path, mutate, expected: str) -> None:
    data = song_to_dict(full_song())
    mutate(data)
    path = tmp_path / "song.json"
    path.write_text(json.dumps(data))
    with pytest.raises(DocumentError, match=expected) as info:
        load_song(path)
    assert str(path) in str(info.value)


def test_invalid_json_names_line(tmp_path: Path) -> None:
    path = tmp_path / "song.json"
    path.write_text('{\n  "title": "x",\n  oops\n}')
    with pytest.raises(DocumentError, match=r"line 3 column 3: invalid JSON"):
        load_song(path)


def test_migrations_run_in_order() -> None:
    reg = MigrationRegistry(current=3)

    @reg.register(1)
    def one_to_two(d):
        d["tempo"] = {"segments": [{"bar": 1, "bpm": d.pop("bpm")}]}
        return d

    @reg.register(2)
    def two_to_three(d):
        d["title"] = d["title"].strip()
        return d

    old = {"schema_version": 1, "title": " Old ", "bpm": 100}
    data = reg.upgrade(old, "old.json")
    assert data["schema_version"] == 3 and data["title"] == "Old"
    assert data["tempo"]["segments"][0]["bpm"] == 100
    with pytest.raises(DocumentError, match="no migration from schema 1"):
        MigrationRegistry(current=2).upgrade({"schema_version": 1}, "x.json")


SAVER = r"""
import sys
from engine.song import Song, SongInfo, LyricLine, save_song
folder = sys.argv[1]
i = 0
print("ready", flush=True)
while True:
    i += 1
    lines = tuple(LyricLine(f"l{j}", "la " * 50, float(j)) for j in range(2000))
    save_song(Song(info=SongInfo(f"v{i}"), lyrics=lines), folder)
"""


def test_killed_save_never_loses_the_project(tmp_path: Path) -> None:
    folder = tmp_path / "k.songbridge"
    save_song(Song(info=SongInfo("v0")), folder)
    for attempt in range(6):
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(folder)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(0.05 + 0.07 * attempt)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        song = load_song(folder)  # must be a complete document: the old or a new one
        assert song.info.title.startswith("v")
        assert len(song.lyrics) in (0, 2000)


def test_failed_save_leaves_file_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "f.songbridge"
    save_song(full_song(), folder)
    before = (folder / "song.json").read_bytes()

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(DocumentError, match="No space left"):
        save_song(full_song().replace(info=SongInfo("new")), folder)
    monkeypatch.undo()
    assert (folder / "song.json").read_bytes() == before
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_project_confines_paths(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "demo", Song())
    assert project.folder.name == "demo.songbridge"
    assert project.inside("takes/t1/mix.wav") == project.folder / "takes/t1/mix.wav"
    with pytest.raises(DocumentError, match="outside the project"):
        project.inside("../../etc/passwd")
    assert Project.open(tmp_path / "demo").song == Song()
