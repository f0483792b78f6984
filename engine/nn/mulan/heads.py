"""The MuLan transformer (shared by both towers) and the two towers that pool to one vector each."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class GainNorm(nn.Module):
    """LayerNorm with a learned scale and a bias fixed at zero."""

    def __init__(self, dim: int):
        super().__init__()
        self.learned_gamma = nn.Parameter(torch.ones(dim))
        self.register_buffer("beta", torch.zeros(dim), persistent=False)

    def init_buffers(self) -> None:
        self.beta = torch.zeros(self.learned_gamma.shape, device=self.learned_gamma.device)

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, x.shape[-1:], self.learned_gamma, self.beta)


class CosineAttention(nn.Module):
    """No biases; l2-normalised q and k with learned per-dimension scales, a fixed logit scale of 8, no mask."""

    def __init__(self, dim: int, heads: int, dim_head: int, scale: float = 8.0):
        super().__init__()
        self.heads, self.scale = heads, scale
        inner = heads * dim_head
        self.norm = GainNorm(dim)
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(dim, inner * 2, bias=False)
        self.q_scale = nn.Parameter(torch.ones(dim_head))
        self.k_scale = nn.Parameter(torch.ones(dim_head))
        self.to_out = nn.Sequential(nn.Linear(inner, dim, bias=False))

    def _heads(self, t: Tensor) -> Tensor:
        b, n, _ = t.shape
        return t.view(b, n, self.heads, -1).transpose(1, 2)

    def forward(self, x: Tensor) -> Tensor:
        x = self.norm(x)
        k, v = self.to_kv(x).chunk(2, dim=-1)
        q, k, v = self._heads(self.to_q(x)), self._heads(k), self._heads(v)
        q = F.normalize(q, p=2, dim=-1) * self.q_scale
        k = F.normalize(k, p=2, dim=-1) * self.k_scale
        sim = torch.einsum("bhid,bhjd->bhij", q, k) * self.scale
        out = torch.einsum("bhij,bhjd->bhid", sim.softmax(dim=-1), v)
        b, h, n, d = out.shape
        return self.to_out(out.transpose(1, 2).reshape(b, n, h * d))


class GEGLU(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        x, gate = x.chunk(2, dim=-1)
        return F.gelu(gate) * x


def feed_forward(dim: int, mult: float) -> nn.Sequential:
    """Indices as in the checkpoint: 0 norm, 1 W1, 2 GEGLU, 3 (dropout), 4 W2."""
    hidden = int(dim * mult * 2 / 3)
    return nn.Sequential(GainNorm(dim), nn.Linear(dim, hidden * 2, bias=False), GEGLU(), nn.Identity(),
                         nn.Linear(hidden, dim, bias=False))


class MuLanTransformer(nn.Module):
    def __init__(self, dim: int, depth: int, heads: int, dim_head: int, ff_mult: float):
        super().__init__()
        self.layers = nn.ModuleList([
            nn.ModuleList([CosineAttention(dim, heads, dim_head), feed_forward(dim, ff_mult)]) for _ in range(depth)])

    def forward(self, x: Tensor, taps: dict[str, Tensor] | None = None, prefix: str = "") -> Tensor:
        for i, (attn, ff) in enumerate(self.layers):
            a = attn(x)
            x = a + x
            f = ff(x)
            if taps is not None:
                taps[f"{prefix}{i}_attn"], taps[f"{prefix}{i}_after_attn"], taps[f"{prefix}{i}_ff"] = a, x, f
            x = f + x
            if taps is not None:
                taps[f"{prefix}{i}_out"] = x
        return x


class _Holder(nn.Module):
    """Only for the checkpoint's extra level of names (``audio.model.model.*``)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model


class AudioTower(nn.Module):
    def __init__(self, backbone: nn.Module, backbone_dim: int, dim: int, depth: int, heads: int, dim_head: int,
                 ff_mult: float):
        super().__init__()
        self.model = _Holder(backbone)
        self.proj = nn.Linear(backbone_dim, dim)
        self.transformer = MuLanTransformer(dim, depth, heads, dim_head, ff_mult)

    def forward(self, wavs: Tensor, taps: dict[str, Tensor] | None = None) -> Tensor:
        h = self.model.model(wavs, taps)
        x = self.proj(h)
        if taps is not None:
            taps["audio_proj"] = x
        x = self.transformer(x, taps, "audio_tf")
        return x.mean(dim=-2)


class TextTower(nn.Module):
    def __init__(self, encoder: nn.Module, encoder_dim: int, model_dim: int | None, dim: int, depth: int, heads: int,
                 dim_head: int, ff_mult: float):
        super().__init__()
        self.model = encoder
        if model_dim is None and encoder_dim != dim:
            raise ValueError(f"the text encoder's width {encoder_dim} must equal the text transformer's {dim}")
        self.proj = nn.Linear(model_dim, dim) if model_dim else nn.Identity()
        self.transformer = MuLanTransformer(dim, depth, heads, dim_head, ff_mult)

    def forward(self, ids: Tensor, attention_mask: Tensor, taps: dict[str, Tensor] | None = None) -> Tensor:
        h = self.model(ids, attention_mask, taps)
        if taps is not None:
            taps["xlmr_last_hidden"] = h
        x = self.transformer(self.proj(h), taps, "text_tf")
        return x.mean(dim=-2)
