"""A tiny random HTDemucs in demucs' own safetensors layout (the class and its arguments in the metadata, a bag
yaml beside it), so stem separation runs end to end in CI in a second."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

SIGNATURE = "tiny0000"
KWARGS = {"sources": ["drums", "bass", "other", "vocals"], "audio_channels": 2, "samplerate": 44100,
          "segment": Fraction(39, 10), "channels": 4, "depth": 4, "t_layers": 1, "t_heads": 1, "dconv_comp": 4,
          "t_hidden_scale": 1.0}


def _encode(value: object) -> object:
    if isinstance(value, Fraction):
        return {"_type": "fraction", "numerator": value.numerator, "denominator": value.denominator}
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    return value


def create_tiny_separator(models: Path, seed: int = 0, klass: str = "demucs.htdemucs.HTDemucs") -> Path:
    """Write ``models/HTDemucs/htdemucs.yaml`` and ``models/HTDemucs/tiny0000.safetensors``; returns the yaml."""
    import torch
    from demucs.htdemucs import HTDemucs
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    model = HTDemucs(**KWARGS)
    folder = models / "HTDemucs"
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"klass": klass, "args": json.dumps([]), "kwargs": json.dumps(_encode(KWARGS))}
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / f"{SIGNATURE}.safetensors"),
              metadata=meta)
    (folder / "htdemucs.yaml").write_text(f"models: ['{SIGNATURE}']\nsegment: 3.9\n", encoding="utf-8")
    return folder / "htdemucs.yaml"
