"""From prompts and lengths to audio with a loaded Stable Audio Open model, as ``generate_diffusion_cond`` does
(docs/reference/fixtures/stable-audio.md §3.8): the seeded initial noise, the conditioning, the model's own sampler
(pingpong for rectified flow, DPM++ 3M SDE for v), the decoder. Audio-to-audio variations start from an encoded
init clip partly noised (``init_strength`` 1: all noise, 0: the clip).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: defaults a producer gets: the model cards' settings (SAO 1.0: 100 steps, CFG 7, sigma 0.3..500; Small: 8
#: pingpong steps, no guidance)
DEFAULTS = {"v": {"steps": 100, "cfg": 7.0, "sigma_min": 0.3, "sigma_max": 500.0},
            "rf_denoiser": {"steps": 8, "cfg": 1.0, "sigma_min": 0.0, "sigma_max": 1.0}}


@dataclass(frozen=True)
class Settings:
    steps: int
    cfg: float
    sigma_min: float
    sigma_max: float
    negative: str = ""
    init_strength: float = 1.0


def settings_for(objective: str, params: dict[str, Any]) -> Settings:
    d = {**DEFAULTS[objective], **{k: v for k, v in params.items() if k in ("steps", "cfg", "sigma_min",
                                                                             "sigma_max")}}
    return Settings(int(d["steps"]), float(d["cfg"]), float(d["sigma_min"]), float(d["sigma_max"]),
                    str(params.get("negative", "")), float(params.get("init_strength", 1.0)))


def prepare_for_cpu(model: Any, dtype: Any) -> str:
    """Make a loaded model fast on the CPU (in place; call after loading): the feed-forward products of the DiT's
    blocks (two thirds of its FLOPs) run in ``dtype`` (``engine.nn.lowp``: float32 between them, in attention, the
    projections in and out, the conditioning and the sampler), the VAE in its inference form
    (``engine.nn.sao.vae_inference``) in ``dtype``. The T5 and the number conditioners stay float32.

    Why the attention projections stay float32, measured over a whole 8-step loop at the real shapes with random
    weights (drift of the latent from float32; float16, emulated, 1.8-2.1e-3): bfloat16 in every product of the
    blocks 6.2-6.6e-3 (3.2-3.4x float16's), feed-forward and cross-attention 4.6-5.5e-3 (2.3-3.0x), feed-forward
    alone 3.7e-3 (1.8x). What stays float32 in the DiT is computed by oneDNN rather than the BLAS
    (``lowp.OneDnnLinear``). Returns a description for the take's record."""
    import torch

    from engine.nn.lowp import float32_through_onednn, lower
    from engine.nn.sao.vae_inference import for_inference
    from engine.precision import small_model

    name = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]
    if dtype == torch.float32 and small_model(model.cfg.dit.embed_dim):
        return "fp32 (a small model: as loaded, on one thread)"  # engine.precision.small_model: measured slower
    if dtype != torch.float32:
        lower([layer.ff for layer in model.dit.transformer.layers], dtype)
    float32_through_onednn(model.dit)  # the float32 products: 2.2x MKL's rate on the AMD VM
    for_inference(model.vae, dtype)
    return f"{name} (DiT feed-forward, VAE), fp32 elsewhere" if dtype != torch.float32 else "fp32"


def generate(model: Any, prompts: Sequence[str], seconds_total: Sequence[float], seed: int, s: Settings, *,
             init_audio: np.ndarray | None = None, on_step: Callable[[int, int], None] | None = None,
             should_stop: Callable[[], bool] | None = None) -> np.ndarray:
    """[b, sample_size, 2] float32: the model's whole window (``seconds_total`` is conditioning only)."""
    import torch

    from engine.sampling.stable_audio import (
        dpmpp_3m_sde,
        pingpong,
        pingpong_schedule,
        polyexponential_sigmas,
        v_denoiser,
    )

    cfg = model.cfg
    dit = model.dit
    dev = next(dit.parameters()).device
    b = len(prompts)
    items = [{"prompt": p, "seconds_start": 0.0, "seconds_total": float(t)} for p, t in zip(prompts, seconds_total,
                                                                                          strict=True)]
    with torch.no_grad():
        torch.manual_seed(seed)
        noise = torch.randn([b, cfg.dit.io_channels, cfg.latent_length]).to(dev)
        conds = model.condition(items)
        inp = model.inputs(conds)
        neg = neg_mask = None
        if s.negative and s.cfg != 1.0:
            nconds = model.condition([{**item, "prompt": s.negative} for item in items])
            ninp = model.inputs(nconds)
            neg, neg_mask = ninp.cross, ninp.cross_mask
        init = None
        if init_audio is not None:
            x = torch.from_numpy(np.ascontiguousarray(init_audio.T, dtype=np.float32))[None].to(dev)
            x = torch.nn.functional.pad(x, (0, max(0, cfg.sample_size - x.shape[-1])))[..., :cfg.sample_size]
            init = model.vae.encode(x.expand(b, -1, -1).contiguous())

        def net(x: Any, t: Any) -> Any:
            return dit.forward_cfg(x, t, inp.cross, inp.glob, s.cfg, negative=neg, negative_mask=neg_mask)

        if cfg.objective == "rf_denoiser":
            ts = pingpong_schedule(s.steps).to(dev)
            if init is not None:  # start part-way down the schedule from the noised clip
                ts = ts[ts <= s.init_strength]
                ts = torch.cat([ts.new_tensor([s.init_strength]), ts]) if ts[0] < s.init_strength else ts
                x0 = (1 - ts[0]) * init + ts[0] * noise
            else:
                x0 = noise
            latent = pingpong(net, x0, ts, on_step=on_step, should_stop=should_stop)
        else:
            sigma_max = s.sigma_max if init is None else max(s.sigma_min * 1.01, s.sigma_max * s.init_strength)
            sigmas = polyexponential_sigmas(s.steps, s.sigma_min, sigma_max).to(dev)
            x0 = noise * sigmas[0] if init is None else init + noise * sigmas[0]
            latent = dpmpp_3m_sde(v_denoiser(net), x0, sigmas, on_step=on_step, should_stop=should_stop)
        audio = model.vae.decode(latent)
    return audio.float().cpu().numpy().transpose(0, 2, 1)
