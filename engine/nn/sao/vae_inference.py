"""The Oobleck encoder and decoder rewritten for inference on the CPU: same function, a fraction of the time.

Measured on the 2-core AVX-512 VM (``benchmarks/cpu_inference.py``), where the plain decoder spent its time:
- every weight-normalised convolution recomputed ``g * v / ||v||`` on every call (6 % of the decode): folded
  here once into a plain weight;
- SnakeBeta ran six Python-level passes (exp, exp, mul, sin, pow, add, each allocating a full activation; a third of
  the decode): its exponentials are computed once and the rest runs in place, three passes and one allocation;
- oneDNN's 1-d convolutions in the ``[b, c, t]`` layout reorder the activations on every call. In the channels-last
  layout (every tensor ``[b, c, 1, t]`` stored time-major, every convolution a ``(1, k)`` Conv2d) the same
  bfloat16 convolutions ran 1x1 at 128 channels 30 -> 116 GFLOP/s, dilated k=7 98 -> 286, the stride-2 transposed
  one 25 -> 118.

``dtype`` is the storage and compute format of the convolutions and activations (the engine's CPU precision,
``engine.precision``); input and output stay float32.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .vae import Oobleck, ResidualUnit, SnakeBeta, WNConv1d


class Snake(nn.Module):
    """SnakeBeta, ``x + sin(a x)^2 / b``, with ``a = exp(alpha)`` and ``1 / b = 1 / (exp(beta) + 1e-9)`` computed
    once; in place (inference only)."""

    def __init__(self, snake: SnakeBeta, dtype: torch.dtype):
        super().__init__()
        with torch.no_grad():
            self.register_buffer("scale", torch.exp(snake.alpha.float()).to(dtype)[None, :, None, None])
            inv = 1.0 / (torch.exp(snake.beta.float()) + 0.000000001)
            self.register_buffer("inv_beta", inv.to(dtype)[None, :, None, None])

    def forward(self, x: Tensor) -> Tensor:
        # x: [b, c, 1, t] channels-last
        s = x * self.scale
        s.sin_().square_()
        return torch.addcmul(x, s, self.inv_beta, out=s)


class Residual(nn.Module):
    """A ResidualUnit whose skip is added in place."""

    def __init__(self, layers: nn.Sequential):
        super().__init__()
        self.layers = layers

    def forward(self, x: Tensor) -> Tensor:
        y = self.layers(x)
        y += x
        return y


def _conv(wn: WNConv1d, dtype: torch.dtype) -> nn.Module:
    """The weight-normalised 1-d convolution as a plain ``(1, k)`` Conv2d with its weight folded, channels-last."""
    with torch.no_grad():
        w = torch._weight_norm(wn.weight_v.float(), wn.weight_g.float(), 0)
        a, b, k = w.shape
        bias = wn.bias is not None
        if wn.transpose:
            conv: nn.Module = nn.ConvTranspose2d(a, b, (1, k), (1, wn.stride), (0, wn.padding), bias=bias)
        else:
            conv = nn.Conv2d(b, a, (1, k), (1, wn.stride), (0, wn.padding), (1, wn.dilation), bias=bias)
        conv.weight.copy_(w[:, :, None, :])
        if bias:
            conv.bias.copy_(wn.bias.float())
    return conv.to(dtype=dtype, memory_format=torch.channels_last)


def _convert(module: nn.Module, dtype: torch.dtype) -> None:
    for name, child in list(module.named_children()):
        if isinstance(child, WNConv1d):
            setattr(module, name, _conv(child, dtype))
        elif isinstance(child, SnakeBeta):
            setattr(module, name, Snake(child, dtype))
        else:
            _convert(child, dtype)
            if isinstance(child, ResidualUnit):
                setattr(module, name, Residual(child.layers))


class InferenceCoder(nn.Module):
    """An Oobleck ``Encoder`` or ``Decoder`` in its inference form (built from it in place: the original's weights
    are re-used, not copied): ``[b, c, t]`` float32 in, ``[b, c', t']`` float32 out."""

    def __init__(self, coder: nn.Module, dtype: torch.dtype = torch.float32):
        super().__init__()
        _convert(coder.layers, dtype)
        self.layers = coder.layers
        self.dtype = dtype

    def forward(self, x: Tensor, taps: dict[str, Tensor] | None = None) -> Tensor:
        # x: [b, c, t] -> [b, c', t']
        if taps is not None:
            raise ValueError("the inference form records no taps: use the plain module for parity checks")
        h = x.to(self.dtype).unsqueeze(2).contiguous(memory_format=torch.channels_last)
        h = self.layers(h)
        return h.squeeze(2).float().contiguous()


def for_inference(vae: Oobleck, dtype: torch.dtype = torch.float32) -> Oobleck:
    """Give ``vae`` its inference-form encoder and decoder (in place; the state dict changes, so call it after
    loading). Returns ``vae``."""
    if not isinstance(vae.decoder, InferenceCoder):
        vae.decoder = InferenceCoder(vae.decoder, dtype)
    if not isinstance(vae.encoder, InferenceCoder):
        vae.encoder = InferenceCoder(vae.encoder, dtype)
    return vae
