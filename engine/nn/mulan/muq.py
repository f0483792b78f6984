"""The MuQ audio backbone as MuQ-MuLan uses it: mel front-end, a residual conv stem that subsamples by 4 in time
and frequency, and a rotary Wav2Vec2-Conformer encoder. Parameter names follow the official state dict
(``conv.*``, ``conformer.*`` under ``mulan.audio.model.model.``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .frontend import MelFrontEnd


@dataclass(frozen=True)
class MuQConfig:
    sample_rate: int = 24000
    n_fft: int = 2048
    hop_length: int = 240
    n_mels: int = 128
    mel_mean: float = 6.768444971712967
    mel_std: float = 18.417922652295623
    conv_dim: int = 512
    encoder_dim: int = 1024
    encoder_depth: int = 12
    heads: int = 16
    intermediate: int = 4096
    depthwise_kernel: int = 31
    rotary_base: float = 10000.0
    layer_norm_eps: float = 1e-5


class ResBlock2d(nn.Module):
    """conv3x3/2 -> BN -> ReLU -> conv3x3 -> BN, plus a conv3x3/2 -> BN shortcut, then ReLU."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=2, padding=1)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv3 = nn.Conv2d(cin, cout, 3, stride=2, padding=1)
        self.bn3 = nn.BatchNorm2d(cout)

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(self.bn3(self.conv3(x)) + out)


class ConvStem(nn.Module):
    """mel [B, n_mels, F] -> [B, F/4, encoder_dim] (flattened channel-major: feature c * n_mels/4 + f)."""

    def __init__(self, cfg: MuQConfig):
        super().__init__()
        self.conv = nn.ModuleList([ResBlock2d(1, cfg.conv_dim), ResBlock2d(cfg.conv_dim, cfg.conv_dim)])
        freq = math.ceil(math.ceil(cfg.n_mels / 2) / 2)
        self.linear = nn.Linear(cfg.conv_dim * freq, cfg.encoder_dim)

    def forward(self, mel: Tensor, taps: dict[str, Tensor] | None = None) -> Tensor:
        x = mel.unsqueeze(1)
        for i, block in enumerate(self.conv):
            x = block(x)
            if taps is not None:
                taps[f"conv_res{i + 1}"] = x
        b, c, f, t = x.shape
        return self.linear(x.permute(0, 3, 1, 2).reshape(b, t, c * f))


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.intermediate_dense = nn.Linear(dim, hidden)
        self.output_dense = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.output_dense(F.silu(self.intermediate_dense(x)))


class RotarySelfAttention(nn.Module):
    """Rotary embedding applied to the (normed) input before the q and k projections; values are not rotated."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.linear_q = nn.Linear(dim, dim)
        self.linear_k = nn.Linear(dim, dim)
        self.linear_v = nn.Linear(dim, dim)
        self.linear_out = nn.Linear(dim, dim)

    def _rotate(self, x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
        b, t, _ = x.shape
        h = x.view(b, t, self.heads, self.head_dim).transpose(0, 1)
        half = self.head_dim // 2
        rotated = torch.cat((-h[..., half:], h[..., :half]), dim=-1)
        return ((h * cos) + (rotated * sin)).transpose(0, 1).reshape(b, t, self.heads * self.head_dim)

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
        b, t, _ = x.shape
        qk = self._rotate(x, cos, sin)
        q = self.linear_q(qk).view(b, -1, self.heads, self.head_dim).transpose(1, 2)
        k = self.linear_k(qk).view(b, -1, self.heads, self.head_dim).transpose(1, 2)
        v = self.linear_v(x).view(b, -1, self.heads, self.head_dim).transpose(1, 2)
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(self.head_dim)
        out = torch.matmul(torch.softmax(scores, dim=-1), v)
        return self.linear_out(out.transpose(1, 2).reshape(b, -1, self.heads * self.head_dim))


class ConvModule(nn.Module):
    def __init__(self, dim: int, kernel: int, eps: float):
        super().__init__()
        self.layer_norm = nn.LayerNorm(dim, eps=eps)
        self.pointwise_conv1 = nn.Conv1d(dim, 2 * dim, 1, bias=False)
        self.depthwise_conv = nn.Conv1d(dim, dim, kernel, padding=(kernel - 1) // 2, groups=dim, bias=False)
        self.batch_norm = nn.BatchNorm1d(dim)
        self.pointwise_conv2 = nn.Conv1d(dim, dim, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        h = self.layer_norm(x).transpose(1, 2)
        h = F.glu(self.pointwise_conv1(h), dim=1)
        h = F.silu(self.batch_norm(self.depthwise_conv(h)))
        return self.pointwise_conv2(h).transpose(1, 2)


class ConformerLayer(nn.Module):
    def __init__(self, cfg: MuQConfig):
        super().__init__()
        d, eps = cfg.encoder_dim, cfg.layer_norm_eps
        self.ffn1_layer_norm = nn.LayerNorm(d, eps=eps)
        self.ffn1 = FeedForward(d, cfg.intermediate)
        self.self_attn_layer_norm = nn.LayerNorm(d, eps=eps)
        self.self_attn = RotarySelfAttention(d, cfg.heads)
        self.conv_module = ConvModule(d, cfg.depthwise_kernel, eps)
        self.ffn2_layer_norm = nn.LayerNorm(d, eps=eps)
        self.ffn2 = FeedForward(d, cfg.intermediate)
        self.final_layer_norm = nn.LayerNorm(d, eps=eps)

    def forward(self, h: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
        h = self.ffn1(self.ffn1_layer_norm(h)) * 0.5 + h
        h = self.self_attn(self.self_attn_layer_norm(h), cos, sin) + h
        h = h + self.conv_module(h)
        h = self.ffn2(self.ffn2_layer_norm(h)) * 0.5 + h
        return self.final_layer_norm(h)


class RotaryTable(nn.Module):
    def __init__(self, head_dim: int, base: float):
        super().__init__()
        inv = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
        self.register_buffer("inv_freq", inv)

    def forward(self, t: int) -> tuple[Tensor, Tensor]:
        """(cos, sin), each [t, 1, 1, head_dim], in float32 whatever the model's dtype."""
        inv = self.inv_freq.float()
        freqs = torch.einsum("i,j->ij", torch.arange(t, device=inv.device).type_as(inv), inv)
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos()[:, None, None, :], emb.sin()[:, None, None, :]


class Conformer(nn.Module):
    def __init__(self, cfg: MuQConfig):
        super().__init__()
        self.embed_positions = RotaryTable(cfg.encoder_dim // cfg.heads, cfg.rotary_base)
        self.layers = nn.ModuleList([ConformerLayer(cfg) for _ in range(cfg.encoder_depth)])
        self.layer_norm = nn.LayerNorm(cfg.encoder_dim, eps=cfg.layer_norm_eps)

    def forward(self, h: Tensor, taps: dict[str, Tensor] | None = None) -> Tensor:
        """The last layer's output through the encoder's LayerNorm (MuQ ``hidden_states[-1]``)."""
        cos, sin = self.embed_positions(h.shape[1])
        cos, sin = cos.to(h.dtype), sin.to(h.dtype)
        for i, layer in enumerate(self.layers):
            h = layer(h, cos, sin)
            if taps is not None:
                taps[f"conformer_layer{i}"] = h
        return self.layer_norm(h)


class MuQ(nn.Module):
    """waveform [B, N] at 24 kHz -> MuQ's last hidden state [B, T, encoder_dim] (25 frames a second)."""

    def __init__(self, cfg: MuQConfig):
        super().__init__()
        self.cfg = cfg
        self.preprocessor = MelFrontEnd(sample_rate=cfg.sample_rate, n_fft=cfg.n_fft, hop_length=cfg.hop_length,
                                        n_mels=cfg.n_mels, mean=cfg.mel_mean, std=cfg.mel_std)
        self.conv = ConvStem(cfg)
        self.conformer = Conformer(cfg)

    def forward(self, wav: Tensor, taps: dict[str, Tensor] | None = None) -> Tensor:
        mel = self.preprocessor(wav.float(), taps)
        if taps is not None:
            taps["mel_norm"] = mel
        h = self.conv(mel.to(self.conv.linear.weight.dtype), taps)
        if taps is not None:
            taps["conv_out"] = h
        h = self.conformer(h, taps)
        if taps is not None:
            taps["conformer_final_ln"] = h
        return h
