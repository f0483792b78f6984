"""DiffRhythm's TorchScript VAE decoder as our own Oobleck decoder, for the fast CPU path.

The official ``vae_model.pt`` is Stable Audio's Oobleck autoencoder exported to TorchScript. TorchScript runs it as
written: weight norm recomputed on every call, SnakeBeta op by op, 1-d convolutions that reorder their
activations, float32 only. When the file's ``decoder.`` weights fit :class:`engine.nn.sao.vae.Decoder` key for key
(old-style ``weight_g``/``weight_v``, parametrised ``original0``/``original1``, or plain weights), the config
(channels, multipliers, strides, latent width) is read from their shapes, and the rebuilt decoder decodes a probe
latent as the file does (relative L2 under 1e-3 in float32), decoding uses the rebuilt decoder's inference form.
Anything else keeps the TorchScript module: the fast path never changes what the file computes.
"""

from __future__ import annotations

import re

import torch
from torch import Tensor, nn

PROBE_FRAMES = 4
TOLERANCE = 1e-3


def _weights(module: torch.jit.ScriptModule) -> dict[str, Tensor]:
    """The file's decoder weights under our key names (``weight_g``/``weight_v`` for every convolution)."""
    sd = {k[len("decoder."):]: v.detach().float() for k, v in module.state_dict().items() if k.startswith("decoder.")}
    out: dict[str, Tensor] = {}
    for k, v in sd.items():
        if k.endswith(".parametrizations.weight.original0"):
            out[k.replace(".parametrizations.weight.original0", ".weight_g")] = v
        elif k.endswith(".parametrizations.weight.original1"):
            out[k.replace(".parametrizations.weight.original1", ".weight_v")] = v
        elif k.endswith(".weight") and v.ndim == 3:  # weight norm removed before export: g = ||w||, v = w
            out[k[: -len(".weight")] + ".weight_v"] = v
            out[k[: -len(".weight")] + ".weight_g"] = torch.linalg.vector_norm(v, dim=(1, 2), keepdim=True)
        else:
            out[k] = v
    return out


def _config(sd: dict[str, Tensor], final_tanh: bool):  # OobleckConfig, imported lazily
    from engine.nn.sao.config import OobleckConfig

    blocks = sorted(int(m.group(1)) for k in sd if (m := re.fullmatch(r"layers\.(\d+)\.layers\.1\.weight_v", k)))
    if not blocks or blocks != list(range(1, len(blocks) + 1)):
        return None
    n = len(blocks)
    first, last = sd.get("layers.0.weight_v"), sd.get(f"layers.{n + 2}.weight_v")
    if first is None or last is None:
        return None
    ch = last.shape[1]
    # block k (1..n) is a transposed conv [cin, cout, 2 * stride] from m[n-k+1]*ch to m[n-k]*ch channels
    strides, mults = [], {n: first.shape[0] // ch}
    for k in blocks:
        cin, cout, kernel = sd[f"layers.{k}.layers.1.weight_v"].shape
        strides.append(kernel // 2)
        mults[n - k] = cout // ch
    c_mults = tuple(mults[i] for i in range(1, n + 1))
    return OobleckConfig(channels=ch, c_mults=c_mults, strides=tuple(reversed(strides)), latent_dim=first.shape[1],
                         audio_channels=last.shape[0], final_tanh=final_tanh)


def native_decoder(module: torch.jit.ScriptModule, dtype: torch.dtype) -> nn.Module | None:
    """The file's decoder rebuilt in our Oobleck and put in its inference form in ``dtype``, or None when it does
    not fit or does not decode the probe as the file does."""
    from engine.nn.sao.vae import Decoder
    from engine.nn.sao.vae_inference import InferenceCoder

    try:
        sd = _weights(module)
    except RuntimeError:
        return None
    g = torch.Generator().manual_seed(0)
    for tanh in (False, True):
        cfg = _config(sd, tanh)
        if cfg is None:
            return None
        try:
            dec = Decoder(cfg).eval()
            dec.load_state_dict(sd, strict=True)
        except (RuntimeError, ValueError, KeyError):
            return None
        z = torch.randn(1, cfg.latent_dim, PROBE_FRAMES, generator=g)
        with torch.inference_mode():
            try:
                want = module.decode_export(z).float()
                got = dec(z)
            except RuntimeError:
                return None
        if got.shape == want.shape and float((got - want).norm() / want.norm().clamp_min(1e-12)) < TOLERANCE:
            return InferenceCoder(dec, dtype).eval()
    return None
