"""Stable Audio Open as one module whose state dict is the official file's: ``model.model.`` (the DiT),
``conditioner.conditioners.<id>.`` (number conditioners; the T5 is held apart, as the reference holds it) and
``pretransform.model.`` (the Oobleck autoencoder). Conditioning is assembled as ``get_conditioning_inputs`` does
(docs/reference/fixtures/stable-audio.md §3.3-3.4).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from .config import SAOConfig
from .dit import DiT
from .vae import Oobleck


class NumberEmbedder(nn.Module):
    def __init__(self, cond_dim: int, features: int = 128):
        super().__init__()
        self.embedding = nn.Sequential(_Fourier(features), nn.Linear(2 * features + 1, cond_dim))


class _Fourier(nn.Module):
    """Learned frequencies ``weights``: x -> [x, sin(2 pi w x), cos(2 pi w x)]."""

    def __init__(self, n: int):
        super().__init__()
        self.weights = nn.Parameter(torch.randn(n))

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, None]
        f = x * self.weights[None, :] * 2 * math.pi
        return torch.cat([x, f.sin(), f.cos()], dim=-1)


class NumberConditioner(nn.Module):
    """Seconds -> (embeddings [n, 1, cond_dim], mask [n, 1]); values are clamped to the configured range."""

    def __init__(self, cond_dim: int, min_val: float, max_val: float):
        super().__init__()
        self.min_val, self.max_val = min_val, max_val
        self.embedder = NumberEmbedder(cond_dim)

    def normalise(self, values: Sequence[float]) -> Tensor:
        x = torch.tensor([float(v) for v in values], dtype=torch.float32)
        x = x.clamp(self.min_val, self.max_val)
        return (x - self.min_val) / (self.max_val - self.min_val)

    def forward(self, values: Sequence[float], taps: dict[str, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        x = self.normalise(values).to(self.embedder.embedding[1].weight.device)
        emb = self.embedder.embedding(x)[:, None, :]
        if taps is not None:
            taps["normalized"] = x
        return emb, torch.ones(emb.shape[0], 1, device=emb.device)


@dataclass
class Conditioning:
    cross: Tensor  # [b, s, d]
    cross_mask: Tensor  # [b, s] float (unused by the DiT)
    glob: Tensor  # [b, g]


class StableAudio(nn.Module):
    def __init__(self, cfg: SAOConfig):
        super().__init__()
        self.cfg = cfg
        self.model = nn.Module()
        self.model.model = DiT(cfg.dit)
        self.conditioner = nn.Module()
        self.conditioner.conditioners = nn.ModuleDict({
            c.id: NumberConditioner(cfg.cond_dim, c.min_val, c.max_val)
            for c in cfg.conditioners if c.type == "number"})
        self.pretransform = nn.Module()
        self.pretransform.model = Oobleck(cfg.encoder, cfg.decoder, cfg.iterate_batch)
        self.t5: Any = None  # engine.nn.sao.t5.T5Encoder, set by the loader (not in the checkpoint)
        self.tokenizer: Any = None

    @property
    def dit(self) -> DiT:
        return self.model.model

    @property
    def vae(self) -> Oobleck:
        return self.pretransform.model

    def encode_prompts(self, prompts: Sequence[str], max_length: int) -> tuple[Tensor, Tensor]:
        """(embeddings [b, n, d] float32, zero at padding, mask [b, n] bool)."""
        if self.t5 is None or self.tokenizer is None:
            raise RuntimeError("no T5 text encoder loaded")
        ids, mask = self.tokenizer(list(prompts), max_length)
        dev = next(self.t5.parameters()).device
        ids, mask = ids.to(dev), mask.to(dev)
        with torch.no_grad():
            hidden = self.t5(ids, mask)
        return hidden * mask[..., None].float(), mask.bool()

    def condition(self, items: Sequence[Mapping[str, Any]]) -> dict[str, tuple[Tensor, Tensor]]:
        """Each conditioner over the batch: {id: (embeddings, mask)}."""
        out: dict[str, tuple[Tensor, Tensor]] = {}
        for c in self.cfg.conditioners:
            missing = [i for i, item in enumerate(items) if c.id not in item]
            if missing:
                raise KeyError(f"conditioning item {missing[0]} has no {c.id!r}")
            values = [item[c.id] for item in items]
            if c.type == "t5":
                out[c.id] = self.encode_prompts([str(v) for v in values], c.max_length)
            else:
                out[c.id] = self.conditioner.conditioners[c.id](values)
        return out

    def inputs(self, conds: Mapping[str, tuple[Tensor, Tensor]]) -> Conditioning:
        """Cross tokens in ``cross_attention_cond_ids`` order, global vector from ``global_cond_ids``."""
        dtype = self.dit.preprocess_conv.weight.dtype
        cross = torch.cat([conds[i][0] for i in self.cfg.cross_attention_cond_ids], dim=1)
        mask = torch.cat([conds[i][1].float() for i in self.cfg.cross_attention_cond_ids], dim=1)
        glob = torch.cat([conds[i][0] for i in self.cfg.global_cond_ids], dim=-1).squeeze(1)
        return Conditioning(cross.to(dtype), mask, glob.to(dtype))
