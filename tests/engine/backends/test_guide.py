"""The guide renderer: layout, determinism, stems sum to the mix, every line heard at its stamp, styles, edits."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.backends import registry
from engine.backends.base import Cancelled, EditSpec, GenerationRequest
from engine.backends.guide.backend import GuideBackend
from engine.backends.guide.styles import STYLES, match_style
from engine.backends.guide.vocal import syllabify
from engine.lyrics import auto_time, lines_from_lrc, parse
from engine.song import Key, LyricLine, Style, TempoMap, TimeRange
from engine.song.sections import parse_sections

LYRICS = """[verse]
Streetlights shiver on the wet black road
Every window holds a story never told
[chorus]
Neon rain, falling down on me
Washing out the colors of the memory
"""


def request(tmp: Path, take_id: str = "take-001", seed: int = 1, style: str = "pop", bpm: float = 104,
            spec: str = "intro:2,verse:4,chorus:4,outro:2", **kw) -> GenerationRequest:
    tempo = TempoMap.constant(bpm)
    sections = parse_sections(spec, tempo)
    lines = auto_time(lines_from_lrc(parse(LYRICS), sections), tempo, sections)
    return GenerationRequest(take_id, tmp / take_id, tuple(lines), Style(style), sections[-1].end_s, seed, tempo,
                             Key.parse("A minor"), sections, **kw)


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*.wav"))}


def test_take_layout_and_format(tmp_path: Path) -> None:
    req = request(tmp_path)
    progress = []
    take = GuideBackend().generate(req, lambda d, t: progress.append((d, t)), lambda: False)
    folder = tmp_path / "take-001"
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        "guide.mid", "mix.wav", "record.json", "stems/bass.wav", "stems/drums.wav", "stems/keys.wav",
        "stems/vocal.wav"]
    for p in folder.rglob("*.wav"):
        info = sf.info(str(p))
        assert (info.samplerate, info.channels) == (44100, 2)
        assert abs(info.frames - round(req.duration_s * 44100)) <= 1  # the length the sections imply
    record = json.loads((folder / "record.json").read_text())
    assert record["backend"] == "guide" and record["seed"] == 1 and record["id"] == take.id
    assert "[00:" in record["lrc"] and record["style"]["prompt"] == "pop"
    assert progress[-1][0] == progress[-1][1] and [d for d, _ in progress] == sorted(d for d, _ in progress)
    assert not list(tmp_path.glob(".*partial"))


def test_same_seed_is_byte_identical_other_seed_differs(tmp_path: Path) -> None:
    b = GuideBackend()
    b.generate(request(tmp_path, "a", seed=5), lambda d, t: None, lambda: False)
    b.generate(request(tmp_path, "b", seed=5), lambda d, t: None, lambda: False)
    b.generate(request(tmp_path, "c", seed=6), lambda d, t: None, lambda: False)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    da, dc = digest(tmp_path / "a"), digest(tmp_path / "c")
    assert da["mix.wav"] != dc["mix.wav"] and da["vocal.wav"] != dc["vocal.wav"]


def test_dry_stems_sum_to_the_mix_and_nothing_clips(tmp_path: Path) -> None:
    GuideBackend().generate(request(tmp_path), lambda d, t: None, lambda: False)
    folder = tmp_path / "take-001"
    mix, _ = sf.read(str(folder / "mix.wav"), dtype="float64")
    stems = sum(sf.read(str(p), dtype="float64")[0] for p in (folder / "stems").glob("*.wav"))
    assert np.abs(stems - mix).max() < 1e-4
    assert np.abs(mix).max() < 0.75  # -3 dBFS headroom, far from clipping
    for p in (folder / "stems").glob("*.wav"):
        rms = np.sqrt((sf.read(str(p))[0] ** 2).mean())
        assert rms > 1e-3, f"{p.name} is silent"


def _onsets(vocal: np.ndarray, sr: int, hop: int = 64) -> list[float]:
    """Times (s) where the vocal becomes clearly audible (above -45 dB in 1.5 ms frames) after at least 60 ms of
    silence (below -60 dB)."""
    mono = vocal.mean(axis=1)
    frames = mono[: len(mono) // hop * hop].reshape(-1, hop)
    db = 10 * np.log10((frames ** 2).mean(axis=1) + 1e-12)
    quiet_needed = int(0.06 * sr / hop)
    out, quiet, armed = [], quiet_needed, False
    for i, level in enumerate(db):
        if level < -60:
            quiet += 1
            continue
        if quiet >= quiet_needed:
            armed = True
        quiet = 0
        if armed and level > -45:
            out.append(i * hop / sr)
            armed = False
    return out


@pytest.mark.parametrize("style,bpm", [("pop", 104), ("ballad", 70), ("hip hop", 90)])
def test_each_line_starts_audibly_at_its_timestamp(tmp_path: Path, style: str, bpm: float) -> None:
    req = request(tmp_path, style=style, bpm=bpm)
    GuideBackend().generate(req, lambda d, t: None, lambda: False)
    vocal, sr = sf.read(str(tmp_path / "take-001" / "stems" / "vocal.wav"))
    onsets = _onsets(vocal, sr)
    stamps = [ln.start_s for ln in req.lyrics if ln.text.strip()]
    assert len(stamps) == 4
    for t in stamps:
        nearest = min(onsets, key=lambda o: abs(o - t))
        assert abs(nearest - t) <= 0.050, f"line at {t:.3f} s: nearest vocal onset {nearest:.3f} s"
    # The vocal is silent before the first line: nothing sung in the intro.
    assert np.abs(vocal[: int((stamps[0] - 0.01) * sr)]).max() < 1e-4


def test_word_stamps_are_followed(tmp_path: Path) -> None:
    tempo = TempoMap.constant(100)
    doc = parse("[00:02.00]<00:02.00>hold <00:03.50>on<00:04.20>\n[00:06.00]end\n")
    lines = lines_from_lrc(doc)
    req = GenerationRequest("w", tmp_path / "w", tuple(lines), Style("pop"), 8.0, 3, tempo, Key())
    GuideBackend().generate(req, lambda d, t: None, lambda: False)
    vocal, sr = sf.read(str(tmp_path / "w" / "stems" / "vocal.wav"))
    onsets = _onsets(vocal, sr)
    assert any(abs(o - 2.0) < 0.05 for o in onsets)
    # "on" starts at its word stamp: the gap before it (after "hold") is audible as a new onset near 3.5 s.
    level = lambda a, b: np.sqrt((vocal[int(a * sr):int(b * sr)] ** 2).mean())  # noqa: E731
    assert level(3.55, 3.9) > 10 * level(4.5, 5.5)


def test_different_words_sound_different(tmp_path: Path) -> None:
    """Formant synthesis: 'see' and 'saw' held on the same pitch have different spectra."""
    from engine.backends.guide.vocal import VOWELS, _table

    iy, aa = _table(60, VOWELS["IY"][0]), _table(60, VOWELS["AA"][0])
    spec = lambda t: np.abs(np.fft.rfft(t))  # noqa: E731
    si, sa = spec(iy), spec(aa)
    f0_bin = 1  # one period per table
    # IY has little energy near F1 of AA (~780 Hz) and a strong F2 near 2.5 kHz; AA is the opposite.
    k1 = round(780 / 261.63) * f0_bin
    k2 = round(2500 / 261.63) * f0_bin
    assert sa[k1] / sa[k2] > 4 * si[k1] / si[k2]


def test_syllabify() -> None:
    sylls = syllabify(("S", "T", "R", "IY1", "T", "L", "AY2", "T", "S"))
    assert [(s.onset, s.vowel, s.coda) for s in sylls] == [(("S", "T", "R"), "IY", ("T",)),
                                                          (("L",), "AY", ("T", "S"))]
    assert syllabify(("HH", "M")) and syllabify(()) == []


def test_style_table() -> None:
    for words, name in [("dreamy synth pop", "electronic"), ("90s boom bap rap", "hip hop"), ("garage rock", "rock"),
                        ("sad piano ballad", "ballad"), ("acoustic folk", "folk"), ("smooth jazz", "jazz"),
                        ("catchy pop", "pop"), ("gregorian chant", "default")]:
        assert match_style(words).name == name, words
    assert {s.name for s in STYLES} >= {"pop", "rock", "ballad", "hip hop", "electronic", "folk", "jazz"}


@pytest.mark.parametrize("style", [s.name for s in STYLES] + ["unknown words"])
def test_every_style_renders_cleanly(tmp_path: Path, style: str) -> None:
    b = GuideBackend()
    stems = b.render(request(tmp_path, style=style, spec="intro:1,verse:2,chorus:2,outro:1"), lambda d, t: None,
                     lambda: False)
    mix = sum(stems.values())
    assert np.isfinite(mix).all() and 0.5 < np.abs(mix).max() < 0.75
    for name, audio in stems.items():
        assert np.abs(audio).max() > 0.005, f"{style}: {name} is silent"


def test_cancel_writes_nothing(tmp_path: Path) -> None:
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(Cancelled):
        GuideBackend().generate(request(tmp_path), lambda d, t: None, stop)
    assert list(tmp_path.iterdir()) == []


def test_edit_changes_only_the_range(tmp_path: Path) -> None:
    b = GuideBackend()
    b.generate(request(tmp_path, "take-001", seed=1), lambda d, t: None, lambda: False)
    edit = EditSpec("take-001", (TimeRange(5.0, 9.0),))
    take = b.generate(request(tmp_path, "take-002", seed=2, edit=edit), lambda d, t: None, lambda: False)
    assert take.parent == "take-001" and take.edited_ranges == edit.ranges
    old, sr = sf.read(str(tmp_path / "take-001" / "mix.wav"))
    new, _ = sf.read(str(tmp_path / "take-002" / "mix.wav"))
    outside = np.ones(len(old), bool)
    outside[int(4.99 * sr):int(9.01 * sr)] = False
    assert np.abs(old[outside] - new[outside]).max() < 1e-4
    assert np.abs(old[int(5.5 * sr):int(8.5 * sr)] - new[int(5.5 * sr):int(8.5 * sr)]).max() > 0.01


def test_registry_falls_back_to_guide() -> None:
    assert registry.best_available().name == "guide"
    with pytest.raises(Exception, match="unknown backend 'nope'"):
        registry.create("nope")


def test_request_validation(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="duration"):
        GenerationRequest("t", tmp_path, (LyricLine("l1", "x", 0.0),), Style(), 0.0, 1)
    with pytest.raises(ValueError, match="seed"):
        GenerationRequest("t", tmp_path, (), Style(), 10.0, -1)
