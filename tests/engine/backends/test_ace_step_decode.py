"""A long ACE-Step song is decoded in overlapping windows (its memory does not grow with the song); a short one in
one pass, exactly as the reference decodes it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from engine.backends.ace_step import cost
from engine.backends.ace_step.pipeline import decode
from engine.backends.ace_step.tiny import create_tiny_ace_step
from engine.nn.ace_step.model import AceStepModel


def test_a_long_song_decodes_in_windows_close_to_one_pass_and_a_short_one_exactly(tmp_path: Path) -> None:
    create_tiny_ace_step(tmp_path / "models", variants=("turbo",))
    model = AceStepModel.from_folder(tmp_path / "models")
    g = torch.Generator().manual_seed(3)
    for frames, exact in ((cost.DECODE_CHUNK - 10, True), (3 * cost.DECODE_CHUNK + 17, False)):
        z = torch.randn(1, frames, model.silence_latent.shape[-1], generator=g)
        with torch.no_grad():
            whole = model.vae.decode(z)[0].numpy()
        got = decode(model, z)
        assert got.shape == whole.shape == (2, frames * model.vae.hop)
        err = float(np.abs(got - whole).max()) / float(np.abs(whole).max())
        assert err == 0.0 if exact else err < 1e-3, (frames, err)
