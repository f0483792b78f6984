"""``diffrhythm-tiny-random``: a tiny random-weight model in the official folder layout, so the whole neural path
(lyrics -> tokens -> sampling -> VAE -> WAV take) runs in CI on a CPU in seconds. It sings noise, by design."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import torch

from .files import TINY_MODEL_ID as MODEL_ID
from .files import VARIANT_DIRS

TINY_CONFIG = {"dim": 64, "depth": 2, "heads": 4, "ff_mult": 2, "text_dim": 512, "conv_layers": 1, "mel_dim": 64,
               "text_num_embeds": 363}


def _ipa_symbols() -> list[str]:
    """A vocabulary for when no vocab.json is given: punctuation, separator and the symbols the g2p_en mode
    produces (ids differ from the official vocab; fine for a random model)."""
    from .tokens import _CONSONANT, _R_COLOURED, _VOWEL

    syms = [",", ".", "?", "!", "_"]
    extra = ["ɚ", "ɜː", "ə", "ʌ", "i", "ɪ", "ɾ", "aɪə", "tɹ", "dɹ", "ts", "dz"]
    for s in [*_VOWEL.values(), *_R_COLOURED.values(), *_CONSONANT.values(), *extra]:
        if s not in syms:
            syms.append(s)
    syms += [":", ";", "'", "…"]
    return syms


def create_tiny_model(root: Path, *, variant: str = "full", seed: int = 0, vocab: Path | None = None) -> Path:
    """Write the tiny model to ``root`` (official layout) and return ``root``."""
    from engine.nn import CFM, DiT, DiTConfig
    from engine.nn.vae import TinyVAE

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    max_frames = 6144 if variant == "full" else 2048
    torch.manual_seed(seed)
    model = CFM(DiT.from_config(DiTConfig(**TINY_CONFIG, max_frames=max_frames)))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, p in model.named_parameters():  # zero-initialised layers would hide the text path: fill them all
            p.copy_(torch.randn(p.shape, generator=g) / max(1, p.shape[-1]) ** 0.5)
    folder = root / VARIANT_DIRS[variant]
    folder.mkdir(exist_ok=True)
    state = {k: v.half() for k, v in model.state_dict().items()}
    torch.save({"model_state_dict": state}, folder / "cfm_model.pt")
    vae_dir = root / "DiffRhythm-vae"
    vae_dir.mkdir(exist_ok=True)
    torch.jit.save(torch.jit.script(TinyVAE(seed=seed)), str(vae_dir / "vae_model.pt"))
    if vocab is not None:
        shutil.copy(vocab, root / "vocab.json")
    else:
        syms = _ipa_symbols()
        (root / "vocab.json").write_text(json.dumps({"vocab": {s: i for i, s in enumerate(syms)}}, ensure_ascii=False))
    neg = np.random.default_rng(seed).standard_normal((1, 512)).astype(np.float32)
    np.save(root / "vocal.npy", neg / np.linalg.norm(neg))
    (root / "config.json").write_text(json.dumps({"model": TINY_CONFIG}, indent=2))
    (root / "MODEL_ID").write_text(MODEL_ID + "\n")
    return root
