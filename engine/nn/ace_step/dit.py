"""ACE-Step 1.5's DiT (reference ``AceStepDiTModel``; official keys under ``decoder.``).

Input ``cat([context (src | chunk mask), x_t], -1)`` zero-padded to a multiple of the patch size -> Conv1d patches
-> layers of AdaLN self-attention (RoPE on patch positions, sliding or full, bidirectional) with gate, plain
cross-attention over the condition tokens (no mask: padded tokens are attended too, as in the reference), AdaLN
SiLU-gated MLP with gate -> RMSNorm with output shift/scale -> ConvTranspose1d -> cropped to T.
Time: ``time_embed(t) + time_embed_r(t - r)``."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import AceStepConfig
from .layers import MLP, Attention, RMSNorm, additive_mask, rope

#: per-layer (keys, values) of the cross-attention over one condition
CrossKV = list[tuple[Tensor, Tensor]]


class TimestepEmbedding(nn.Module):
    """Sinusoid of ``t * 1000`` ([cos, sin], 256 dims, max period 1e4) -> Linear -> SiLU -> Linear = temb;
    ``time_proj(silu(temb))`` -> 6 modulation vectors."""

    def __init__(self, width: int, in_channels: int = 256, scale: float = 1000.0):
        super().__init__()
        self.linear_1 = nn.Linear(in_channels, width)
        self.linear_2 = nn.Linear(width, width)
        self.time_proj = nn.Linear(width, width * 6)
        self.in_channels, self.scale = in_channels, scale

    def forward(self, t: Tensor) -> tuple[Tensor, Tensor]:
        t = t * self.scale
        half = self.in_channels // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(0, half, dtype=torch.float32) / half).to(t.device)
        args = t[:, None].float() * freqs[None]
        emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
        if self.in_channels % 2:
            emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
        temb = self.linear_2(F.silu(self.linear_1(emb.to(t.dtype))))
        return temb, self.time_proj(F.silu(temb)).unflatten(1, (6, -1))


class DiTLayer(nn.Module):
    def __init__(self, cfg: AceStepConfig):
        super().__init__()
        w, eps = cfg.dit.hidden_size, cfg.rms_norm_eps
        self.self_attn_norm = RMSNorm(w, eps)
        self.self_attn = Attention(cfg.dit, eps, cfg.attention_bias)
        self.cross_attn_norm = RMSNorm(w, eps)
        self.cross_attn = Attention(cfg.dit, eps, cfg.attention_bias)
        self.mlp_norm = RMSNorm(w, eps)
        self.mlp = MLP(w, cfg.dit.intermediate_size)
        self.scale_shift_table = nn.Parameter(torch.zeros(1, 6, w))

    def forward(self, x: Tensor, pe: tuple[Tensor, Tensor], mod: Tensor, mask: Tensor | None,
                kv: tuple[Tensor, Tensor]) -> Tensor:
        shift, scale, gate, c_shift, c_scale, c_gate = (self.scale_shift_table + mod).chunk(6, dim=1)
        h = self.self_attn_norm(x) * (1 + scale) + shift
        x = x + self.self_attn(h, mask, pe) * gate
        x = x + self.cross_attn(self.cross_attn_norm(x), None, None, kv)
        h = self.mlp_norm(x) * (1 + c_scale) + c_shift
        return x + self.mlp(h) * c_gate


class _Transpose(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.transpose(1, 2)


class DiT(nn.Module):
    def __init__(self, cfg: AceStepConfig):
        super().__init__()
        self.cfg = cfg
        w, p = cfg.dit.hidden_size, cfg.patch_size
        self.layers = nn.ModuleList(DiTLayer(cfg) for _ in range(cfg.num_hidden_layers))
        # Sequential(transpose, conv, transpose) as the official keys proj_in.1.* / proj_out.1.* require
        self.proj_in = nn.Sequential(_Transpose(), nn.Conv1d(cfg.in_channels, w, p, stride=p), _Transpose())
        self.time_embed = TimestepEmbedding(w)
        self.time_embed_r = TimestepEmbedding(w)
        self.condition_embedder = nn.Linear(cfg.enc.hidden_size, w)
        self.norm_out = RMSNorm(w, cfg.rms_norm_eps)
        self.proj_out = nn.Sequential(_Transpose(), nn.ConvTranspose1d(w, cfg.audio_acoustic_hidden_dim, p, stride=p),
                                      _Transpose())
        self.scale_shift_table = nn.Parameter(torch.zeros(1, 2, w))

    def cross_kv(self, encoder_hidden: Tensor) -> CrossKV:
        """The cross-attention keys/values of every layer for ``encoder_hidden`` [B, S, enc_hidden] (what the
        reference keeps in its KV cache across the steps of one condition)."""
        e = self.condition_embedder(encoder_hidden)
        return [layer.cross_attn.kv(e) for layer in self._layers()]

    def _layers(self) -> list[DiTLayer]:
        return [layer for layer in self.layers if isinstance(layer, DiTLayer)]

    def forward(self, x: Tensor, t: Tensor, r: Tensor, context: Tensor, encoder_hidden: Tensor | None = None,
                kv: CrossKV | None = None) -> Tensor:
        """Velocity [B, T, latent] of ``x`` [B, T, latent] at times ``t``, ``r`` [B]; ``context`` [B, T, 2 x
        latent]; the condition as ``encoder_hidden`` or precomputed ``kv``."""
        if kv is None:
            if encoder_hidden is None:
                raise ValueError("the DiT needs the condition: encoder_hidden or its cross-attention kv")
            kv = self.cross_kv(encoder_hidden)
        temb_t, mod_t = self.time_embed(t)
        temb_r, mod_r = self.time_embed_r(t - r)
        temb, mod = temb_t + temb_r, mod_t + mod_r
        h = torch.cat([context, x], dim=-1)
        length = h.shape[1]
        p = self.cfg.patch_size
        if length % p:
            h = F.pad(h, (0, 0, 0, p - length % p))
        h = self.proj_in(h)
        n = h.shape[1]
        cos, sin = rope(n, self.cfg.dit.head_dim, self.cfg.rope_theta, h.device)
        pe = (cos.to(h.dtype), sin.to(h.dtype))
        masks: dict[int | None, Tensor | None] = {}
        for i, layer in enumerate(self.layers):
            w = self.cfg.window(i)
            if w not in masks:
                masks[w] = additive_mask(n, window=w, dtype=h.dtype, device=h.device)
            h = layer(h, pe, mod, masks[w], kv[i])
        shift, scale = (self.scale_shift_table + temb.unsqueeze(1)).chunk(2, dim=1)
        h = self.norm_out(h) * (1 + scale) + shift
        return self.proj_out(h)[:, :length, :]
