"""``generate`` makes the sections the lyrics' headers describe (``--sections`` still wins, with a word where it
contradicts them), names the song from [ti:] or the file, says which lines fall past the end; ``export-midi``
writes a guide take's MIDI; ``grid`` words its drift."""

from __future__ import annotations

import json
from pathlib import Path

import mido
import pytest

from tests.conftest import REPO, run_cli

UNTIMED = """[verse]
Taxi headlights paint the alley gold
Midnight whispers that the night is getting old
[chorus]
Neon rain, falling down on me
Washing out the colors of the memory
[bridge]
Hold on, hold on
Let the morning wait
[chorus]
Neon rain, falling down on me
Washing out the colors of the memory
"""


def song_of(project: Path) -> dict:
    return json.loads((project / "song.json").read_text())


def test_untimed_lyrics_with_headers_make_the_sections(tmp_path: Path) -> None:
    lyrics = tmp_path / "night-drive_final.txt"
    lyrics.write_text(UNTIMED)
    out = run_cli("generate", str(lyrics), "-o", str(tmp_path / "p"), "--bpm", "92", "--backend", "guide",
                  "--seed", "1")
    assert out.returncode == 0, out.stderr
    assert "sections from the lyrics' headers: Verse 4 bars, Chorus 1 4, Bridge 4, Chorus 2 4" in out.stderr
    assert "warning" not in out.stderr, out.stderr
    song = song_of(tmp_path / "p.songbridge")
    assert song["title"] == "Night Drive Final"  # the file's name in words
    names = [s["name"] for s in song["sections"]]
    assert names == ["Verse", "Chorus 1", "Bridge", "Chorus 2"]
    ids = {s["id"]: s for s in song["sections"]}
    heard = [ids[line["section_id"]]["name"] for line in song["lyrics"]]
    assert heard == ["Verse"] * 2 + ["Chorus 1"] * 2 + ["Bridge"] * 2 + ["Chorus 2"] * 2
    for line in song["lyrics"]:
        s = ids[line["section_id"]]
        assert s["start_s"] <= line["start_s"] < s["end_s"]
    assert (tmp_path / "p.songbridge/takes/take-001/guide.mid").is_file()


@pytest.mark.slow
def test_timed_lyrics_title_tag_and_contradicting_sections(tmp_path: Path) -> None:
    bar = 240 / 92
    stamps = [2, 4, 10, 12, 18, 20]
    texts = ["Streetlights shiver on the wet black road", "Every window holds a story never told",
             "Neon rain, falling down on me", "Washing out the colors of the memory",
             "Taxi headlights paint the alley gold", "Midnight whispers that the night is getting old"]
    body = []
    for i, (b, text) in enumerate(zip(stamps, texts, strict=True)):
        if i % 2 == 0:
            body.append(["[verse]", "[chorus]", "[verse]"][i // 2])
        t = b * bar
        body.append(f"[{int(t) // 60:02d}:{t % 60:05.2f}]{text}")
    lyrics = tmp_path / "x.lrc"
    lyrics.write_text("[ti:Neon Rain]\n" + "\n".join(body) + "\n")
    out = run_cli("generate", str(lyrics), "-o", str(tmp_path / "p"), "--bpm", "92", "--backend", "guide")
    assert out.returncode == 0, out.stderr
    song = song_of(tmp_path / "p.songbridge")
    assert song["title"] == "Neon Rain"
    got = [(s["name"], round(s["start_s"] / bar), round((s["end_s"] - s["start_s"]) / bar)) for s in song["sections"]]
    assert got == [("Intro", 0, 2), ("Verse 1", 2, 8), ("Chorus", 10, 8), ("Verse 2", 18, 4)]
    out = run_cli("generate", str(lyrics), "-o", str(tmp_path / "q"), "--bpm", "92", "--backend", "guide",
                  "--sections", "verse:8,bridge:8,chorus:8")
    assert out.returncode == 0, out.stderr
    assert "contradict the lyrics' headers" in out.stderr and "the --sections are used" in out.stderr
    assert [s["name"] for s in song_of(tmp_path / "q.songbridge")["sections"]] == ["Verse", "Bridge", "Chorus"]


@pytest.mark.slow
def test_lines_past_the_end_are_counted(tmp_path: Path) -> None:
    lyrics = tmp_path / "many.txt"
    lyrics.write_text("\n".join(f"line number {i} of the song" for i in range(22)) + "\n")
    out = run_cli("generate", str(lyrics), "-o", str(tmp_path / "p"), "--bpm", "120", "--backend", "guide",
                  "--duration", "5")
    assert out.returncode == 0, out.stderr
    # Two bars (4 s) a line at 120 bpm: the lines at 0 s and 4 s are sung, the other 20 are not.
    assert "20 of 22 lines start after the song's end (5.0 s) and are not sung" in out.stderr, out.stderr


@pytest.mark.slow
def test_export_midi_writes_the_song_or_a_section(tmp_path: Path) -> None:
    out = run_cli("generate", str(REPO / "examples/neon-rain.txt"), "--settings", str(REPO / "examples/neon-rain.toml"),
                  "-o", str(tmp_path / "neon"))
    assert out.returncode == 0, out.stderr
    project = tmp_path / "neon.songbridge"
    done = run_cli("export-midi", str(project))
    assert done.returncode == 0, done.stderr
    path = Path(done.stdout.strip().splitlines()[-1])
    assert path == project / "renders/midi/neon-rain_take-001.mid"
    mid = mido.MidiFile(str(path))
    assert [m.text for m in mid.tracks[0] if m.type == "marker"] == [
        "Intro", "Verse 1", "Chorus 1", "Verse 2", "Chorus 2", "Outro"]
    assert [m.tempo for m in mid.tracks[0] if m.type == "set_tempo"] == [round(60_000_000 / 104)]
    assert "lyric syllables" in done.stdout
    one = run_cli("export-midi", str(project), "--section", "chorus 2", "--take", "take-001",
                  "-o", str(tmp_path / "c2.mid"))
    assert one.returncode == 0, one.stderr
    part = mido.MidiFile(str(tmp_path / "c2.mid"))
    assert [m.text for m in part.tracks[0] if m.type == "marker"] == ["Chorus 2"]
    bad = run_cli("export-midi", str(project), "--section", "Bridge")
    assert bad.returncode == 2 and "no section 'Bridge'" in bad.stderr and "Traceback" not in bad.stderr
    bad = run_cli("export-midi", str(project), "--take", "take-009")
    assert bad.returncode == 2 and "take-009" in bad.stderr


def test_grid_words_its_drift() -> None:
    import contextlib
    import io

    from songbridge.commands.analyse import _print_grid

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        _print_grid({"bpm": 92.32, "beats": 100, "bars": 25, "tracker": "dsp", "first_downbeat_s": 0.1,
                     "project_bpm": 92, "drift_pct": 5.2})
    assert "tempo 92.32 bpm (project 92 bpm; worst bar 5.2 % off it)" in buf.getvalue()
    assert "drift" not in buf.getvalue()
