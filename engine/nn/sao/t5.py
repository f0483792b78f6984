"""The T5 text encoder Stable Audio Open conditions on (``t5-base``), in plain torch, run as the reference runs it:
in float16, also on the CPU (docs/reference/fixtures/stable-audio.md §3.2).

Per block: RMS norm (computed in float32, cast back), self-attention without 1/sqrt(d) scaling, biased by
bucketed relative positions (block 0's table, shared by every block) and masked with float16's minimum, a residual
add clamped to the float16 range, and a ReLU feed-forward the same way; then a final RMS norm. The tokenizer is
``tokenizers`` on the folder's ``tokenizer.json`` (no transformers): pieces cut to ``max_length - 1``, ``</s>``,
then padding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class T5Config:
    vocab_size: int
    d_model: int
    d_kv: int
    d_ff: int
    num_layers: int
    num_heads: int
    relative_attention_num_buckets: int = 32
    relative_attention_max_distance: int = 128
    layer_norm_epsilon: float = 1e-6


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        variance = x.to(torch.float32).pow(2).mean(-1, keepdim=True)
        x = x * torch.rsqrt(variance + self.eps)
        if self.weight.dtype in (torch.float16, torch.bfloat16):
            x = x.to(self.weight.dtype)
        return self.weight * x


def relative_buckets(rel: Tensor, num_buckets: int, max_distance: int) -> Tensor:
    """T5's bidirectional bucketing of key - query distances."""
    num_buckets //= 2
    out = (rel > 0).to(torch.long) * num_buckets
    rel = torch.abs(rel)
    max_exact = num_buckets // 2
    large = max_exact + (torch.log(rel.float() / max_exact) / math.log(max_distance / max_exact)
                         * (num_buckets - max_exact)).to(torch.long)
    large = torch.min(large, torch.full_like(large, num_buckets - 1))
    return out + torch.where(rel < max_exact, rel, large)


def _clamp16(x: Tensor) -> Tensor:
    if x.dtype != torch.float16:
        return x
    big = torch.finfo(torch.float16).max
    limit = torch.where(torch.isinf(x).any(), big - 1000, big)
    return torch.clamp(x, min=-limit, max=limit)


class SelfAttention(nn.Module):
    def __init__(self, c: T5Config, has_bias: bool):
        super().__init__()
        inner = c.num_heads * c.d_kv
        self.q = nn.Linear(c.d_model, inner, bias=False)
        self.k = nn.Linear(c.d_model, inner, bias=False)
        self.v = nn.Linear(c.d_model, inner, bias=False)
        self.o = nn.Linear(inner, c.d_model, bias=False)
        self.heads, self.d_kv = c.num_heads, c.d_kv
        self.buckets, self.max_distance = c.relative_attention_num_buckets, c.relative_attention_max_distance
        if has_bias:
            self.relative_attention_bias = nn.Embedding(c.relative_attention_num_buckets, c.num_heads)

    def position_bias(self, n: int, device: torch.device) -> Tensor:
        pos = torch.arange(n, dtype=torch.long, device=device)
        rel = pos[None, :] - pos[:, None]
        values = self.relative_attention_bias(relative_buckets(rel, self.buckets, self.max_distance))
        return values.permute(2, 0, 1).unsqueeze(0)  # [1, h, n, n]

    def forward(self, x: Tensor, bias: Tensor) -> Tensor:
        b, n, _ = x.shape
        q, k, v = (t(x).view(b, n, self.heads, self.d_kv).transpose(1, 2) for t in (self.q, self.k, self.v))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=1.0)
        return self.o(out.transpose(1, 2).reshape(b, n, -1))


class LayerSelfAttention(nn.Module):
    def __init__(self, c: T5Config, has_bias: bool):
        super().__init__()
        self.SelfAttention = SelfAttention(c, has_bias)
        self.layer_norm = RMSNorm(c.d_model, c.layer_norm_epsilon)


class DenseReluDense(nn.Module):
    def __init__(self, c: T5Config):
        super().__init__()
        self.wi = nn.Linear(c.d_model, c.d_ff, bias=False)
        self.wo = nn.Linear(c.d_ff, c.d_model, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(self.wi(x))
        if h.dtype != self.wo.weight.dtype and self.wo.weight.dtype != torch.int8:
            h = h.to(self.wo.weight.dtype)
        return self.wo(h)


class LayerFF(nn.Module):
    def __init__(self, c: T5Config):
        super().__init__()
        self.DenseReluDense = DenseReluDense(c)
        self.layer_norm = RMSNorm(c.d_model, c.layer_norm_epsilon)


class T5Block(nn.Module):
    def __init__(self, c: T5Config, has_bias: bool):
        super().__init__()
        self.layer = nn.ModuleList([LayerSelfAttention(c, has_bias), LayerFF(c)])

    def forward(self, x: Tensor, bias: Tensor) -> Tensor:
        att, ff = self.layer
        x = _clamp16(x + att.SelfAttention(att.layer_norm(x), bias))
        return _clamp16(x + ff.DenseReluDense(ff.layer_norm(x)))


class T5Stack(nn.Module):
    def __init__(self, c: T5Config):
        super().__init__()
        self.block = nn.ModuleList(T5Block(c, i == 0) for i in range(c.num_layers))
        self.final_layer_norm = RMSNorm(c.d_model, c.layer_norm_epsilon)


class T5Encoder(nn.Module):
    """``forward(ids [b, n], mask [b, n] bool) -> last hidden state [b, n, d]`` in the encoder's dtype."""

    def __init__(self, c: T5Config):
        super().__init__()
        self.config = c
        self.shared = nn.Embedding(c.vocab_size, c.d_model)
        self.encoder = T5Stack(c)

    def forward(self, ids: Tensor, mask: Tensor) -> Tensor:
        x = self.shared(ids)
        n = ids.shape[1]
        first = self.encoder.block[0].layer[0].SelfAttention
        bias = first.position_bias(n, ids.device).to(x.dtype)
        low = torch.finfo(x.dtype).min
        bias = torch.where(mask.bool()[:, None, None, :], bias, torch.tensor(low, dtype=x.dtype, device=x.device))
        for block in self.encoder.block:
            x = block(x, bias)
        return self.encoder.final_layer_norm(x)


class T5Tokenizer:
    """``tokenizer.json`` through the ``tokenizers`` library: ids [n] of max_length with ``</s>`` and padding."""

    def __init__(self, path: str, eos_id: int = 1, pad_id: int = 0):
        from tokenizers import Tokenizer

        self.tok = Tokenizer.from_file(path)
        self.tok.no_truncation()
        self.tok.no_padding()
        self.eos, self.pad = eos_id, pad_id

    def __call__(self, prompts: list[str], max_length: int) -> tuple[Tensor, Tensor]:
        ids = torch.full((len(prompts), max_length), self.pad, dtype=torch.long)
        mask = torch.zeros((len(prompts), max_length), dtype=torch.long)
        for i, text in enumerate(prompts):
            pieces = self.tok.encode(text, add_special_tokens=False).ids[: max_length - 1] + [self.eos]
            ids[i, : len(pieces)] = torch.tensor(pieces)
            mask[i, : len(pieces)] = 1
        return ids, mask

    def length(self, prompt: str) -> int:
        """Pieces plus ``</s>`` before any cut."""
        return len(self.tok.encode(prompt, add_special_tokens=False).ids) + 1
