"""Hostile or broken files on the command line (issue 27, part 7): each is one clear line naming the file (and the
line or field where there is one), exit code 2, never an internal error, a hang or code from the file running."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import run_cli

MARKER = Path("/tmp/songbridge-hostile-checkpoint-ran")


class Evil:
    def __reduce__(self):
        return (MARKER.touch, ())


def one_error_line(out) -> str:
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr and "internal error" not in out.stderr, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    return lines[0]


def test_models_status_refuses_a_checkpoint_that_carries_code(tmp_path: Path) -> None:
    import torch

    from engine.backends.diffrhythm.tiny import create_tiny_model

    MARKER.unlink(missing_ok=True)
    root = create_tiny_model(tmp_path / "models")
    cfm = root / "DiffRhythm-1_2-full" / "cfm_model.pt"
    torch.save({"model_state_dict": {"transformer.x": Evil()}}, cfm)  # a zip, as torch.save writes: looks whole
    out = run_cli("models", "status", "--models", str(root))
    assert out.returncode == 1, out.stdout
    assert f"[ok]      {cfm}" not in out.stdout
    line = next(ln for ln in out.stdout.splitlines() if str(cfm) in ln)
    assert line.startswith(f"  [refused] {cfm}: refused: it is a pickle with Python objects other than tensors")
    assert "never executes code" in line
    assert not MARKER.exists()


def big_lyrics(tmp_path: Path) -> Path:
    path = tmp_path / "huge.lrc"
    line = "[00:01.00]a line that is sung again and again\n"
    path.write_text(line * (256 * 1024 // len(line) + 1))  # just over the limit; the was 50 MB
    return path


def test_a_lyrics_file_over_the_limit_is_refused_unread_everywhere(tmp_path: Path) -> None:
    path = big_lyrics(tmp_path)
    size = path.stat().st_size
    for args in (["lyrics", "lint", str(path)], ["lyrics", "format", str(path)],
                 ["generate", str(path), "-o", str(tmp_path / "song")]):
        started = time.monotonic()
        line = one_error_line(run_cli(*args))
        assert line == (f"songbridge: error: {path}: {size:,} bytes; a lyrics file may be at most 262,144 bytes "
                        "(256 KiB; a song's lyrics are a few KiB)"), args
        assert time.monotonic() - started < 30
    assert not (tmp_path / "song.songbridge").exists()


def test_a_song_json_nested_100k_deep_names_the_file_and_line(tmp_path: Path) -> None:
    folder = tmp_path / "deep.songbridge"
    folder.mkdir()
    (folder / "song.json").write_text('{"schema_version": 3,\n "title": ' + "[" * 100_000 + "]" * 100_000 + "}")
    for args in (["render", str(folder)], ["play", str(folder)], ["daw", "status", str(folder)]):
        line = one_error_line(run_cli(*args))
        assert line == f"songbridge: error: {folder / 'song.json'}: line 2 column 74: nested more than 64 levels deep"


BAD_MAPS = [
    ("binding = 3\n", "binding: must be [[binding]] tables"),
    ("[[binding]]\nnote = true\ncommand = 'play'\n", r"binding[0].note: must be 0..127, got True"),
    ("[[binding]]\nnote = 60\ncommand = 'generate_song'\ntakes = 'many'\n",
     "binding[0].takes: must be a whole number 1..16, got 'many'"),
    ("[[binding]]\nnote = 60\ncommand = 'generate_bars'\nbars = 5\n",
     "binding[0].bars: must be [start, end] bars with 1 <= start < end, e.g. [17, 25], got 5"),
    ("[[binding]]\nnote = 60\ncommand = 'play'\nsection = 'Chorus'\n",
     "binding[0].section: unknown key for play (it takes no options)"),
    ("[[binding]]\nnote = 60\ncommand = 'loop_at_playhead'\nprompt = ''\n",
     "binding[0].prompt: must be text of 1..200 characters, got ''"),
    ("name = 7\n", "name: must be text, got 7"),
    ("[[binding]]\nnote = 60\ncommand = play\n", "invalid TOML: Invalid value (at line 4, column 11)"),
    ("x = " + "[" * 100_000 + "]" * 100_000 + "\n", "nested too deeply to be a SongBridge file"),
]


@pytest.mark.parametrize("text,message", BAD_MAPS)
def test_a_bad_midi_map_names_the_file_binding_and_key(tmp_path: Path, text: str, message: str) -> None:
    from presets.midi_maps import MidiMapError, load_map

    bad = tmp_path / "bad.toml"
    bad.write_text("schema_version = 1\n" + text)
    with pytest.raises(MidiMapError) as info:
        load_map(bad)
    assert str(info.value) == f"{bad}: {message}"


def test_the_bridge_reads_its_map_as_a_user_error() -> None:
    from daw_bridge.midi.maps import MidiMapFileError, load_mapping
    from engine.errors import SongBridgeError

    assert load_mapping(None).name == "SongBridge default"
    with pytest.raises(MidiMapFileError, match="MIDI map /nonexistent/map.toml: not found") as info:
        load_mapping("/nonexistent/map.toml")
    assert isinstance(info.value, SongBridgeError)  # the command line prints it as one line, not a crash


def test_serve_with_a_bad_midi_map_is_one_line_before_anything_opens(tmp_path: Path) -> None:
    from engine.song import Project, Song

    project = Project.create(tmp_path / "p", Song())
    bad = tmp_path / "bad.toml"
    bad.write_text("schema_version = 1\n[[binding]]\nnote = 60\ncommand = 'generate_song'\ntakes = 'many'\n")
    line = one_error_line(run_cli("serve", str(project.folder), "--midi-map", str(bad), "--osc", "127.0.0.1:0"))
    assert line == f"songbridge: error: MIDI map {bad}: binding[0].takes: must be a whole number 1..16, got 'many'"
    assert not (project.folder / ".songbridge.lock").exists()


@pytest.mark.slow
def test_a_missing_engine_ca_names_the_file(tmp_path: Path) -> None:
    lyrics = tmp_path / "l.txt"
    lyrics.write_text("hello there\n")
    ca = tmp_path / "nope.pem"
    out = run_cli("generate", str(lyrics), "-o", str(tmp_path / "song"), "--engine", "https://127.0.0.1:9",
                  "--engine-ca", str(ca), env={"SONGBRIDGE_ENGINE_KEY": "k" * 32})
    assert one_error_line(out) == f"songbridge: error: --engine-ca {ca}: not found"
    assert not (tmp_path / "song.songbridge").exists()
    ca.write_text("not a certificate\n")
    out = run_cli("generate", str(lyrics), "-o", str(tmp_path / "song"), "--engine", "https://127.0.0.1:9",
                  "--engine-ca", str(ca), env={"SONGBRIDGE_ENGINE_KEY": "k" * 32})
    assert one_error_line(out).startswith(f"songbridge: error: --engine-ca {ca}: not a PEM certificate file")
