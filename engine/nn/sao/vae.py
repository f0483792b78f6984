"""The Oobleck autoencoder of Stable Audio Open (docs/reference/fixtures/stable-audio.md §3.7), in plain torch, with the
official key names under ``pretransform.model.`` and the old weight-norm parameters (``weight_g``, ``weight_v``).

Encoder: a conv, blocks of three dilated residual units and a strided conv, SnakeBeta, a conv to [mean; scale].
Bottleneck "vae": ``z = randn * (softplus(scale) + 1e-4) + mean`` (one draw for the batch). Decoder: a conv, blocks of
a transposed conv and three residual units, SnakeBeta, a conv to stereo (no bias, no tanh).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import OobleckConfig


class WNConv1d(nn.Module):
    """A Conv1d (or ConvTranspose1d) whose weight is ``g * v / ||v||`` over every axis but 0."""

    def __init__(self, cin: int, cout: int, k: int, *, stride: int = 1, padding: int = 0, dilation: int = 1,
                 bias: bool = True, transpose: bool = False):
        super().__init__()
        shape = (cin, cout, k) if transpose else (cout, cin, k)
        self.weight_v = nn.Parameter(torch.randn(shape) * 0.02)
        self.weight_g = nn.Parameter(torch.ones(shape[0], 1, 1))
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None
        self.stride, self.padding, self.dilation, self.transpose = stride, padding, dilation, transpose

    def forward(self, x: Tensor) -> Tensor:
        w = torch._weight_norm(self.weight_v, self.weight_g, 0)
        if self.transpose:
            return F.conv_transpose1d(x, w, self.bias, self.stride, self.padding)
        return F.conv1d(x, w, self.bias, self.stride, self.padding, self.dilation)


class SnakeBeta(nn.Module):
    """``x + 1 / (exp(beta) + 1e-9) * sin(x * exp(alpha))^2`` per channel (log-scale parameters)."""

    def __init__(self, channels: int):
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        alpha = torch.exp(self.alpha[None, :, None])
        beta = torch.exp(self.beta[None, :, None])
        return x + (1.0 / (beta + 0.000000001)) * torch.pow(torch.sin(x * alpha), 2)


class ResidualUnit(nn.Module):
    def __init__(self, ch: int, dilation: int):
        super().__init__()
        self.layers = nn.Sequential(SnakeBeta(ch), WNConv1d(ch, ch, 7, dilation=dilation, padding=3 * dilation),
                                    SnakeBeta(ch), WNConv1d(ch, ch, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x) + x


class EncoderBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.layers = nn.Sequential(ResidualUnit(cin, 1), ResidualUnit(cin, 3), ResidualUnit(cin, 9),
                                    SnakeBeta(cin),
                                    WNConv1d(cin, cout, 2 * stride, stride=stride, padding=math.ceil(stride / 2)))

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class DecoderBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.layers = nn.Sequential(SnakeBeta(cin),
                                    WNConv1d(cin, cout, 2 * stride, stride=stride, padding=math.ceil(stride / 2),
                                             transpose=True),
                                    ResidualUnit(cout, 1), ResidualUnit(cout, 3), ResidualUnit(cout, 9))

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class Encoder(nn.Module):
    def __init__(self, c: OobleckConfig):
        super().__init__()
        m = (1, *c.c_mults)
        ch = c.channels
        layers: list[nn.Module] = [WNConv1d(c.audio_channels, m[0] * ch, 7, padding=3)]
        layers += [EncoderBlock(m[i] * ch, m[i + 1] * ch, s) for i, s in enumerate(c.strides)]
        layers += [SnakeBeta(m[-1] * ch), WNConv1d(m[-1] * ch, c.latent_dim, 3, padding=1)]
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor, taps: dict[str, Tensor] | None = None) -> Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if taps is not None and i < 2:
                taps[f"encoder.layers.{i}"] = x
        return x


class Decoder(nn.Module):
    def __init__(self, c: OobleckConfig):
        super().__init__()
        m = (1, *c.c_mults)
        ch = c.channels
        n = len(c.strides)
        layers: list[nn.Module] = [WNConv1d(c.latent_dim, m[n] * ch, 7, padding=3)]
        layers += [DecoderBlock(m[n - k + 1] * ch, m[n - k] * ch, c.strides[n - k]) for k in range(1, n + 1)]
        layers += [SnakeBeta(m[0] * ch), WNConv1d(m[0] * ch, c.audio_channels, 7, padding=3, bias=False)]
        if c.final_tanh:
            layers.append(nn.Tanh())
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor, taps: dict[str, Tensor] | None = None) -> Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if taps is not None and i < 2:
                taps[f"decoder.layers.{i}"] = x
        return x


class Oobleck(nn.Module):
    """``encode`` audio [b, 2, L] -> latents [b, z, L / ratio]; ``decode`` back. ``iterate_batch``: the encoder
    and decoder run one item at a time (as the reference's pretransform does)."""

    def __init__(self, encoder: OobleckConfig, decoder: OobleckConfig, iterate_batch: bool = True):
        super().__init__()
        self.encoder = Encoder(encoder)
        self.decoder = Decoder(decoder)
        self.iterate_batch = iterate_batch

    def _each(self, fn, x: Tensor, taps: dict[str, Tensor] | None) -> Tensor:  # type: ignore[no-untyped-def]
        if not self.iterate_batch:
            return fn(x, taps)
        outs, parts = [], []
        for i in range(x.shape[0]):
            t: dict[str, Tensor] | None = {} if taps is not None else None
            outs.append(fn(x[i:i + 1], t))
            if t is not None:
                parts.append(t)
        if taps is not None:
            for key in parts[0]:
                taps[key] = torch.cat([p[key] for p in parts])
        return torch.cat(outs)

    def encode(self, audio: Tensor, taps: dict[str, Tensor] | None = None,
               generator: torch.Generator | None = None) -> Tensor:
        pre = self._each(self.encoder, audio, taps)
        mean, scale = pre.chunk(2, dim=1)
        stdev = F.softplus(scale) + 1e-4
        noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
        z = noise * stdev + mean
        if taps is not None:
            taps.update({"pre_bottleneck": pre, "mean": mean, "scale": scale, "stdev": stdev, "noise": noise,
                         "latents": z})
        return z

    def decode(self, z: Tensor, taps: dict[str, Tensor] | None = None) -> Tensor:
        return self._each(self.decoder, z, taps)
