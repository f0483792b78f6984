"""Stable Audio Open's DiT (stable-audio-tools' ``DiffusionTransformer`` with the continuous transformer), in plain
torch; module names follow the official state dict under ``model.model.`` (docs/reference/fixtures/stable-audio.md §3.5).

A latent [b, c, t] and a time [b] with cross-attention tokens [b, s, d] and a global vector [b, g] -> [b, c, t]:
Fourier time features, a global token (global + time embeddings) prepended to the projected latent, pre-norm
blocks of self-attention (partial rotary, optional qk LayerNorm), unmasked cross-attention (grouped when the
tokens are narrower) and a GLU feed-forward, then the projection back with the global token dropped. CFG is
``forward_cfg``: one batched pass with the cross tokens nulled (or negative) for the unconditional half.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import DiTConfig


class LayerNorm(nn.Module):
    """LayerNorm with a learned ``gamma`` and a stored ``beta`` buffer (used: the checkpoint carries it)."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))
        self.register_buffer("beta", torch.zeros(dim))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, x.shape[-1:], self.gamma, self.beta, self.eps)


def rotate_half(x: Tensor) -> Tensor:
    x1, x2 = x.unflatten(-1, (2, -1)).unbind(-2)
    return torch.cat((-x2, x1), dim=-1)


def apply_rope(t: Tensor, freqs: Tensor) -> Tensor:
    """Rotate the first ``freqs.shape[-1]`` channels of ``t`` [b, h, n, dh] by ``freqs`` [n, rot], in float32."""
    rot = freqs.shape[-1]
    dtype = t.dtype
    head, rest = t[..., :rot].float(), t[..., rot:]
    f = freqs.float()
    head = head * f.cos() + rotate_half(head) * f.sin()
    return torch.cat((head.to(dtype), rest), dim=-1)


class Attention(nn.Module):
    def __init__(self, dim: int, dim_heads: int, *, context_dim: int | None = None, qk_norm: bool = False):
        super().__init__()
        self.heads = dim // dim_heads
        self.dim_heads = dim_heads
        self.cross = context_dim is not None
        if self.cross:
            self.to_q = nn.Linear(dim, dim, bias=False)
            self.to_kv = nn.Linear(context_dim, 2 * context_dim, bias=False)
            self.kv_heads = context_dim // dim_heads
        else:
            self.to_qkv = nn.Linear(dim, 3 * dim, bias=False)
            self.kv_heads = self.heads
        self.to_out = nn.Linear(dim, dim, bias=False)
        if qk_norm:
            self.q_norm = nn.LayerNorm(dim_heads, eps=1e-6)
            self.k_norm = nn.LayerNorm(dim_heads, eps=1e-6)
        else:
            self.q_norm = self.k_norm = None

    def _heads(self, x: Tensor, heads: int) -> Tensor:
        # x: [b, n, h*dh] -> [b, h, n, dh]
        return x.unflatten(-1, (heads, self.dim_heads)).transpose(1, 2)

    def forward(self, x: Tensor, context: Tensor | None = None, freqs: Tensor | None = None) -> Tensor:
        if self.cross:
            q = self._heads(self.to_q(x), self.heads)
            k, v = (self._heads(t, self.kv_heads) for t in self.to_kv(context).chunk(2, dim=-1))
        else:
            q, k, v = (self._heads(t, self.heads) for t in self.to_qkv(x).chunk(3, dim=-1))
        if self.q_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        if freqs is not None:
            q, k = apply_rope(q, freqs), apply_rope(k, freqs)
        if self.kv_heads < self.heads:  # grouped: query head j reads kv head j // (heads / kv_heads)
            k = k.repeat_interleave(self.heads // self.kv_heads, dim=1)
            v = v.repeat_interleave(self.heads // self.kv_heads, dim=1)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.to_out(out.transpose(1, 2).flatten(2))


class GLU(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.proj = nn.Linear(dim, 2 * hidden)

    def forward(self, x: Tensor) -> Tensor:
        value, gate = self.proj(x).chunk(2, dim=-1)
        return value * F.silu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.ff = nn.Sequential(GLU(dim, 4 * dim), nn.Identity(), nn.Linear(4 * dim, dim))

    def forward(self, x: Tensor) -> Tensor:
        return self.ff(x)


class Block(nn.Module):
    def __init__(self, dim: int, dim_heads: int, context_dim: int, qk_norm: bool):
        super().__init__()
        self.pre_norm = LayerNorm(dim)
        self.self_attn = Attention(dim, dim_heads, qk_norm=qk_norm)
        self.cross_attend_norm = LayerNorm(dim)
        self.cross_attn = Attention(dim, dim_heads, context_dim=context_dim, qk_norm=qk_norm)
        self.ff_norm = LayerNorm(dim)
        self.ff = FeedForward(dim)

    def forward(self, x: Tensor, context: Tensor, freqs: Tensor, taps: dict[str, Tensor] | None = None,
                name: str = "") -> Tensor:
        a = self.self_attn(self.pre_norm(x), freqs=freqs)
        x = x + a
        c = self.cross_attn(self.cross_attend_norm(x), context=context)
        x = x + c
        f = self.ff(self.ff_norm(x))
        x = x + f
        if taps is not None and name:
            taps[f"{name}.self_attn"], taps[f"{name}.cross_attn"], taps[f"{name}.ff"] = a, c, f
        return x


class Transformer(nn.Module):
    def __init__(self, cfg: DiTConfig):
        super().__init__()
        d = cfg.embed_dim
        self.project_in = nn.Linear(cfg.io_channels, d, bias=False)
        self.project_out = nn.Linear(d, cfg.io_channels, bias=False)
        self.rotary_pos_emb = nn.Module()
        inv = 1.0 / (10000 ** (torch.arange(0, cfg.rope_dim, 2).float() / cfg.rope_dim))
        self.rotary_pos_emb.register_buffer("inv_freq", inv)
        self.layers = nn.ModuleList(Block(d, cfg.dim_heads, cfg.cond_width, cfg.qk_norm == "ln")
                                    for _ in range(cfg.depth))

    def freqs(self, n: int, device: torch.device) -> Tensor:
        inv = self.rotary_pos_emb.inv_freq
        angles = torch.einsum("i,j->ij", torch.arange(n, device=device, dtype=inv.dtype), inv)
        return torch.cat((angles, angles), dim=-1)


class DiT(nn.Module):
    def __init__(self, cfg: DiTConfig):
        super().__init__()
        d = cfg.embed_dim
        self.cfg = cfg
        self.timestep_features = nn.Module()
        self.timestep_features.weight = nn.Parameter(torch.randn(128, 1))
        self.to_timestep_embed = nn.Sequential(nn.Linear(256, d), nn.SiLU(), nn.Linear(d, d))
        self.to_cond_embed = nn.Sequential(nn.Linear(cfg.cond_token_dim, cfg.cond_width, bias=False), nn.SiLU(),
                                           nn.Linear(cfg.cond_width, cfg.cond_width, bias=False))
        self.to_global_embed = nn.Sequential(nn.Linear(cfg.global_cond_dim, d, bias=False), nn.SiLU(),
                                             nn.Linear(d, d, bias=False))
        self.preprocess_conv = nn.Conv1d(cfg.io_channels, cfg.io_channels, 1, bias=False)
        self.postprocess_conv = nn.Conv1d(cfg.io_channels, cfg.io_channels, 1, bias=False)
        self.transformer = Transformer(cfg)

    def forward(self, x: Tensor, t: Tensor, cross: Tensor, glob: Tensor,
                taps: dict[str, Tensor] | None = None) -> Tensor:
        """x: [b, c, n], t: [b], cross: [b, s, d], glob: [b, g] -> [b, c, n] (no guidance)."""
        c = self.to_cond_embed(cross)
        g = self.to_global_embed(glob)
        f = (2 * math.pi * t[:, None]) @ self.timestep_features.weight.T
        phi = torch.cat([f.cos(), f.sin()], dim=-1)
        tau = self.to_timestep_embed(phi)
        token = g + tau
        pre = self.preprocess_conv(x)
        x = pre + x
        tr = self.transformer
        h = tr.project_in(x.transpose(1, 2))
        h0 = torch.cat([token[:, None, :], h], dim=1)
        freqs = tr.freqs(h0.shape[1], h0.device)
        if taps is not None:
            taps.update({"timestep_features": phi, "to_timestep_embed": tau, "to_global_embed": g,
                         "to_cond_embed": c, "preprocess_conv": pre, "project_in": h, "layer0_input": h0,
                         "rope_freqs": freqs})
        h = h0
        for i, block in enumerate(tr.layers):
            h = block(h, c, freqs, taps, f"layer{i}" if i == 0 else "")
            if taps is not None and i == 0:
                taps["layer0"] = h
        if taps is not None:
            taps["layer_last"] = h
        out = tr.project_out(h)
        y = out.transpose(1, 2)[:, :, 1:]
        post = self.postprocess_conv(y)
        if taps is not None:
            taps["project_out"], taps["postprocess_conv"] = out, post
        return post + y

    def forward_cfg(self, x: Tensor, t: Tensor, cross: Tensor, glob: Tensor, cfg_scale: float, *,
                    negative: Tensor | None = None, negative_mask: Tensor | None = None, scale_phi: float = 0.0,
                    taps: dict[str, Tensor] | None = None) -> Tensor:
        """Classifier-free guidance as one batched pass: the unconditional half keeps the global (seconds)
        conditioning and has all cross tokens zeroed, or the negative tokens where their mask is set."""
        if cfg_scale == 1.0:
            return self(x, t, cross, glob)
        null = torch.zeros_like(cross)
        if negative is not None:
            keep = negative_mask.bool()[..., None] if negative_mask is not None else torch.ones_like(negative[..., :1],
                                                                                                   dtype=torch.bool)
            null = torch.where(keep, negative, null)
        out = self(torch.cat([x, x]), torch.cat([t, t]), torch.cat([cross, null]), torch.cat([glob, glob]))
        if taps is not None:
            taps["batch_out"] = out
        cond, uncond = out.chunk(2)
        guided = uncond + (cond - uncond) * cfg_scale
        if scale_phi != 0.0:
            cond_std = cond.std(dim=1, keepdim=True)
            out_std = guided.std(dim=1, keepdim=True)
            guided = scale_phi * guided * (cond_std / out_std) + (1 - scale_phi) * guided
        return guided
