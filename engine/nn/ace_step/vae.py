"""ACE-Step 1.5's VAE: diffusers' ``AutoencoderOobleck`` (``vae/config.json`` + ``diffusion_pytorch_model.
safetensors``), run by our Oobleck (``engine.nn.sao.vae``, the same network) after renaming the keys.

Latents: the DiT works in [B, T, C], the VAE in [B, C, T]; no scaling or shift. ``decode`` [B, T, 64] -> wave
[B, channels, T * hop]; ``encode`` wave -> (mean, std) [B, encoder_hidden_size / 2, T'] with
``std = softplus(scale) + 1e-4``; ``sample`` draws ``mean + std * randn``."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from engine.nn.sao.config import OobleckConfig
from engine.nn.sao.vae import Oobleck

from .config import VaeConfig
from .weights import AceStepLoadError, key_report, load_strict

_RES = ("snake1", "conv1", "snake2", "conv2")


def diffusers_name(ours: str, blocks: int) -> str:
    """Our Oobleck key -> the diffusers ``AutoencoderOobleck`` key of the same tensor."""
    side, _, rest = ours.partition(".layers.")
    i_text, _, tail = rest.partition(".")
    i = int(i_text)
    if i == 0:
        return f"{side}.conv1.{tail}"
    if i == blocks + 1:
        return f"{side}.snake1.{tail}"
    if i == blocks + 2:
        return f"{side}.conv2.{tail}"
    j_text, _, inner = tail.removeprefix("layers.").partition(".")
    j = int(j_text)
    block = f"{side}.block.{i - 1}"
    unit = j if side == "encoder" else j - 2
    if 0 <= unit <= 2 and (side == "encoder" and j <= 2 or side == "decoder" and j >= 2):
        r_text, _, leaf = inner.removeprefix("layers.").partition(".")
        return f"{block}.res_unit{unit + 1}.{_RES[int(r_text)]}.{leaf}"
    names = {"encoder": {3: "snake1", 4: "conv1"}, "decoder": {0: "snake1", 1: "conv_t1"}}[side]
    return f"{block}.{names[j]}.{inner}"


class AceStepVae(nn.Module):
    def __init__(self, cfg: VaeConfig):
        super().__init__()
        self.cfg = cfg
        mults = tuple(cfg.channel_multiples)
        enc = OobleckConfig(channels=cfg.encoder_hidden_size, c_mults=mults, strides=cfg.downsampling_ratios,
                            latent_dim=cfg.encoder_hidden_size, audio_channels=cfg.audio_channels)
        dec = OobleckConfig(channels=cfg.decoder_channels, c_mults=mults, strides=tuple(cfg.downsampling_ratios),
                            latent_dim=cfg.decoder_input_channels, audio_channels=cfg.audio_channels)
        self.oobleck = Oobleck(enc, dec, iterate_batch=False)

    @property
    def hop(self) -> int:
        return self.cfg.hop

    def diffusers_shapes(self) -> dict[str, tuple[int, ...]]:
        """{diffusers key: shape} this config needs (Snake parameters stored [1, C, 1] there)."""
        blocks = len(self.cfg.downsampling_ratios)
        out = {}
        for k, v in self.oobleck.state_dict().items():
            shape = tuple(v.shape)
            if k.endswith((".alpha", ".beta")):
                shape = (1, shape[0], 1)
            out[diffusers_name(k, blocks)] = shape
        return out

    def load_diffusers(self, state: Mapping[str, Tensor], source: str) -> None:
        """Load a diffusers state dict strictly (an AceStepLoadError naming what does not fit, nothing loaded)."""
        blocks = len(self.cfg.downsampling_ratios)
        names = {diffusers_name(k, blocks): k for k in self.oobleck.state_dict()}
        renamed = {}
        for k, v in state.items():
            ours = names.get(k, k)
            renamed[ours] = v.reshape(-1) if k.endswith((".alpha", ".beta")) and v.ndim == 3 else v
        expected = self.diffusers_shapes()
        lines = key_report(expected, {k: tuple(v.shape) for k, v in state.items()})
        if lines:
            raise AceStepLoadError(f"{source}: does not fit the AutoencoderOobleck its config describes "
                                   f"({len(state)} keys in the file, {len(expected)} expected): " + "; ".join(lines))
        load_strict(self.oobleck, renamed, source, "VAE")

    def decode(self, latents: Tensor) -> Tensor:
        """[B, T, C] (the DiT layout) -> wave [B, channels, T * hop]."""
        if latents.ndim != 3 or latents.shape[-1] != self.cfg.decoder_input_channels:
            raise ValueError(f"latents must be [batch, frames, {self.cfg.decoder_input_channels}], "
                             f"got {tuple(latents.shape)}")
        return self.oobleck.decode(latents.transpose(1, 2))

    def encode(self, wave: Tensor) -> tuple[Tensor, Tensor]:
        """wave [B, channels, samples] -> (mean, std) [B, encoder_hidden_size / 2, samples / hop]."""
        if wave.ndim != 3 or wave.shape[1] != self.cfg.audio_channels:
            raise ValueError(f"wave must be [batch, {self.cfg.audio_channels}, samples], got {tuple(wave.shape)}")
        h = self.oobleck.encoder(wave)
        mean, scale = h.chunk(2, dim=1)
        return mean, torch.nn.functional.softplus(scale) + 1e-4

    @staticmethod
    def sample(mean: Tensor, std: Tensor, generator: torch.Generator | None = None) -> Tensor:
        noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
        return mean + std * noise
