"""The transformer pieces ACE-Step 1.5 shares with Qwen3 (transformers' Qwen3RMSNorm, Qwen3RotaryEmbedding,
Qwen3MLP, the q/k-normed GQA attention) and the additive attention masks of the reference's ``create_4d_mask``.
Module and parameter names follow the official checkpoints (``self_attn.q_proj``, ``q_norm``, ``mlp.gate_proj``...).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine.nn.blocks import MLP  # Qwen3MLP: down(silu(gate(x)) * up(x)), the same keys

from .config import EncoderDims


class RMSNorm(nn.Module):
    """Qwen3RMSNorm: ``weight * x / sqrt(mean(x^2) + eps)``, computed in float32."""

    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        dtype = x.dtype
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(dtype)


def rope(length: int, head_dim: int, theta: float, device: torch.device | None = None) -> tuple[Tensor, Tensor]:
    """cos, sin [length, head_dim] of the default (unscaled) rotary embedding at positions 0..length-1."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64, device=device).float() / head_dim))
    pos = torch.arange(length, device=device).float()
    freqs = pos[:, None] * inv_freq[None, :]
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos(), emb.sin()


def _rotate_half(x: Tensor) -> Tensor:
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    # x: [b, heads, s, d]; cos/sin: [s, d]
    return x * cos + _rotate_half(x) * sin


def additive_mask(length: int, *, window: int | None = None, causal: bool = False, keep: Tensor | None = None,
                  dtype: torch.dtype = torch.float32, device: torch.device | None = None) -> Tensor | None:
    """The reference's ``create_4d_mask``: 0 where attending is allowed, the dtype's minimum elsewhere, shape
    [b or 1, 1, L, L]. ``window``: only |i - j| <= window (i - j in [0, window] when causal); ``keep`` [b, L]:
    key padding (1 = valid). None when nothing is masked."""
    if window is None and not causal and keep is None:
        return None
    idx = torch.arange(length, device=device)
    diff = idx[:, None] - idx[None, :]
    valid = torch.ones(length, length, dtype=torch.bool, device=device)
    if causal:
        valid &= diff >= 0
    if window is not None:
        valid &= (diff <= window) if causal else (diff.abs() <= window)
    valid4 = valid[None, None]
    if keep is not None:
        valid4 = valid4 & keep.to(torch.bool)[:, None, None, :]
    out = torch.full(valid4.shape, torch.finfo(dtype).min, dtype=dtype, device=device)
    return out.masked_fill_(valid4, 0.0)


class Attention(nn.Module):
    """GQA attention with a per-head RMSNorm on q and k; RoPE on self-attention only (``rope`` given)."""

    def __init__(self, dims: EncoderDims, eps: float, bias: bool = False, kv_width: int | None = None):
        super().__init__()
        h, d, kv = dims.num_attention_heads, dims.head_dim, dims.num_key_value_heads
        kv_in = kv_width or dims.hidden_size
        self.heads, self.kv_heads, self.head_dim = h, kv, d
        self.q_proj = nn.Linear(dims.hidden_size, h * d, bias=bias)
        self.k_proj = nn.Linear(kv_in, kv * d, bias=bias)
        self.v_proj = nn.Linear(kv_in, kv * d, bias=bias)
        self.o_proj = nn.Linear(h * d, dims.hidden_size, bias=bias)
        self.q_norm = RMSNorm(d, eps)
        self.k_norm = RMSNorm(d, eps)

    def kv(self, source: Tensor) -> tuple[Tensor, Tensor]:
        """Keys (q/k-normed, before RoPE) and values of ``source`` [b, s, w] -> [b, kv_heads, s, d] each."""
        b, s, _ = source.shape
        k = self.k_norm(self.k_proj(source).view(b, s, self.kv_heads, self.head_dim)).transpose(1, 2)
        v = self.v_proj(source).view(b, s, self.kv_heads, self.head_dim).transpose(1, 2)
        return k, v

    def forward(self, x: Tensor, mask: Tensor | None = None, rope: tuple[Tensor, Tensor] | None = None,
                kv: tuple[Tensor, Tensor] | None = None) -> Tensor:
        b, s, _ = x.shape
        q = self.q_norm(self.q_proj(x).view(b, s, self.heads, self.head_dim)).transpose(1, 2)
        k, v = kv if kv is not None else self.kv(x)
        if rope is not None:
            cos, sin = rope
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        rep = self.heads // self.kv_heads
        if rep > 1:
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
        if mask is not None and mask.dtype != q.dtype:
            mask = mask.to(q.dtype)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=self.head_dim ** -0.5)
        return self.o_proj(out.transpose(1, 2).reshape(b, s, self.heads * self.head_dim))


class EncoderLayer(nn.Module):
    """The Qwen3 decoder layer / ACE-Step ``AceStepEncoderLayer``: pre-norm attention and MLP, residuals."""

    def __init__(self, dims: EncoderDims, eps: float, bias: bool = False):
        super().__init__()
        self.input_layernorm = RMSNorm(dims.hidden_size, eps)
        self.self_attn = Attention(dims, eps, bias)
        self.post_attention_layernorm = RMSNorm(dims.hidden_size, eps)
        self.mlp = MLP(dims.hidden_size, dims.intermediate_size)

    def forward(self, x: Tensor, rope: tuple[Tensor, Tensor], mask: Tensor | None) -> Tensor:
        x = x + self.self_attn(self.input_layernorm(x), mask, rope)
        return x + self.mlp(self.post_attention_layernorm(x))
