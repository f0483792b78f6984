"""The Beat This! network (Foscarin, Schlüter, Widmer, ISMIR 2024; CPJKU/beat_this 1.1.0), in plain torch.

Log-mel frames [B, T, 128] -> beat and downbeat logits [B, T] at 50 fps. The module names follow the official
state dict (``frontend.stem.bn1d``, ``frontend.blocks.i.partial.attnF``, ``transformer_blocks.layers.L.0``,
``task_heads.beat_downbeat_lin``) so a checkpoint loads key for key. The specification is
docs/reference/fixtures/beat-this.md §4.3: a BatchNorm over mel bins, a conv stem, three frontend blocks (a partial
transformer over frequency then time, a strided conv), a projection, a RoFormer with gated heads, a linear head.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class RMSNorm(nn.Module):
    """``x / max(||x||, 1e-12) * sqrt(dim) * gamma`` (F.normalize; not the mean-square form)."""

    def __init__(self, dim: int):
        super().__init__()
        self.scale = dim**0.5
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        return F.normalize(x, dim=-1) * self.scale * self.gamma


class Rotary(nn.Module):
    """Interleaved-pair rotary embedding over positions 0..n-1 of the sequence axis (-2), angles in float32
    (rotary-embedding-torch 0.9.1 defaults). Its ``freqs`` is stored once per attention module in the file."""

    def __init__(self, head_dim: int):
        super().__init__()
        self.freqs = nn.Parameter(1.0 / (10000 ** (torch.arange(0, head_dim, 2).float() / head_dim)),
                                  requires_grad=False)

    def forward(self, t: Tensor) -> Tensor:
        # t: [b, h, n, d]
        n = t.shape[-2]
        pos = torch.arange(n, device=t.device, dtype=t.dtype)
        angles = torch.einsum("n,f->nf", pos.float(), self.freqs.float())
        angles = angles.repeat_interleave(2, dim=-1)  # (f r): pair 2j, 2j+1 share frequency j
        pairs = t.unflatten(-1, (-1, 2))
        x1, x2 = pairs.unbind(-1)
        rotated = torch.stack((-x2, x1), dim=-1).flatten(-2)
        return t * angles.cos() + rotated * angles.sin()


class Attention(nn.Module):
    """RMSNorm, qkv (no bias) with RoPE, SDPA, a sigmoid gate per head and token, output projection (no bias)."""

    def __init__(self, dim: int, heads: int, head_dim: int, rotary: Rotary):
        super().__init__()
        self.heads = heads
        self.norm = RMSNorm(dim)
        self.to_qkv = nn.Linear(dim, 3 * heads * head_dim, bias=False)
        self.to_gates = nn.Linear(dim, heads)
        self.to_out = nn.Sequential(nn.Linear(heads * head_dim, dim, bias=False), nn.Dropout(0.0))
        self.rotary_embed = rotary

    def forward(self, x: Tensor) -> Tensor:
        # x: [b, n, dim]
        h = self.norm(x)
        b, n, _ = h.shape
        q, k, v = self.to_qkv(h).view(b, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)  # [b, heads, n, hd] each
        q, k = self.rotary_embed(q), self.rotary_embed(k)
        out = F.scaled_dot_product_attention(q, k, v)
        gates = self.to_gates(h)  # [b, n, heads]
        out = out * gates.transpose(1, 2).unsqueeze(-1).sigmoid()
        return self.to_out(out.transpose(1, 2).reshape(b, n, -1))


class FeedForward(nn.Module):
    def __init__(self, dim: int, mult: int):
        super().__init__()
        self.net = nn.Sequential(RMSNorm(dim), nn.Linear(dim, dim * mult), nn.GELU(), nn.Dropout(0.0),
                                 nn.Linear(dim * mult, dim), nn.Dropout(0.0))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class PartialFTTransformer(nn.Module):
    """Attention and feed-forward along frequency, then along time, on [b, c, f, t] (feed-forward always x4)."""

    def __init__(self, dim: int, head_dim: int, rotary: Rotary):
        super().__init__()
        heads = dim // head_dim
        self.attnF = Attention(dim, heads, head_dim, rotary)
        self.ffF = FeedForward(dim, 4)
        self.attnT = Attention(dim, heads, head_dim, rotary)
        self.ffT = FeedForward(dim, 4)

    def forward(self, x: Tensor, taps: dict[str, Tensor] | None = None, name: str = "") -> Tensor:
        b, c, f, t = x.shape
        x = x.permute(0, 3, 2, 1).reshape(b * t, f, c)  # (b t) f c
        a = self.attnF(x)
        if taps is not None:
            taps[f"{name}.attnF"] = a
        x = x + a
        x = x + self.ffF(x)
        x = x.view(b, t, f, c).permute(0, 2, 1, 3).reshape(b * f, t, c)  # (b f) t c
        a = self.attnT(x)
        if taps is not None:
            taps[f"{name}.attnT"] = a
        x = x + a
        x = x + self.ffT(x)
        return x.view(b, f, t, c).permute(0, 3, 1, 2)  # b c f t


class Block(nn.Module):
    def __init__(self, dim: int, head_dim: int, rotary: Rotary, partial: bool):
        super().__init__()
        self.partial = PartialFTTransformer(dim, head_dim, rotary) if partial else None
        self.conv2d = nn.Conv2d(dim, 2 * dim, kernel_size=(2, 3), stride=(2, 1), padding=(0, 1), bias=False)
        self.norm = nn.BatchNorm2d(2 * dim)

    def forward(self, x: Tensor, taps: dict[str, Tensor] | None = None, name: str = "") -> Tensor:
        if self.partial is not None:
            x = self.partial(x, taps, name)
            if taps is not None:
                taps[f"{name}.partial"] = x
        return F.gelu(self.norm(self.conv2d(x)))


class Stem(nn.Module):
    def __init__(self, spect_dim: int, stem_dim: int):
        super().__init__()
        self.bn1d = nn.BatchNorm1d(spect_dim)
        self.conv2d = nn.Conv2d(1, stem_dim, kernel_size=(4, 3), stride=(4, 1), padding=(0, 1), bias=False)
        self.bn2d = nn.BatchNorm2d(stem_dim)


class Frontend(nn.Module):
    def __init__(self, spect_dim: int, stem_dim: int, dim: int, head_dim: int, rotary: Rotary, partial: bool):
        super().__init__()
        self.stem = Stem(spect_dim, stem_dim)
        self.blocks = nn.ModuleList(Block(stem_dim * 2**i, head_dim, rotary, partial) for i in range(3))
        self.linear = nn.Linear(stem_dim * 8 * (spect_dim // 32), dim)

    def forward(self, x: Tensor, taps: dict[str, Tensor] | None = None) -> Tensor:
        # x: [b, t, mels]
        x = self.stem.bn1d(x.transpose(1, 2))  # [b, mels, t]
        if taps is not None:
            taps["bn1d"] = x
        x = F.gelu(self.stem.bn2d(self.stem.conv2d(x.unsqueeze(1))))  # [b, c0, mels/4, t]
        if taps is not None:
            taps["stem"] = x
        for i, block in enumerate(self.blocks):
            x = block(x, taps, f"block{i}")
            if taps is not None:
                taps[f"block{i}"] = x
        b, c, f, t = x.shape
        x = self.linear(x.permute(0, 3, 1, 2).reshape(b, t, c * f))  # b t (c f): channel-major
        if taps is not None:
            taps["frontend"] = x
        return x


class Transformer(nn.Module):
    def __init__(self, dim: int, depth: int, head_dim: int, ff_mult: int, rotary: Rotary):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.ModuleList([Attention(dim, dim // head_dim, head_dim, rotary), FeedForward(dim, ff_mult)])
            for _ in range(depth))
        self.norm = RMSNorm(dim)

    def forward(self, x: Tensor, taps: dict[str, Tensor] | None = None) -> Tensor:
        for i, (attn, ff) in enumerate(self.layers):
            a = attn(x)
            if taps is not None and i == 0:
                taps["layer0.attn_out"] = a
            x = x + a
            x = x + ff(x)
            if taps is not None:
                taps[f"layer{i}"] = x
                taps["layer_last"] = x
        x = self.norm(x)
        if taps is not None:
            taps["final_norm"] = x
        return x


class BeatThis(nn.Module):
    """``forward(spect [b, t, spect_dim]) -> (beat [b, t], downbeat [b, t])`` logits (no sigmoid)."""

    def __init__(self, *, spect_dim: int = 128, transformer_dim: int = 512, ff_mult: int = 4, n_layers: int = 6,
                 head_dim: int = 32, stem_dim: int = 32, sum_head: bool = True, partial_transformers: bool = True):
        super().__init__()
        if transformer_dim % head_dim or stem_dim % head_dim and partial_transformers:
            raise ValueError(f"transformer_dim {transformer_dim} and stem_dim {stem_dim} must be multiples of "
                             f"head_dim {head_dim}")
        rotary = Rotary(head_dim)
        self.sum_head = sum_head
        self.frontend = Frontend(spect_dim, stem_dim, transformer_dim, head_dim, rotary, partial_transformers)
        self.transformer_blocks = Transformer(transformer_dim, n_layers, head_dim, ff_mult, rotary)
        self.task_heads = nn.Module()
        self.task_heads.beat_downbeat_lin = nn.Linear(transformer_dim, 2)

    def forward(self, spect: Tensor, taps: dict[str, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        x = self.transformer_blocks(self.frontend(spect, taps), taps)
        y = self.task_heads.beat_downbeat_lin(x)  # [b, t, 2]
        if taps is not None:
            taps["head_linear"] = y
        beat, downbeat = y[..., 0], y[..., 1]
        return (beat + downbeat if self.sum_head else beat), downbeat


#: the constructor arguments an official checkpoint's ``hyper_parameters`` may set
ARGS = ("spect_dim", "transformer_dim", "ff_mult", "n_layers", "head_dim", "stem_dim", "sum_head",
        "partial_transformers")


def config_from(hyper: dict) -> OrderedDict:
    """The BeatThis constructor arguments among a checkpoint's hyper-parameters (``fps``, ``lr``, ``dropout`` ...
    are training settings and are dropped)."""
    return OrderedDict((k, hyper[k]) for k in ARGS if k in hyper)
