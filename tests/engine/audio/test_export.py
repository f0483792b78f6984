"""Broadcast WAV, loudness and the render pipeline."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.audio.bwf import Bext, read_bext, write_bwf
from engine.audio.loudness import integrated_lufs, normalize, true_peak_db
from engine.backends.guide.backend import GuideBackend
from engine.errors import SongBridgeError
from engine.generation import SongChoices, plan_takes, prepare_song, run_take
from engine.lyrics import parse
from engine.render import RenderSettings, render_take
from engine.song import EffectSlot, Project, Song


def ebu_3285_time_reference(path: Path) -> tuple[int, str, int]:
    """An independent reader written from EBU Tech 3285 v2 §2.3: walk the RIFF chunks, find 'bext', read
    TimeReferenceLow/High (offsets 338/342, little-endian uint32) and Version (offset 346)."""
    data = path.read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    pos = 12
    while pos + 8 <= len(data):
        ck_id, ck_size = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "little")
        body = data[pos + 8:pos + 8 + ck_size]
        if ck_id == b"bext":
            low = int.from_bytes(body[338:342], "little")
            high = int.from_bytes(body[342:346], "little")
            version = int.from_bytes(body[346:348], "little")
            description = body[:256].rstrip(b"\0").decode("ascii")
            return (high << 32) | low, description, version
        pos += 8 + ck_size + (ck_size & 1)
    raise AssertionError("no bext chunk")


@pytest.mark.parametrize("bits", [16, 24, 32])
def test_bwf_round_trip(tmp_path: Path, bits: int) -> None:
    x = (np.random.default_rng(1).standard_normal((44100, 2)) * 0.2).astype(np.float32)
    p = write_bwf(tmp_path / "a.wav", x, 44100, bits, Bext("hello", time_reference=5_000_000_123))
    y, sr = sf.read(str(p), dtype="float32")  # libsndfile reads what we wrote
    assert sr == 44100 and y.shape == x.shape
    assert np.abs(y - x).max() < {16: 1e-4, 24: 1e-6, 32: 0}[bits] + 1e-9
    assert ebu_3285_time_reference(p) == (5_000_000_123, "hello", 2)
    assert read_bext(p).time_reference == 5_000_000_123


@pytest.mark.slow
def test_loudness_normalisation_and_true_peak() -> None:
    rng = np.random.default_rng(3)
    t = np.arange(44100 * 10) / 44100
    x = (0.1 * np.sin(2 * np.pi * 110 * t) * (1 + np.sign(np.sin(2 * np.pi * 2 * t))) )[:, None].repeat(2, 1)
    x = (x + 0.02 * rng.standard_normal(x.shape)).astype(np.float32)
    for target in (-23.0, -14.0, -8.0):
        y, res = normalize(x, 44100, target, ceiling_db=-1.0)
        assert abs(integrated_lufs(y, 44100) - target) <= 0.5
        assert true_peak_db(y) < -1.0
        assert np.abs(y).max() < 1.0


def test_true_peak_sees_intersample_peaks() -> None:
    n = np.arange(44100)
    s = (0.5 * np.sin(2 * np.pi * 11025 * n / 44100 + np.pi / 4)).astype(np.float32)
    assert 20 * np.log10(np.abs(s).max()) == pytest.approx(-9.03, abs=0.01)
    assert true_peak_db(np.stack([s, s], 1)) == pytest.approx(-6.02, abs=0.15)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    folder = tmp_path_factory.mktemp("p") / "demo"
    project = Project(folder.with_suffix(".songbridge"), Song())
    project.song = prepare_song(project.song, parse("la la la\nsing along now\n"),
                                SongChoices(title="Demo Song", style="rock", bpm=120, sections="intro:1,verse:4,outro:1"),
                                first_time=True)
    req = plan_takes(project, 1, 11)[0]
    run_take(project, GuideBackend(), req, lambda d, t: None, lambda: False)
    return project


def test_render_stamps_levels_and_layout(project: Project) -> None:
    song = project.song
    project.song = song.replace(effects={"vocal": EffectSlot("vocal-clean")})
    try:
        result = render_take(project, "take-001", RenderSettings(loudness_lufs=-16.0, fx={"master": "master-gentle"}),
                             time_reference_s=2.0)
    finally:
        project.song = song
    assert sorted(result.files) == ["bass", "drums", "keys", "mix", "vocal"]
    assert result.chains["vocal"] == "vocal-clean" and result.chains["master"] == "master-gentle"
    for label, path in result.files.items():
        assert path.parent == project.folder / "renders" / "take-001"
        ref, desc, _ = ebu_3285_time_reference(path)
        assert ref == 88200 and "take-001" in desc and label in desc
    mix, sr = sf.read(str(result.files["mix"]))
    assert abs(integrated_lufs(mix, sr) - (-16.0)) <= 0.5
    assert true_peak_db(mix) < -1.0
    bext = read_bext(result.files["mix"])
    assert bext.loudness_value == pytest.approx(-1600, abs=50)


def test_stems_keep_relative_levels(project: Project) -> None:
    src = project.take_dir("take-001") / "stems"
    no_fx = {slot: None for slot in ("drums", "bass", "keys", "vocal", "master")}
    result = render_take(project, "take-001", RenderSettings(loudness_lufs=-20.0, fx=no_fx))
    ratios = []
    for stem in ("drums", "vocal"):
        a, _ = sf.read(str(src / f"{stem}.wav"))
        b, _ = sf.read(str(result.files[stem]))
        ratios.append(np.sqrt((b ** 2).mean() / (a ** 2).mean()))
    assert ratios[0] == pytest.approx(ratios[1], rel=0.01)


@pytest.mark.slow
def test_flac_and_bits(project: Project) -> None:
    result = render_take(project, "take-001", RenderSettings(format="flac", bits=16))
    info = sf.info(str(result.files["mix"]))
    assert info.format == "FLAC" and info.subtype == "PCM_16"
    with pytest.raises(SongBridgeError, match="FLAC holds 16 or 24-bit"):
        RenderSettings(format="flac", bits=32)


@pytest.mark.slow
def test_failing_render_leaves_project_as_it_was(project: Project, monkeypatch) -> None:
    render_take(project, "take-001", RenderSettings())
    folder = project.render_dir("take-001")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    song_before = (project.folder / "song.json").read_bytes()
    import engine.render as render_mod

    calls = []

    def failing_write(path, audio, settings, bext, *rest):
        calls.append(path)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return original(path, audio, settings, bext, *rest)

    original = render_mod._write
    monkeypatch.setattr(render_mod, "_write", failing_write)
    with pytest.raises(OSError):
        render_take(project, "take-001", RenderSettings(loudness_lufs=-10.0))
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert (project.folder / "song.json").read_bytes() == song_before
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]


def test_bad_fx_is_refused_before_any_work(project: Project) -> None:
    with pytest.raises(SongBridgeError, match="no such stem"):
        render_take(project, "take-001", RenderSettings(fx={"guitar": "vocal-clean"}))
    with pytest.raises(SongBridgeError, match="no effect preset 'nope'"):
        render_take(project, "take-001", RenderSettings(fx={"vocal": "nope"}))


def test_bext_struct_layout() -> None:
    from engine.audio.bwf import pack_bext

    body = pack_bext(Bext("d", time_reference=(7 << 32) | 9, coding_history="A=PCM\r\n"))
    assert len(body) == 602 + len("A=PCM\r\n")
    assert struct.unpack_from("<IIH", body, 338) == (9, 7, 2)
