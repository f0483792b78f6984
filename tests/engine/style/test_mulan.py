"""MuQ-MuLan: parity with the reference goldens, the production loader's checks, DiffRhythm's reference-clip
preparation, and style presets."""

from __future__ import annotations

import json
import os
import re
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch

from engine.errors import PresetError
from engine.style import presets
from engine.style.encoder import StyleEncoder, StyleError
from engine.style.files import EncoderFilesError, locate
from engine.style.reference import ReferenceAudioError, prepare
from engine.style.tiny import create_tiny_encoder
from tests.conftest import fixture_set, run_cli


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    create_tiny_encoder(root, seed=3)
    return root


@pytest.mark.slow
def test_parity_command_passes_every_shared_case():
    folder = fixture_set("muq-mulan")
    r = run_cli("models", "parity", "muq-mulan", str(folder))
    assert r.returncode == 0, r.stdout + r.stderr
    cases = json.loads((folder / "fixtures.json").read_text())["cases"]
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith(("PASS", "FAIL"))]
    assert all(ln.startswith("PASS") for ln in lines)
    named = {ln.split()[1] for ln in lines}
    assert set(cases) <= named  # one line for every case the set holds, whatever its cases are
    m = re.search(r"^(\d+) passed, (\d+) failed$", r.stdout, re.M)
    assert m and int(m.group(2)) == 0 and int(m.group(1)) == len(lines)


@pytest.mark.slow
def test_parity_fails_when_the_weights_are_wrong(tmp_path):
    """The goldens catch a model that loads but computes something else (one weight changed)."""
    folder = fixture_set("muq-mulan")
    copy = tmp_path / "set"
    shutil.copytree(folder, copy)
    os.chmod(copy / "models" / "MuQ-MuLan-large", 0o755)
    weights = copy / "models" / "MuQ-MuLan-large" / "pytorch_model.bin"
    os.chmod(weights, 0o644)
    sd = torch.load(weights, weights_only=True)
    sd["mulan.text_to_latents.bias"] = sd["mulan.text_to_latents.bias"] + 0.01
    torch.save(sd, weights)
    r = run_cli("models", "parity", "muq-mulan", str(copy))
    assert r.returncode == 1
    fails = {ln.split()[1] for ln in r.stdout.splitlines() if ln.startswith("FAIL")}
    assert "text.genre" in fails and not any(f.startswith("audio.") for f in fails)


def test_loader_reports_missing_and_unknown_keys_and_accepts_unused_extras(tiny_models, tmp_path):
    models = tmp_path / "m"
    shutil.copytree(tiny_models, models)
    weights = models / "MuQ-MuLan-large" / "pytorch_model.bin"
    sd = torch.load(weights, weights_only=True)
    sd["mulan.contrast.temperatures"] = torch.ones(1, 1, 1)  # unused at inference: accepted
    sd["mulan.text.model.pooler.dense.weight"] = torch.ones(48, 48)
    torch.save(sd, weights)
    StyleEncoder(locate(models)).close()
    broken = dict(sd)
    del broken["mulan.text_to_latents.weight"]
    broken["mulan.text_to_latent.weight"] = torch.zeros(512, 48)
    torch.save(broken, weights)
    with pytest.raises(EncoderFilesError) as err:
        StyleEncoder(locate(models))
    msg = str(err.value)
    assert "missing mulan.text_to_latents.weight" in msg and "unexpected mulan.text_to_latent.weight" in msg
    assert str(weights) in msg


def test_missing_sub_folder_names_the_file_and_where_to_get_it(tiny_models, tmp_path):
    models = tmp_path / "m"
    shutil.copytree(tiny_models, models)
    (models / "xlm-roberta-base" / "tokenizer.json").unlink()
    with pytest.raises(EncoderFilesError, match=r"tokenizer\.json.*huggingface-cli download"):
        locate(models)


def test_prompt_over_the_token_limit_is_refused_clearly(tiny_models):
    enc = StyleEncoder(locate(tiny_models))
    with pytest.raises(StyleError, match=r"\d+ tokens long; MuQ-MuLan reads at most 512"):
        enc.text("pop " * 600)
    assert enc.text("pop").shape == (1, 512)


def _write(path, seconds, sr, channels=1, seed=0):
    rng = np.random.default_rng(seed)
    data = (0.2 * rng.standard_normal((int(seconds * sr), channels))).astype(np.float32)
    sf.write(path, data, sr, subtype="PCM_16")
    return sf.read(path, dtype="float32", always_2d=True)[0]


def test_reference_excerpt_channels_and_length_follow_diffrhythm(tmp_path):
    stereo = _write(tmp_path / "a.wav", 12.6, 24000, channels=2)
    p = prepare(tmp_path / "a.wav")
    assert p.start_s == 1.0  # 12.6 // 2 - 5, not the exact centre (1.3)
    seg = stereo[24000:24000 + 240000]
    assert np.array_equal(p.wav, ((seg[:, 0] + seg[:, 1]) / 2).astype(np.float32))  # mean of channels, no resampling
    _write(tmp_path / "b.wav", 11.0, 44100)
    assert prepare(tmp_path / "b.wav").wav.shape == (240001,)  # ceil(441000 * 24000 / 44100)
    _write(tmp_path / "c.wav", 10.2, 48000)
    q = prepare(tmp_path / "c.wav")
    assert q.wav.shape == (240000,) and q.start_s == 0.0


def test_reference_too_short_or_unreadable_is_refused_with_the_file_name(tmp_path):
    _write(tmp_path / "short.wav", 9.9, 24000)
    with pytest.raises(ReferenceAudioError, match=r"short\.wav.*9\.9 s.*at least 10 s"):
        prepare(tmp_path / "short.wav")
    (tmp_path / "junk.wav").write_bytes(b"RIFF0000WAVEnot really")
    with pytest.raises(ReferenceAudioError, match=r"junk\.wav: not an audio file"):
        prepare(tmp_path / "junk.wav")
    with pytest.raises(ReferenceAudioError, match="no such"):
        prepare(tmp_path / "absent.flac")


def test_presets_round_trip_and_bad_files_are_named(tmp_path, monkeypatch):
    monkeypatch.setenv("SONGBRIDGE_STYLES", str(tmp_path))
    v = np.random.default_rng(1).standard_normal((1, 512)).astype(np.float32)
    v /= np.linalg.norm(v)
    presets.save(presets.StylePreset("Late night", "prompt", v, prompt="lo-fi", encoder="MuQ-MuLan-large",
                                     encoder_sha256="ab" * 32))
    back = presets.find("late night")
    assert np.array_equal(back.vector, v) and back.prompt == "lo-fi"  # float32 exactly
    with pytest.raises(PresetError, match="exists"):
        presets.save(presets.StylePreset("Late night", "prompt", v))
    (tmp_path / "bad.toml").write_text('name = "bad"\nvector = [1.0, 2.0]\n')
    good, bad = presets.list_presets()
    assert [s.name for s in good] == ["Late night"] and "bad.toml" in bad[0] and "512" in bad[0]
    with pytest.raises(PresetError, match="no style preset 'nope'.*Late night"):
        presets.find("nope")
    with pytest.raises(PresetError, match="name"):
        presets.check_name("../etc")


def test_the_real_model_layout_matches_keys_full_json():
    """Built from the real configs on the meta device, the model has exactly the real file's keys and shapes, less
    the ones that are unused at inference (which the loader accepts and drops)."""
    from engine.nn.mulan import MuQMuLan, MuQMuLanConfig
    from engine.nn.mulan.model import UNUSED_PREFIXES

    data = json.loads((fixture_set("muq-mulan") / "keys_full.json").read_text())
    cfg = MuQMuLanConfig.from_json(data["mulan_config"], data["muq_config"], data["xlmr_config"])
    with torch.device("meta"):
        model = MuQMuLan(cfg)
    ours = {k: list(v.shape) for k, v in model.state_dict().items()}
    real = {e["key"]: e["shape"] for e in data["keys"]}
    used = {k: s for k, s in real.items() if not k.startswith(tuple(data["unused_at_inference_prefixes"]))}
    assert set(UNUSED_PREFIXES) >= set(data["unused_at_inference_prefixes"])
    assert ours == used
    assert sum(int(np.prod(s)) for s in ours.values()) > 600_000_000
