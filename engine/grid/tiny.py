"""A tiny random Beat This! in the official checkpoint layout (a stripped Lightning checkpoint: ``state_dict`` with
``model.`` keys, ``hyper_parameters``), so the tracker path runs in CI."""

from __future__ import annotations

from pathlib import Path

CONFIG = {"spect_dim": 128, "transformer_dim": 32, "ff_mult": 2, "n_layers": 1, "head_dim": 16, "stem_dim": 16,
          "sum_head": True, "partial_transformers": True}


def create_tiny_tracker(models: Path, seed: int = 0) -> Path:
    import torch

    from engine.nn.beat_this import BeatThis

    torch.manual_seed(seed)
    model = BeatThis(**CONFIG)
    folder = models / "beat_this"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "small0.ckpt"
    hyper = {**CONFIG, "fps": 50, "dropout": {"frontend": 0.1, "transformer": 0.2}}
    torch.save({"state_dict": {f"model.{k}": v for k, v in model.state_dict().items()}, "hyper_parameters": hyper,
                "datamodule_hyper_parameters": {}, "pytorch-lightning_version": "0.0.0+tiny"}, path)
    return path
