"""The Oobleck inference form (folded weight norm, in-place SnakeBeta, channels-last) against the plain module,
DiffRhythm's TorchScript VAE decoded by it when (and only when) it fits, and Stable Audio's CPU preparation."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from torch import nn

from engine.nn.sao.config import OobleckConfig
from engine.nn.sao.vae import Decoder, Encoder, Oobleck
from engine.nn.sao.vae_inference import InferenceCoder, Snake, for_inference
from engine.nn.vae import VAE, TinyVAE
from engine.nn.vae_native import native_decoder

SHAPE = OobleckConfig(channels=8, c_mults=(1, 2, 4), strides=(2, 4, 8), latent_dim=16, audio_channels=2)
#: DiffRhythm-vae's strides (2048 samples a latent frame), few channels
HOP_2048 = OobleckConfig(channels=4, c_mults=(1, 2, 2, 4, 4), strides=(2, 4, 4, 8, 8), latent_dim=16)


def randomised(module: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights of a trained network's scale: unit-gain convolutions, small Snake and bias parameters."""
    g = torch.Generator().manual_seed(seed)
    params = dict(module.named_parameters())
    with torch.no_grad():
        for name, p in params.items():
            if name.endswith(("alpha", "beta", "bias")):
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
            elif name.endswith("weight_v"):
                p.copy_(torch.randn(p.shape, generator=g) / p[0].numel() ** 0.5)
        for name, p in params.items():
            if name.endswith("weight_g"):
                v = params[name[:-1] + "v"]
                p.copy_(torch.linalg.vector_norm(v, dim=(1, 2), keepdim=True) * (0.8 + 0.4 * torch.rand(p.shape,
                                                                                                   generator=g)))
    return module.eval()


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


@pytest.mark.slow
def test_inference_form_computes_what_the_plain_module_does() -> None:
    for plain, x in ((randomised(Decoder(SHAPE)), torch.randn(2, 16, 12)),
                     (randomised(Encoder(OobleckConfig(8, (1, 2, 4), (2, 4, 8), 32)), 1), torch.randn(2, 2, 640))):
        fast = InferenceCoder(copy.deepcopy(plain))
        assert not any(n.endswith(("weight_g", "weight_v")) for n in fast.state_dict())  # folded once
        assert any(isinstance(m, Snake) for m in fast.modules())
        with torch.inference_mode():
            want, got = plain(x), fast(x)
            low = InferenceCoder(copy.deepcopy(plain), torch.bfloat16)(x)
        assert got.shape == want.shape and got.dtype == low.dtype == torch.float32
        assert rel(got, want) < 1e-4  # float32, summed in another order
        # the bf16 form really is another computation, and close: random weights amplify rounding (float16 storage
        # drifts a third of this), a wrong cast or layout would be off by ~1
        assert 0 < rel(low, want) < 0.3
        with pytest.raises(ValueError, match="no taps"):
            fast(x, {})


class ScriptedOobleck(nn.Module):
    """Stands in for DiffRhythm's ``vae_model.pt``: an Oobleck exported with ``decode_export``/``encode_export``."""

    def __init__(self, decoder: nn.Module, encoder: nn.Module):
        super().__init__()
        self.decoder, self.encoder = decoder, encoder

    def decode_export(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def encode_export(self, audio: torch.Tensor) -> torch.Tensor:
        return self.encoder(audio)


def script(decoder: nn.Module, tmp: Path, name: str) -> Path:
    enc = randomised(Encoder(OobleckConfig(8, (1, 2, 4), (2, 4, 8), 32)), 5)
    traced = torch.jit.trace_module(ScriptedOobleck(decoder, enc), {
        "decode_export": torch.randn(1, 16, 8), "encode_export": torch.randn(1, 2, 64 * 8)})
    path = tmp / name
    torch.jit.save(traced, str(path))
    return path


@pytest.mark.slow
def test_a_torchscript_oobleck_decodes_natively_and_the_same(tmp_path: Path) -> None:
    dec = randomised(Decoder(HOP_2048), 2)
    path = script(dec, tmp_path, "vae.pt")
    ts = VAE.load(str(path))  # no dtype: TorchScript as shipped
    fast = VAE.load(str(path), dtype=torch.float32)
    low = VAE.load(str(path), dtype=torch.bfloat16)
    assert ts.native is None and isinstance(fast.native, InferenceCoder) and low.native is not None
    z = torch.randn(1, 16, 300)  # chunked: 128-frame windows overlapping by 32
    with torch.inference_mode():
        want = ts.decode(z)
        assert rel(fast.decode(z), want) < 1e-4
        assert 0 < rel(low.decode(z), want) < 0.3


@pytest.mark.slow
def test_a_vae_that_does_not_fit_keeps_torchscript(tmp_path: Path) -> None:
    assert native_decoder(torch.jit.script(TinyVAE(seed=1)), torch.bfloat16) is None  # other keys
    dec = randomised(Decoder(SHAPE), 3)
    path = script(dec, tmp_path, "tanh.pt")
    scripted = torch.jit.load(str(path))
    assert native_decoder(scripted, torch.float32) is not None

    class Other(nn.Module):  # same weights, another function: the probe tells them apart
        def __init__(self) -> None:
            super().__init__()
            self.decoder = dec

        def forward(self, z: torch.Tensor) -> torch.Tensor:
            return self.decoder(z) * 0.5 + 0.1

    path = script(Other(), tmp_path, "other.pt")
    assert native_decoder(torch.jit.load(str(path)), torch.float32) is None


@pytest.mark.slow
def test_stable_audio_cpu_preparation_on_the_tiny_model(tmp_path: Path) -> None:
    from engine.backends.stable_audio.files import find, load
    from engine.backends.stable_audio.pipeline import Settings, generate, prepare_for_cpu
    from engine.backends.stable_audio.tiny import create_tiny_stable_audio
    from engine.nn.lowp import LowPrecisionLinear

    create_tiny_stable_audio(tmp_path, seed=2)
    files = find(tmp_path, "stable-audio-small")
    settings = Settings(steps=4, cfg=1.0, sigma_min=0.0, sigma_max=1.0)
    ref_model = load(files, torch.float32).model
    low_model = load(files, torch.float32).model
    label = prepare_for_cpu(low_model, torch.bfloat16)
    assert label.startswith("bf16") and isinstance(low_model.vae, Oobleck)
    assert isinstance(low_model.vae.decoder, InferenceCoder) and isinstance(low_model.vae.encoder, InferenceCoder)
    block = low_model.dit.transformer.layers[0]
    assert isinstance(block.ff.ff[0].proj, LowPrecisionLinear) and block.self_attn.to_qkv.weight.dtype == torch.float32
    assert low_model.t5 is not None and next(low_model.t5.parameters()).dtype == torch.float32
    want = generate(ref_model, ["techno loop"], [4.0], 11, settings)
    got = generate(low_model, ["techno loop"], [4.0], 11, settings)
    assert got.shape == want.shape and got.dtype == want.dtype
    assert 0 < rel(torch.from_numpy(got), torch.from_numpy(want)) < 0.2
    variation = generate(low_model, ["techno loop"], [4.0], 11, Settings(4, 1.0, 0.0, 1.0, init_strength=0.5),
                         init_audio=want[0])  # the encoder's inference form too
    assert variation.shape == want.shape
    assert for_inference(low_model.vae, torch.bfloat16) is low_model.vae  # a second call changes nothing
