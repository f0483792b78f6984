"""The VAE interface (docs/reference/diffrhythm-spec.md §4): the official TorchScript ``vae_model.pt`` with ``encode_export`` and
``decode_export``, decoded and encoded in overlapping chunks exactly as the reference does (chunk 128 latent frames,
overlap 32, hard-pasted with 16 frames trimmed per inner edge). Unlike the reference, audio shorter than one chunk
encodes too. Audio is [b, 2, samples] float32 at 44.1 kHz; latents are [b, 64, frames]; 2048 samples per frame.

DiffRhythm's VAE is Stable Audio's Oobleck autoencoder. When the TorchScript file's decoder weights fit our Oobleck
decoder key for key, and the two decode a probe latent alike, decoding runs in our decoder's CPU inference form
(``engine.nn.sao.vae_inference``: weight norm folded, channels-last, in the engine's CPU precision), in the same
chunks (256-frame chunks measured no faster: 10 % more time a frame in bf16 ate the 14 % fewer frames); otherwise,
and for encoding, the TorchScript module runs as shipped.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

HOP = 2048
CHUNK = 128
OVERLAP = 32


def chunked(fn: Callable[[Tensor], Tensor], x: Tensor, in_hop: int, out_hop: int, total_out: int,
            chunk: int = CHUNK, overlap: int = OVERLAP,
            should_stop: Callable[[], bool] | None = None) -> Tensor:
    """Apply ``fn`` over overlapping windows of ``x`` along its last axis.

    ``in_hop``/``out_hop``: input/output units per latent frame (decode: 1 -> 2048; encode: 2048 -> 1).
    ``total_out``: output length in latent frames."""
    frames = x.shape[-1] // in_hop
    if frames <= chunk:
        return fn(x)
    hop = chunk - overlap
    starts = list(range(0, frames - chunk + 1, hop))
    if starts[-1] + chunk != frames:
        starts.append(frames - chunk)
    ol = overlap // 2 * out_hop
    out: Tensor | None = None
    for i, s in enumerate(starts):
        if should_stop is not None and should_stop():
            from engine.errors import Cancelled

            raise Cancelled("cancelled")
        y = fn(x[..., s * in_hop:(s + chunk) * in_hop])
        if out is None:
            out = y.new_zeros(*y.shape[:-1], total_out * out_hop)
        t0, t1 = s * out_hop, s * out_hop + y.shape[-1]
        c0, c1 = 0, y.shape[-1]
        if i > 0:
            t0, c0 = t0 + ol, c0 + ol
        if i < len(starts) - 1:
            t1, c1 = t1 - ol, c1 - ol
        out[..., t0:t1] = y[..., c0:c1]
    assert out is not None
    return out


class VAE:
    """Owns the TorchScript module (and the native decoder, when it fits); one instance per process."""

    def __init__(self, module: torch.jit.ScriptModule, device: torch.device | str = "cpu",
                 native: torch.nn.Module | None = None):
        self.module = module.eval().to(device)
        self.device = torch.device(device)
        self.native = native

    @classmethod
    def load(cls, path: str, device: torch.device | str = "cpu", dtype: torch.dtype | None = None) -> VAE:
        """``dtype``: on the CPU, the precision of the native decoder (None: TorchScript only)."""
        from engine.checkpoints import CheckpointError

        try:
            module = torch.jit.load(path, map_location="cpu")
        except (RuntimeError, ValueError, OSError) as exc:
            raise CheckpointError(f"{path}: not a TorchScript VAE ({str(exc).splitlines()[0][:160]})") from None
        for method in ("encode_export", "decode_export"):
            if not hasattr(module, method):
                raise CheckpointError(f"{path}: the VAE has no {method}() method")
        native = None
        if dtype is not None and torch.device(device).type == "cpu":
            from .vae_native import native_decoder

            native = native_decoder(module, dtype)
        return cls(module, device, native)

    def _decode_fn(self) -> Callable[[Tensor], Tensor]:
        return self.native if self.native is not None else self.module.decode_export

    @torch.inference_mode()
    def decode(self, latent: Tensor, *, chunk: bool = True,
               should_stop: Callable[[], bool] | None = None) -> Tensor:
        """latent: [b, 64, frames] -> audio [b, 2, frames * 2048] (float32)."""
        z = latent.to(self.device, torch.float32)
        fn = self._decode_fn()
        if not chunk:
            return fn(z)
        return chunked(fn, z, 1, HOP, z.shape[-1], should_stop=should_stop)

    @torch.inference_mode()
    def encode(self, audio: Tensor, *, chunk: bool = True) -> tuple[Tensor, Tensor]:
        """audio: [b, 2, samples] -> (mean, scale) [b, 64, samples // 2048]."""
        a = audio.to(self.device, torch.float32)
        frames = a.shape[-1] // HOP
        a = a[..., : frames * HOP]
        z = chunked(self.module.encode_export, a, HOP, 1, frames) if chunk else self.module.encode_export(a)
        mean, scale = z.chunk(2, dim=1)
        return mean, scale

    @staticmethod
    def sample(mean: Tensor, scale: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """The reference ``vae_sample``: mean + randn * (softplus(scale) + 1e-4)."""
        std = torch.nn.functional.softplus(scale) + 1e-4
        noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device="cpu").to(mean.device)
        return mean + noise * std


class TinyVAE(torch.nn.Module):
    """A small random VAE with the official interface, for tests and the tiny random model: each latent frame
    maps to 2048 stereo samples through a 3-frame convolution (so chunking is exact away from the edges)."""

    def __init__(self, latent: int = 64, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.dec = torch.nn.Conv1d(latent, 2 * 64, 3, padding=1)
        self.up = torch.nn.Parameter(torch.randn(64, HOP // 64 * 64, generator=g) * 0.02)
        self.enc = torch.nn.Conv1d(2 * 32, 2 * latent, 3, padding=1)
        with torch.no_grad():
            for p in (self.dec.weight, self.enc.weight):
                p.copy_(torch.randn(p.shape, generator=g) / p.shape[1] ** 0.5 / 3)

    @torch.jit.export
    def decode_export(self, z: Tensor) -> Tensor:
        # z: [b, 64, t] -> [b, 2, t * 2048]
        b, _, t = z.shape
        h = torch.tanh(self.dec(z))  # [b, 128, t]
        h = h.view(b, 2, 64, t).permute(0, 1, 3, 2)  # [b, 2, t, 64]
        wave = torch.tanh(h @ self.up) * 0.25  # [b, 2, t, 2048]
        return wave.reshape(b, 2, t * 2048)

    @torch.jit.export
    def encode_export(self, audio: Tensor) -> Tensor:
        # audio: [b, 2, n] -> [b, 128, n // 2048]
        b, _, n = audio.shape
        t = n // 2048
        frames = audio[:, :, : t * 2048].reshape(b, 2, t, 32, 64).mean(-1)  # [b, 2, t, 32]
        h = frames.permute(0, 1, 3, 2).reshape(b, 64, t)
        return self.enc(h)

    def forward(self, z: Tensor) -> Tensor:
        return self.decode_export(z)
