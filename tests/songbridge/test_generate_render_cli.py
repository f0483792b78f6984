from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile as sf

from tests.conftest import REPO, run_cli


@pytest.mark.slow
def test_example_song_end_to_end(tmp_path: Path) -> None:
    out = run_cli("generate", str(REPO / "examples/neon-rain.txt"), "--settings", str(REPO / "examples/neon-rain.toml"),
                  "-o", str(tmp_path / "neon"))
    assert out.returncode == 0, out.stderr
    project = tmp_path / "neon.songbridge"
    song = json.loads((project / "song.json").read_text())
    assert song["title"] == "Neon Rain" and song["key"] == "A minor"
    assert [s["name"] for s in song["sections"]] == ["Intro", "Verse 1", "Chorus 1", "Verse 2", "Chorus 2", "Outro"]
    assert all(line["start_s"] is not None for line in song["lyrics"])
    assert [t["id"] for t in song["takes"]] == ["take-001"]
    bars = 4 + 8 + 8 + 8 + 8 + 4
    info = sf.info(str(project / "takes/take-001/mix.wav"))
    assert (info.samplerate, info.channels) == (44100, 2)
    assert abs(info.duration - bars * 4 * 60 / 104) < 0.01
    rendered = run_cli("render", str(project), "--fx", "vocal=vocal-clean", "--loudness", "-14")
    assert rendered.returncode == 0, rendered.stderr
    files = sorted(p.name for p in (project / "renders/take-001").glob("*.wav"))
    assert files == [f"neon-rain_take-001_{x}.wav" for x in ("bass", "drums", "keys", "mix", "vocal")]
    assert "LUFS" in rendered.stderr


@pytest.mark.slow
def test_generate_adds_takes_and_reuses_the_project(tmp_path: Path) -> None:
    lyrics = tmp_path / "l.lrc"
    lyrics.write_text("[00:02.00]first line here\n[00:06.00]second line here\n")
    args = ["generate", str(lyrics), "-o", str(tmp_path / "p"), "--style", "jazz", "--duration", "10"]
    assert run_cli(*args, "--takes", "2", "--seed", "3").returncode == 0
    again = run_cli(*args, "--seed", "9")
    assert again.returncode == 0, again.stderr
    song = json.loads((tmp_path / "p.songbridge/song.json").read_text())
    assert [(t["id"], t["seed"]) for t in song["takes"]] == [("take-001", 3), ("take-002", 4), ("take-003", 9)]
    assert song["tempo"]["segments"][0]["bpm"] == 126  # the jazz style's tempo
    assert [line["start_s"] for line in song["lyrics"]] == [2.0, 6.0]


def test_generate_errors_are_one_line(tmp_path: Path) -> None:
    lyrics = tmp_path / "l.txt"
    lyrics.write_text("hello\n")
    bad = tmp_path / "s.toml"
    bad.write_text("bpm = 'fast'\n")
    cases = [
        (["--settings", str(bad)], f"{bad}: settings.bpm: expected a number"),
        (["--key", "H major"], "key must look like"),
        (["--sections", "verse"], "must be NAME:BARS"),
        (["--backend", "nope"], "unknown backend 'nope'"),
        (["--duration", "-3"], "--duration must be 1..900"),
    ]
    for extra, message in cases:
        out = run_cli("generate", str(lyrics), "-o", str(tmp_path / "x"), *extra)
        assert out.returncode == 2, extra
        assert message in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert not (tmp_path / "x.songbridge" / "takes").exists()


def test_render_errors(tmp_path: Path) -> None:
    out = run_cli("render", str(tmp_path / "missing"))
    assert out.returncode == 2 and "not a SongBridge project" in out.stderr
    lyrics = tmp_path / "l.txt"
    lyrics.write_text("hello there\n")
    assert run_cli("generate", str(lyrics), "-o", str(tmp_path / "p"), "--duration", "6").returncode == 0
    for extra, message in [(["--fx", "vocal"], "expected STEM=PRESET"), (["--bits", "12"], "--bits must be"),
                           (["--take", "take-7"], "no take 'take-7'"), (["--fx", "vocal=nope"], "no effect preset")]:
        out = run_cli("render", str(tmp_path / "p.songbridge"), *extra)
        assert out.returncode == 2 and message in out.stderr, (extra, out.stderr)


def test_settings_file_can_name_the_lyrics(tmp_path: Path) -> None:
    out = run_cli("generate", "--settings", str(REPO / "examples/neon-rain.toml"), "-o", str(tmp_path / "s"),
                  "--duration", "12", "--engine", "thread")
    assert out.returncode == 0, out.stderr
    song = json.loads((tmp_path / "s.songbridge/song.json").read_text())
    assert song["lyrics"][0]["text"] == "Streetlights shiver on the wet black road"
    bad = tmp_path / "bad.toml"
    bad.write_text('lyrics = "missing.txt"\n')
    out = run_cli("generate", "--settings", str(bad), "-o", str(tmp_path / "b"))
    assert out.returncode == 2 and "missing.txt: not found" in out.stderr
