"""The DiT's building blocks, written to match DiffRhythm's reference numerically (docs/reference/diffrhythm-spec.md §1; module and parameter
names follow the official checkpoint so weights load without renaming).

Shapes: b = batch, n = latent frames, d = model width, c = conditioning width (512), t = text width (512).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class SinusPositionEmbedding(nn.Module):
    """Flow time -> [sin, cos] features of width ``dim`` (docs/reference/diffrhythm-spec.md §1.3 step 1): f_k = exp(-k ln(10000)/(h-1)),
    e = 1000 * value * f_k, sin first, in float32."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        # x: [b] -> [b, dim]
        half = self.dim // 2
        freqs = torch.exp(torch.arange(half, device=x.device, dtype=torch.float32) * -(math.log(10000) / (half - 1)))
        e = 1000.0 * x.float().unsqueeze(1) * freqs.unsqueeze(0)
        return torch.cat((e.sin(), e.cos()), dim=-1)


class TimestepEmbedding(nn.Module):
    """A scalar per batch item -> [b, dim] (time, start time, song duration)."""

    def __init__(self, dim: int, freq_dim: int = 256):
        super().__init__()
        self.time_embed = SinusPositionEmbedding(freq_dim)
        self.time_mlp = nn.Sequential(nn.Linear(freq_dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, x: Tensor) -> Tensor:
        # x: [b] -> [b, dim]
        h = self.time_embed(x).to(self.time_mlp[0].weight.dtype)
        return self.time_mlp(h)


def text_position_table(dim: int, length: int, theta: float = 10000.0) -> Tensor:
    """Sinusoidal text positions [length, dim]: rows [cos(p w_j), sin(p w_j)], w_j = theta^(-2j/dim) (cos first)."""
    freqs = 1.0 / (theta ** (torch.arange(0, dim, 2)[: dim // 2].float() / dim))
    angles = torch.outer(torch.arange(length, dtype=torch.float32), freqs)
    return torch.cat((angles.cos(), angles.sin()), dim=-1)


class GRN(nn.Module):
    """Global response normalisation (ConvNeXt-V2): the L2 norm over TIME, normalised by its channel mean."""

    def __init__(self, dim: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, 1, dim))
        self.beta = nn.Parameter(torch.zeros(1, 1, dim))

    def forward(self, x: Tensor) -> Tensor:
        # x: [b, n, c]
        gx = torch.norm(x, p=2, dim=1, keepdim=True)
        nx = gx / (gx.mean(dim=-1, keepdim=True) + 1e-6)
        return self.gamma * (x * nx) + self.beta + x


class ConvNeXtV2Block(nn.Module):
    def __init__(self, dim: int, intermediate_dim: int, dilation: int = 1):
        super().__init__()
        padding = (dilation * (7 - 1)) // 2
        self.dwconv = nn.Conv1d(dim, dim, kernel_size=7, padding=padding, groups=dim, dilation=dilation)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.act = nn.GELU()
        self.grn = GRN(intermediate_dim)
        self.pwconv2 = nn.Linear(intermediate_dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        # x: [b, n, t]
        h = self.dwconv(x.transpose(1, 2)).transpose(1, 2)
        h = self.pwconv2(self.grn(self.act(self.pwconv1(self.norm(h)))))
        return x + h


class Float32Buffers(nn.Module):
    """A module whose named buffers stay float32 through ``.to(dtype)``, ``.half()`` and ``.bfloat16()``: position
    tables and RoPE frequencies rounded to bf16 move every angle (and the whole sample) for nothing."""

    fp32_buffers: tuple[str, ...] = ()

    def _apply(self, fn, recurse=True):  # torch's signature
        saved = {n: self._buffers[n] for n in self.fp32_buffers if self._buffers.get(n) is not None}
        super()._apply(fn, recurse)
        for n, old in saved.items():
            new = self._buffers[n]
            if not old.is_meta and new is not None:
                self._buffers[n] = old.to(device=new.device, dtype=torch.float32)
        return self

    def init_buffers(self) -> None:
        """Recompute the buffers on the CPU (after building on the meta device)."""


class TextEmbedding(Float32Buffers):
    """Lyric tokens (one per latent frame; 0 = filler) -> [b, n, t]: lookup, positions, ConvNeXt blocks."""

    def __init__(self, num_embeds: int, dim: int, conv_layers: int, max_pos: int, conv_mult: int = 2):
        super().__init__()
        self.text_embed = nn.Embedding(num_embeds + 1, dim)  # +1: token 0 is the filler
        self.max_pos = max_pos
        self.dim = dim
        self.fp32_buffers = ("freqs_cis",)
        self.register_buffer("freqs_cis", text_position_table(dim, max_pos), persistent=False)
        self.text_blocks = nn.Sequential(*[ConvNeXtV2Block(dim, dim * conv_mult) for _ in range(conv_layers)])

    def init_buffers(self) -> None:
        with torch.device("cpu"):
            self.freqs_cis = text_position_table(self.dim, self.max_pos)

    def forward(self, text: Tensor) -> Tensor:
        # text: [b, n] long -> [b, n, t]
        n = text.shape[1]
        h = self.text_embed(text)
        pos = torch.arange(n, device=text.device).clamp(max=self.max_pos - 1)
        h = h + self.freqs_cis[pos].to(h.dtype)
        return self.text_blocks(h)


class ConvPositionEmbedding(nn.Module):
    def __init__(self, dim: int, kernel_size: int = 31, groups: int = 16):
        super().__init__()
        self.conv1d = nn.Sequential(
            nn.Conv1d(dim, dim, kernel_size, groups=groups, padding=kernel_size // 2), nn.Mish(),
            nn.Conv1d(dim, dim, kernel_size, groups=groups, padding=kernel_size // 2), nn.Mish(),
        )

    def forward(self, x: Tensor) -> Tensor:
        # x: [b, n, d]
        return self.conv1d(x.transpose(1, 2)).transpose(1, 2)


class InputEmbedding(nn.Module):
    """Per frame [x, cond, text, style, c] -> width d, plus the conv position embedding (docs/reference/diffrhythm-spec.md §1.3 step 4)."""

    def __init__(self, mel_dim: int, text_dim: int, cond_dim: int, out_dim: int):
        super().__init__()
        self.proj = nn.Linear(mel_dim * 2 + text_dim + cond_dim * 2, out_dim)
        self.conv_pos_embed = ConvPositionEmbedding(out_dim)

    def forward(self, x: Tensor, cond: Tensor, text: Tensor, style: Tensor, c: Tensor) -> Tensor:
        # x, cond: [b, n, mel]; text: [b, n, t]; style, c: [b, cond] -> [b, n, d]
        n = x.shape[1]
        h = self.proj(torch.cat((x, cond, text, style.unsqueeze(1).expand(-1, n, -1),
                                 c.unsqueeze(1).expand(-1, n, -1)), dim=-1))
        return self.conv_pos_embed(h) + h


class RMSNorm(nn.Module):
    """Llama RMSNorm: statistics in float32, cast back before the weight."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        dtype = x.dtype
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(dtype)


class RotaryEmbedding(Float32Buffers):
    """Llama default RoPE: inv_freq_j = theta^(-2j/head_dim); frequencies and angles in float32 whatever the
    model's dtype; [angles, angles] halves."""

    fp32_buffers = ("inv_freq",)

    def __init__(self, head_dim: int, theta: float = 10000.0):
        super().__init__()
        self.head_dim, self.theta = head_dim, theta
        self.register_buffer("inv_freq", self._inv_freq(), persistent=False)

    def _inv_freq(self) -> Tensor:
        return 1.0 / (self.theta ** (torch.arange(0, self.head_dim, 2, dtype=torch.int64, device="cpu").float()
                                     / self.head_dim))

    def init_buffers(self) -> None:
        self.inv_freq = self._inv_freq()

    def forward(self, n: int, dtype: torch.dtype, device: torch.device) -> tuple[Tensor, Tensor]:
        # -> cos, sin: [n, head_dim]
        pos = torch.arange(n, device=device, dtype=torch.float32)
        angles = torch.outer(pos, self.inv_freq.float())
        emb = torch.cat((angles, angles), dim=-1)
        return emb.cos().to(dtype), emb.sin().to(dtype)


def rotate_half(x: Tensor) -> Tensor:
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


AttentionFn = Callable[[Tensor, Tensor, Tensor], Tensor]


class Attention(nn.Module):
    """Bidirectional multi-head attention with rotary positions (q, k, v, o without bias)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.q_proj = nn.Linear(dim, dim, bias=False)
        self.k_proj = nn.Linear(dim, dim, bias=False)
        self.v_proj = nn.Linear(dim, dim, bias=False)
        self.o_proj = nn.Linear(dim, dim, bias=False)

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor, attn: AttentionFn) -> Tensor:
        # x: [b, n, d]; cos, sin: [n, head_dim]
        b, n, _ = x.shape

        def heads(t: Tensor) -> Tensor:
            return t.view(b, n, self.heads, self.head_dim).transpose(1, 2)  # [b, h, n, hd]

        # The products run in the weights' dtype (``engine.nn.lowp`` lowers them on the CPU): the input is cast
        # once for the three projections. RoPE reads q and k in that dtype and computes in cos/sin's (x's): the
        # promotion is the cast, exact, in the same pass (three fewer copies of [b, n, d] a block on the CPU).
        xw = x.to(self.q_proj.weight.dtype)
        q, k = heads(self.q_proj(xw)), heads(self.k_proj(xw))
        v = heads(self.v_proj(xw).to(x.dtype))
        sin = signed_sin(sin)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        out = attn(q, k, v).to(self.o_proj.weight.dtype)
        return self.o_proj(out.transpose(1, 2).reshape(b, n, -1)).to(x.dtype)


def signed_sin(sin: Tensor) -> Tensor:
    """sin [n, hd] with its first half negated: ``rotate_half(x) * sin == swap_halves(x) * signed_sin(sin)``
    exactly (a sign flip rounds nothing), which saves the negation pass over x."""
    a, b = sin.chunk(2, dim=-1)
    return torch.cat((-a, b), dim=-1)


def rope(x: Tensor, cos: Tensor, sin_signed: Tensor) -> Tensor:
    """x * cos + rotate_half(x) * sin, in cos's dtype (x may be lower: it is promoted, exactly, on the way)."""
    a, b = x.chunk(2, dim=-1)
    return torch.addcmul(x * cos, torch.cat((b, a), dim=-1), sin_signed)



def sdpa(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    """Non-causal scaled dot-product attention; q, k, v: [b, h, n, hd]."""
    return F.scaled_dot_product_attention(q, k, v, is_causal=False)


class MLP(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.gate_proj = nn.Linear(dim, hidden, bias=False)
        self.up_proj = nn.Linear(dim, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, dim, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        # x: [b, n, d]. All in the weights' dtype, x cast once (lowered on the CPU: the [b, n, 4d] hidden never
        # goes through float32, three fewer copies of it)
        h = x.to(self.gate_proj.weight.dtype)
        return self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h)).to(x.dtype)


class DecoderLayer(nn.Module):
    """A Llama decoder layer used bidirectionally (docs/reference/diffrhythm-spec.md §1.3 step 7), with the official key names."""

    def __init__(self, dim: int, heads: int, hidden: int, eps: float = 1e-6):
        super().__init__()
        self.input_layernorm = RMSNorm(dim, eps)
        self.self_attn = Attention(dim, heads)
        self.post_attention_layernorm = RMSNorm(dim, eps)
        self.mlp = MLP(dim, hidden)

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor, attn: AttentionFn) -> Tensor:
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, attn)
        return x + self.mlp(self.post_attention_layernorm(x))


class AdaLayerNormZeroFinal(nn.Module):
    """LayerNorm without affine, modulated by the conditioning: (scale, shift) = Linear(SiLU(c)), scale first."""

    def __init__(self, dim: int, cond_dim: int):
        super().__init__()
        self.silu = nn.SiLU()
        self.linear = nn.Linear(cond_dim, dim * 2)
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        # x: [b, n, d]; c: [b, cond]
        scale, shift = torch.chunk(self.linear(self.silu(c)), 2, dim=1)
        return self.norm(x) * (1 + scale)[:, None, :] + shift[:, None, :]
