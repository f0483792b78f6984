"""VAE chunking, lyric tokens and placement, model files, and the diffrhythm backend on the tiny random model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from safetensors.torch import load_file

from engine.backends.base import EditSpec, GenerationRequest
from engine.backends.diffrhythm.backend import DiffRhythmBackend
from engine.backends.diffrhythm.files import ModelFilesError, locate
from engine.backends.diffrhythm.tiny import create_tiny_model
from engine.backends.diffrhythm.tokens import (
    TokenizerError,
    Vocab,
    arpabet_to_ipa,
    encode,
    lyrics_tokens,
    phoneme_string,
    place,
)
from engine.lyrics import lines_from_lrc, parse
from engine.nn import DiTConfig
from engine.nn.dit import ConfigError
from engine.nn.vae import VAE, TinyVAE
from engine.song import Style, TimeRange


@pytest.fixture(scope="module")
def vocab(fixtures_dir) -> Vocab:
    return Vocab.load(fixtures_dir / "g2p_vocab.json")


def test_vae_chunked_equals_unchunked_and_handles_short_audio() -> None:
    vae = VAE(torch.jit.script(TinyVAE(seed=3)))
    for frames in (50, 128, 129, 300, 1000):
        z = torch.randn(1, 64, frames)
        assert (vae.decode(z) - vae.decode(z, chunk=False)).abs().max() < 1e-6
    audio = vae.decode(torch.randn(1, 64, 400))
    m1, s1 = vae.encode(audio)
    m2, s2 = vae.encode(audio, chunk=False)
    assert m1.shape == (1, 64, 400) and (m1 - m2).abs().max() < 1e-5 and (s1 - s2).abs().max() < 1e-5
    short_mean, _ = vae.encode(torch.randn(1, 2, 3 * 2048 + 100))  # shorter than a chunk: the reference crashes
    assert short_mean.shape == (1, 64, 3)


def test_placement_pushes_overlapping_lines_and_cuts_at_the_end() -> None:
    lrc, placed = place([(0.0, [5, 6, 2, 7]), (0.1, [8, 9]), (1.0, [10])], end_frame=30)
    assert lrc[:9] == [5, 6, 1, 7, 2, 8, 9, 2, 0]  # inner period -> comma, final period, second line pushed
    assert placed[1] == (0.1, 5, 3)
    assert lrc[21:23] == [10, 2]  # int(1.0 * 44100 / 2048) = 21
    lrc, placed = place([(0.0, list(range(3, 40)))], end_frame=10)
    assert len(lrc) == 10 and placed == [(0.0, 0, 10)]


def test_g2p_en_mode_maps_to_the_vocabulary(vocab: Vocab) -> None:
    assert phoneme_string("Hello darkness, my old friend.") == \
        "h|ə|l|oʊ|_|d|ɑːɹ|k|n|ə|s|,|m|aɪ|_|oʊ|l|d|_|f|ɹ|ɛ|n|d|.|"
    assert arpabet_to_ipa(["S", "IH1", "T", "IY0"]) == ["s", "ɪ", "ɾ", "i"]  # flap, final i
    assert arpabet_to_ipa(["T", "R", "IY1"]) == ["tɹ", "iː"]
    toks = encode("I can't stop, well-known", vocab)
    assert vocab.ids["'"] + 1 not in toks  # contractions are words, not "can ' tee"
    assert vocab.ids["_"] + 1 in toks and all(t > 0 for t in toks)


@pytest.mark.slow
def test_lines_the_reference_crashes_on(vocab: Vocab) -> None:
    assert encode("123", vocab) and encode("...", vocab) == [] and encode("", vocab) == []
    with pytest.raises(TokenizerError, match="Chinese"):
        encode("你好", vocab)
    res = lyrics_tokens([(1.0, "one"), (2.0, ""), (3.0, "two")], vocab, max_frames=6144, duration_s=10.0)
    assert len(res.line_frames) == 2 and res.end_frame == 215 and res.song_duration == pytest.approx(215 / 6144)
    base = lyrics_tokens([(1.0, "one"), (3.0, "two")], vocab, max_frames=2048, duration_s=95.0)
    assert base.end_frame == 2048 and len(base.line_frames) == 2  # SongBridge keeps the last line
    ref = lyrics_tokens([(1.0, "one"), (3.0, "two")], vocab, max_frames=2048, duration_s=95.0,
                        drop_last_for_base=True)
    assert len(ref.line_frames) == 1


def test_vocab_and_config_errors(tmp_path: Path) -> None:
    with pytest.raises(TokenizerError, match="not found; copy vocab.json"):
        Vocab.load(tmp_path / "vocab.json")
    (tmp_path / "v.json").write_text('{"vocab": [1, 2]}')
    with pytest.raises(TokenizerError, match="expected"):
        Vocab.load(tmp_path / "v.json")
    with pytest.raises(ConfigError, match="unknown model config key 'dimm'"):
        DiTConfig.from_dict({"dimm": 64}, "config.json")
    with pytest.raises(ConfigError, match="text_dim must be 512"):
        DiTConfig.from_dict({"dim": 64, "text_dim": 256}, "config.json")


def test_missing_model_files_are_listed(tmp_path: Path) -> None:
    with pytest.raises(ModelFilesError) as info:
        locate(tmp_path)
    msg = str(info.value)
    assert "DiffRhythm-1_2-full/cfm_model.pt" in msg and "vae_model.pt" in msg and "vocab.json" in msg
    assert "Hugging Face" in msg
    ok, reason = DiffRhythmBackend(models_dir=tmp_path / "none").available()
    assert not ok and "no model folder" in reason


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    return create_tiny_model(tmp_path_factory.mktemp("models"))  # its own vocabulary: no golden data needed


def request(tmp: Path, take: str, seed: int, **kw) -> GenerationRequest:
    lines = tuple(lines_from_lrc(parse("[00:01.00]Hello darkness my old friend\n[00:04.00]I come to talk again\n")))
    return GenerationRequest(take, tmp / "takes" / take, lines, Style("dark synth"), 12.0, seed,
                             params={"steps": 6}, **kw)


@pytest.mark.slow
def test_backend_takes_edits_and_records(tmp_path: Path, tiny_dir: Path) -> None:
    (tmp_path / "takes").mkdir()
    # float32: a take's latent is the same alone or in a batch; in bf16 the products round differently by batch
    # size (test_lowp.py checks how much)
    backend = DiffRhythmBackend(models_dir=tiny_dir, precision="fp32")
    assert backend.available()[0]
    progress = []
    t1 = backend.generate(request(tmp_path, "take-001", 5), lambda d, t: progress.append((d, t)), lambda: False)
    assert progress[-1][0] == progress[-1][1]
    folder = tmp_path / "takes" / "take-001"
    record = json.loads((folder / "record.json").read_text())
    assert record["model_id"] == "diffrhythm-tiny-random" and len(record["weights_sha256"]) == 64
    assert record["params"]["steps"] == 6 and record["params"]["cfg"] == 4.0 and record["seed"] == 5
    assert record["diffrhythm"]["lines_placed"] == 2
    info = sf.info(str(folder / "mix.wav"))
    assert (info.samplerate, info.channels) == (44100, 2) and abs(info.duration - 12.0) < 1e-3
    audio, _ = sf.read(str(folder / "mix.wav"))
    assert np.abs(audio).max() <= 10 ** (-1 / 20) + 1e-4 and np.abs(audio).max() > 0.01
    # Same seed -> same latent; the batch of two gives each seed its own noise.
    again = backend.generate_many([request(tmp_path, "take-002", 5), request(tmp_path, "take-003", 6)],
                                  lambda d, t: None, lambda: False)
    lat = {t: load_file(str(tmp_path / "takes" / t / "latent.safetensors"))["latent"]
           for t in ("take-001", "take-002", "take-003")}
    assert (lat["take-001"] - lat["take-002"]).abs().max() < 1e-4
    assert (lat["take-001"] - lat["take-003"]).abs().max() > 0.1
    assert [t.seed for t in again] == [5, 6]
    # Editing 4-7 s keeps every latent frame outside that range bit-identical.
    edit = EditSpec("take-001", (TimeRange(4.0, 7.0),))
    t4 = backend.generate(request(tmp_path, "take-004", 9, edit=edit), lambda d, t: None, lambda: False)
    assert t4.parent == t1.id and t4.edited_ranges == edit.ranges
    new = load_file(str(tmp_path / "takes/take-004/latent.safetensors"))["latent"]
    changed = (new != lat["take-001"]).any(dim=1).nonzero().flatten()
    assert changed.min().item() >= int(4.0 * 44100 / 2048) and changed.max().item() < int(7.0 * 44100 / 2048) + 1
    a, _ = sf.read(str(tmp_path / "takes/take-001/mix.wav"))
    b, _ = sf.read(str(tmp_path / "takes/take-004/mix.wav"))
    diff = np.flatnonzero(np.abs(a - b).max(axis=1) > 1e-4)
    margin = 2048  # the tiny VAE's receptive field is one frame each side
    assert diff.min() >= changed.min().item() * 2048 - margin and diff.max() < (changed.max().item() + 1) * 2048 + margin


@pytest.mark.slow
def test_cli_generates_with_the_tiny_model(tmp_path: Path, tiny_dir: Path) -> None:
    from tests.conftest import run_cli

    lyrics = tmp_path / "l.lrc"
    lyrics.write_text("[00:01.00]first line of the song\n[00:05.00]and the second one\n")
    out = run_cli("generate", str(lyrics), "--backend", "diffrhythm", "--models", str(tiny_dir), "--steps", "4",
                  "--duration", "10", "-o", str(tmp_path / "neural"), "--param", "solver=heun")
    assert out.returncode == 0, out.stderr
    song = json.loads((tmp_path / "neural.songbridge/song.json").read_text())
    assert song["takes"][0]["backend"] == "diffrhythm" and song["takes"][0]["params"]["solver"] == "heun"
    assert (tmp_path / "neural.songbridge/takes/take-001/latent.safetensors").exists()
    missing = run_cli("generate", str(lyrics), "--backend", "diffrhythm", "--models", str(tmp_path / "nothing"),
                      "-o", str(tmp_path / "x"))
    assert missing.returncode == 2 and "cannot run here" in missing.stderr and "vae_model.pt" in missing.stderr


class WideVAE(torch.nn.Module):
    """A TorchScript test VAE whose decoder sees ``reach`` latent frames either side (one wide convolution), so
    chunked decoding is only right when each chunk's trimmed edge is wider than that reach."""

    def __init__(self, reach: int, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.conv = torch.nn.Conv1d(64, 2, 2 * reach + 1, padding=reach)
        with torch.no_grad():
            self.conv.weight.copy_(torch.randn(self.conv.weight.shape, generator=g) / (64 * (2 * reach + 1)) ** 0.5)

    @torch.jit.export
    def decode_export(self, z: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(self.conv(z))  # [b, 2, t]
        return h.repeat_interleave(2048, dim=-1)

    @torch.jit.export
    def encode_export(self, audio: torch.Tensor) -> torch.Tensor:
        return torch.zeros(audio.shape[0], 128, audio.shape[-1] // 2048)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.decode_export(z)


def test_chunked_decode_trims_enough_for_a_decoder_that_sees_far() -> None:
    from engine.nn.vae import HOP, chunked

    z = torch.randn(1, 64, 700, generator=torch.Generator().manual_seed(1))
    near = VAE(torch.jit.script(WideVAE(reach=12)))  # reach 12 < the 16 frames trimmed per inner edge
    whole = near.decode(z, chunk=False)
    assert (near.decode(z) - whole).abs().max() < 1e-5  # float round-off only (1.8e-6 seen)
    # the same decoder with a narrower trim (8 frames per edge) goes wrong at every seam: this test can fail
    narrow = chunked(near.module.decode_export, z, 1, HOP, z.shape[-1], overlap=16)
    assert (narrow - whole).abs().max() > 1e-3
    far = VAE(torch.jit.script(WideVAE(reach=40)))  # sees past the trim: chunking changes the seams only
    diff = (far.decode(z) - far.decode(z, chunk=False)).abs().amax(dim=1)[0].reshape(-1, HOP).amax(-1)
    wrong = torch.nonzero(diff > 1e-5).flatten()
    assert len(wrong) > 0 and all(min(abs(int(f) - s) for s in (112, 208, 304, 400, 496, 592)) < 40 for f in wrong)
