"""ACE-Step 1.5's condition encoder (reference ``AceStepConditionEncoder``): the caption states projected, the lyric
embeddings through a bidirectional encoder, one timbre vector per reference clip, all packed into one sequence of
encoder states with the valid tokens first (``pack_sequences``).

Module names follow the official checkpoint (``encoder.text_projector``, ``encoder.lyric_encoder.*``,
``encoder.timbre_encoder.*``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import AceStepConfig
from .layers import EncoderLayer, RMSNorm, additive_mask, rope


class EncoderStack(nn.Module):
    """``embed_tokens`` (Linear) -> bidirectional Qwen3-style layers (sliding/full per ``layer_types``) -> RMSNorm.
    ``limit``: only the first ``limit`` layers run (the lyric and timbre encoders stop at the DiT's layer count)."""

    def __init__(self, cfg: AceStepConfig, in_dim: int, layers: int, limit: int | None = None):
        super().__init__()
        self.cfg = cfg
        self.embed_tokens = nn.Linear(in_dim, cfg.enc.hidden_size)
        self.layers = nn.ModuleList(EncoderLayer(cfg.enc, cfg.rms_norm_eps, cfg.attention_bias)
                                    for _ in range(layers))
        self.norm = RMSNorm(cfg.enc.hidden_size, cfg.rms_norm_eps)
        self.limit = limit

    def run(self, x: Tensor, keep: Tensor | None = None) -> Tensor:
        """``x`` [N, L, hidden] already embedded; ``keep`` [N, L] key padding (1 = valid) or None."""
        length = x.shape[1]
        cos, sin = rope(length, self.cfg.enc.head_dim, self.cfg.rope_theta, x.device)
        pe = (cos.to(x.dtype), sin.to(x.dtype))
        masks: dict[str, Tensor | None] = {"none": None}
        layers = list(self.layers)[: self.limit] if self.limit is not None else list(self.layers)
        for i, layer in enumerate(layers):
            kind = self.cfg.mask_kind(i)
            if kind not in masks:
                masks[kind] = additive_mask(length, window=self.cfg.window(i), keep=keep, dtype=x.dtype,
                                            device=x.device)
            x = layer(x, pe, masks[kind])
        return self.norm(x)


class LyricEncoder(EncoderStack):
    def __init__(self, cfg: AceStepConfig):
        super().__init__(cfg, cfg.text_hidden_dim, cfg.num_lyric_encoder_hidden_layers, cfg.num_hidden_layers)

    def forward(self, embeds: Tensor, mask: Tensor) -> Tensor:
        return self.run(self.embed_tokens(embeds), mask)


class TimbreEncoder(EncoderStack):
    """Each packed reference [N, Tr, timbre_dim] -> its first frame's output; ``special_token`` is stored in the
    checkpoint but unused (the reference prepends nothing)."""

    def __init__(self, cfg: AceStepConfig):
        super().__init__(cfg, cfg.timbre_hidden_dim, cfg.num_timbre_encoder_hidden_layers, cfg.num_hidden_layers)
        self.special_token = nn.Parameter(torch.zeros(1, 1, cfg.enc.hidden_size))

    def forward(self, packed: Tensor, order: Tensor) -> tuple[Tensor, Tensor]:
        h = self.run(self.embed_tokens(packed))[:, 0, :]
        return unpack_timbre(h, order)


def unpack_timbre(packed: Tensor, order: Tensor) -> tuple[Tensor, Tensor]:
    """[N, d] vectors and ``order`` [N] (batch item of each) -> [B, max_refs, d] (in order within an item, zeros
    in empty slots) and an int64 mask [B, max_refs]; B = max(order) + 1."""
    if order.ndim != 1 or order.shape[0] != packed.shape[0]:
        raise ValueError(f"refer_audio_order_mask must have one entry per reference ({packed.shape[0]}), "
                         f"got shape {tuple(order.shape)}")
    order = order.long()
    if order.numel() == 0 or int(order.min()) < 0:
        raise ValueError("refer_audio_order_mask must name a batch item (>= 0) for every reference")
    n, d = packed.shape
    b = int(order.max()) + 1
    counts = torch.bincount(order, minlength=b)
    width = int(counts.max())
    pos = torch.zeros(n, dtype=torch.long)
    seen = [0] * b
    for i, item in enumerate(order.tolist()):
        pos[i] = seen[item]
        seen[item] += 1
    one_hot = F.one_hot(order * width + pos.to(order.device), num_classes=b * width).to(packed.dtype)
    out = (one_hot.t() @ packed).reshape(b, width, d)
    mask = (one_hot.sum(dim=0) > 0).long().reshape(b, width)
    return out, mask


def pack_sequences(h1: Tensor, h2: Tensor, m1: Tensor, m2: Tensor) -> tuple[Tensor, Tensor]:
    """Concatenate, move the valid tokens first (stable, in order), padding after; new mask = position < count."""
    h = torch.cat([h1, h2], dim=1)
    m = torch.cat([m1, m2], dim=1)
    b, length, d = h.shape
    idx = m.argsort(dim=1, descending=True, stable=True)
    out = torch.gather(h, 1, idx.unsqueeze(-1).expand(b, length, d))
    counts = m.sum(dim=1)
    return out, torch.arange(length, device=h.device)[None, :] < counts[:, None]


class ConditionEncoder(nn.Module):
    def __init__(self, cfg: AceStepConfig):
        super().__init__()
        self.text_projector = nn.Linear(cfg.text_hidden_dim, cfg.enc.hidden_size, bias=False)
        self.lyric_encoder = LyricEncoder(cfg)
        self.timbre_encoder = TimbreEncoder(cfg)

    def forward(self, text_hidden: Tensor, text_mask: Tensor, lyric_hidden: Tensor, lyric_mask: Tensor,
                refer_packed: Tensor, refer_order: Tensor, taps: dict[str, Tensor] | None = None
                ) -> tuple[Tensor, Tensor]:
        """(encoder states [B, Ll + R + Lt, hidden], mask [B, …] bool)."""
        text = self.text_projector(text_hidden)
        lyric = self.lyric_encoder(lyric_hidden, lyric_mask)
        timbre, timbre_mask = self.timbre_encoder(refer_packed, refer_order)
        if timbre.shape[0] != text.shape[0]:
            raise ValueError(f"the reference clips name {timbre.shape[0]} batch items, the text has {text.shape[0]}")
        if taps is not None:
            taps.update({"text_proj": text, "lyric": lyric, "timbre": timbre, "timbre_mask": timbre_mask})
        h, m = pack_sequences(lyric, timbre, lyric_mask, timbre_mask)
        return pack_sequences(h, text, m, text_mask)
