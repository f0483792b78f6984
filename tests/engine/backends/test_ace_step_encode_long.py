"""Found trying SongBridge as a producer: encoding a take's audio for ACE-Step (a cover of a guide take, an edit,
extract or lego of a take with no stored latent) ran the VAE encoder over the whole song in one pass, so its memory
grew with the song (a 101 s take peaked at 9.7 GB with the tiny models). It runs in overlapping windows now, as the
decode does, close to the one-pass result."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from engine.backends.ace_step import cost
from engine.backends.ace_step.pipeline import encode
from engine.backends.ace_step.tiny import create_tiny_ace_step
from engine.nn.ace_step.model import AceStepModel


@pytest.mark.slow
def test_a_long_take_is_encoded_in_windows_close_to_one_pass(tmp_path: Path) -> None:
    create_tiny_ace_step(tmp_path / "models", variants=("turbo",))
    model = AceStepModel.from_folder(tmp_path / "models")
    hop = int(model.vae.hop)
    longest: list[int] = []
    whole_encode = model.vae.encode

    def spy(wave):  # type: ignore[no-untyped-def]
        longest.append(int(wave.shape[-1]))
        return whole_encode(wave)

    frames = cost.DECODE_CHUNK + 40
    audio = np.random.default_rng(1).uniform(-0.5, 0.5, (frames * hop, 2)).astype(np.float32)
    with torch.no_grad():
        mean_whole, _ = whole_encode(torch.from_numpy(np.ascontiguousarray(audio.T))[None])
    model.vae.encode = spy  # type: ignore[method-assign]
    latent = encode(model, audio, seed=1)
    assert latent.shape[0] == frames
    assert max(longest) <= cost.DECODE_CHUNK * hop, longest  # never the whole take at once
    # the windowed mean against the one-pass mean: the posterior's sample differs by its noise, so compare means
    model.vae.sample = staticmethod(lambda mean, std, generator=None: mean)  # type: ignore[method-assign]
    windowed = encode(model, audio, seed=1).T[None]
    err = float((windowed - mean_whole).abs().max() / mean_whole.abs().max())
    assert err < 1e-2, err
