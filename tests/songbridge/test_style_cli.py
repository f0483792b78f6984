"""Three ways to a style with the tiny random DiffRhythm and MuQ-MuLan: text, a reference clip, a saved preset."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import run_cli

LRC = "[00:01.00]hello night\n[00:04.00]city lights\n"


def _takes(project):
    recs = sorted((project / "takes").glob("*/record.json"))
    return [json.loads(p.read_text()) for p in recs]


@pytest.mark.slow
def test_generate_with_text_reference_audio_and_a_preset(tmp_path):
    models = tmp_path / "models"
    assert run_cli("models", "create-tiny", str(models)).returncode == 0
    lrc = tmp_path / "song.lrc"
    lrc.write_text(LRC)
    rng = np.random.default_rng(0)
    for name in ("ref1.wav", "ref2.wav"):
        sf.write(tmp_path / name, 0.3 * rng.standard_normal((44100 * 12, 2)), 44100, subtype="PCM_16")
    common = ["--backend", "diffrhythm", "--models", str(models), "--duration", "8", "--steps", "3", "--seed", "5"]

    r = run_cli("generate", str(lrc), "-o", str(tmp_path / "a"), "--style", "dreamy synth pop", *common)
    assert r.returncode == 0, r.stderr
    (text_take,) = _takes(tmp_path / "a.songbridge")
    assert text_take["diffrhythm"]["style"]["source"] == "prompt"
    assert text_take["diffrhythm"]["style"]["prompt"] == "dreamy synth pop"
    assert len(text_take["diffrhythm"]["style"]["encoder_sha256"]) == 64

    proj = tmp_path / "b"
    for ref in ("ref1.wav", "ref2.wav"):
        r = run_cli("generate", str(lrc), "-o", str(proj), "--style-audio", str(tmp_path / ref), *common)
        assert r.returncode == 0, r.stderr
    one, two = _takes(tmp_path / "b.songbridge")
    assert one["diffrhythm"]["style"]["source"] == "audio" and one["diffrhythm"]["style"]["audio"] == "ref1.wav"
    assert (tmp_path / "b.songbridge" / "reference" / "ref1.wav").exists()  # the project keeps its reference
    cached = sorted((tmp_path / "b.songbridge" / "cache" / "style").glob("*.npy"))
    assert len(cached) == 2 and not np.array_equal(np.load(cached[0]), np.load(cached[1]))  # other clip, other vector
    a, _ = sf.read(tmp_path / "b.songbridge" / "takes" / one["id"] / "mix.wav")
    b, _ = sf.read(tmp_path / "b.songbridge" / "takes" / two["id"] / "mix.wav")
    assert not np.array_equal(a, b)  # same seed and lyrics: only the style differs

    r = run_cli("style", "save", "Night drive", "--prompt", "dreamy synth pop", "--models", str(models))
    assert r.returncode == 0, r.stderr
    r = run_cli("generate", str(lrc), "-o", str(tmp_path / "c"), "--style-preset", "Night drive", *common)
    assert r.returncode == 0, r.stderr
    (preset_take,) = _takes(tmp_path / "c.songbridge")
    assert preset_take["diffrhythm"]["style"]["preset"] == "Night drive"
    assert preset_take["style"]["preset"] == "Night drive"
    # the preset holds the same vector the prompt gave: the same seed renders the same audio
    x, _ = sf.read(tmp_path / "a.songbridge" / "takes" / text_take["id"] / "mix.wav")
    y, _ = sf.read(tmp_path / "c.songbridge" / "takes" / preset_take["id"] / "mix.wav")
    assert np.array_equal(x, y)


@pytest.mark.slow
def test_bad_style_sources_are_refused_before_anything_is_written(tmp_path):
    models = tmp_path / "models"
    assert run_cli("models", "create-tiny", str(models)).returncode == 0
    lrc = tmp_path / "song.lrc"
    lrc.write_text(LRC)
    sf.write(tmp_path / "short.wav", np.zeros((24000 * 5, 1)), 24000)
    common = ["--backend", "diffrhythm", "--models", str(models), "--duration", "8", "--steps", "3"]
    r = run_cli("generate", str(lrc), "-o", str(tmp_path / "x"), "--style-audio", str(tmp_path / "short.wav"), *common)
    assert r.returncode == 2 and "short.wav" in r.stderr and "at least 10 s" in r.stderr
    r = run_cli("generate", str(lrc), "-o", str(tmp_path / "x"), "--style-preset", "nothing", *common)
    assert r.returncode == 2 and "no style preset 'nothing'" in r.stderr
    assert not (tmp_path / "x.songbridge").exists()
    r = run_cli("style", "save", "x", "--audio", str(tmp_path / "short.wav"), "--models", str(models))
    assert r.returncode == 2 and "at least 10 s" in r.stderr and "Traceback" not in r.stderr
