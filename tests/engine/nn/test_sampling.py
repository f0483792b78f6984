from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from engine.backends.base import Cancelled
from engine.checkpoints import infer_dims
from engine.nn import CFM, DiT, DiTConfig
from engine.sampling import few_step_grid, integrate, linear_grid


@pytest.mark.parametrize("method,tol", [("euler", 5e-2), ("midpoint", 2e-3), ("heun", 2e-3)])
def test_solvers_on_a_known_ode(method: str, tol: float) -> None:
    # dx/dt = -x from x(0) = 1: x(1) = e^-1
    x, _ = integrate(lambda t, x: -x, torch.ones(1, dtype=torch.float64), linear_grid(21, torch.float64),
                     method=method)
    assert abs(x.item() - torch.exp(torch.tensor(-1.0)).item()) < tol


def test_progress_and_cancel_every_step() -> None:
    seen = []
    integrate(lambda t, x: x * 0, torch.zeros(1), linear_grid(5), on_step=lambda d, t: seen.append((d, t)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    calls = []
    with pytest.raises(Cancelled):
        integrate(lambda t, x: x, torch.zeros(1), linear_grid(10), should_stop=lambda: len(calls) >= 3,
                  on_step=lambda d, t: calls.append(d))
    assert len(calls) == 3  # stopped before the fourth step


def test_grids() -> None:
    g = few_step_grid(9)
    assert g[0] == 0 and g[-1] == 1 and len(g) == 9 and bool((g[1:] > g[:-1]).all())
    assert (g[1] - g[0]) < (g[-1] - g[-2])  # more resolution near the noise end
    with pytest.raises(ValueError):
        linear_grid(1)


@pytest.fixture(scope="module")
def tiny(fixtures_dir) -> CFM:
    sd = load_file(str(fixtures_dir / "tiny_cfm_state_dict.safetensors"))
    m = CFM(DiT.from_config(DiTConfig(**infer_dims(sd), max_frames=2048))).eval()
    m.load_state_dict({k: v for k, v in sd.items() if "duration" not in k})
    return m


def inputs(n: int = 40) -> dict:
    g = torch.Generator().manual_seed(0)
    style = torch.nn.functional.normalize(torch.randn(1, 512, generator=g), dim=-1)
    return dict(text=torch.randint(0, 300, (1, n), generator=g), duration=n, style_prompt=style,
                negative_style_prompt=-style, start_time=torch.zeros(1), song_duration=torch.ones(1))


def test_edit_keeps_frames_outside_the_ranges_bit_exact(tiny: CFM) -> None:
    ref = torch.randn(1, 40, 64, generator=torch.Generator().manual_seed(1))
    res = tiny.sample(cond=ref, latent_pred_segments=[(5, 12), (30, 40)], batch=2, steps=4,
                      generator=torch.Generator().manual_seed(2), **inputs())
    keep = torch.ones(40, dtype=torch.bool)
    keep[5:12] = keep[30:40] = False
    assert torch.equal(res.out[:, keep], ref[:, keep].expand(2, -1, -1))
    assert not torch.equal(res.out[0, 5:12], ref[0, 5:12])
    assert not torch.equal(res.out[0], res.out[1])  # two takes, two noises


def test_continuation_pads_a_short_reference(tiny: CFM) -> None:
    ref = torch.randn(1, 25, 64)
    res = tiny.sample(cond=ref, latent_pred_segments=[(20, 40)], steps=3, **inputs())
    assert torch.equal(res.out[0, :20], ref[0, :20])
    with pytest.raises(ValueError, match="must be regenerated"):
        tiny.sample(cond=ref, latent_pred_segments=[(0, 10)], steps=3, **inputs())


def test_seeded_sampling_is_deterministic(tiny: CFM) -> None:
    a = tiny.sample(cond=torch.zeros(1, 40, 64), latent_pred_segments=[(0, 40)], steps=3,
                    generator=torch.Generator().manual_seed(7), **inputs())
    b = tiny.sample(cond=torch.zeros(1, 40, 64), latent_pred_segments=[(0, 40)], steps=3,
                    generator=torch.Generator().manual_seed(7), **inputs())
    assert torch.equal(a.out, b.out)
    h = tiny.sample(cond=torch.zeros(1, 40, 64), latent_pred_segments=[(0, 40)], steps=3, method="heun",
                    grid=few_step_grid(4), generator=torch.Generator().manual_seed(7), **inputs())
    assert h.out.shape == a.out.shape and torch.isfinite(h.out).all()


def test_quality_presets_cut_dit_calls_and_the_estimate_counts_them() -> None:
    from engine.backends.diffrhythm.backend import dit_calls, sampler_params
    from engine.sampling import GRIDS

    calls = {}
    for q in ("best", "fast", "draft"):
        p = sampler_params({"quality": q})
        n = []
        integrate(lambda t, x, n=n: (n.append(1), x)[1], torch.zeros(1), GRIDS[p["grid"]](p["steps"]),
                  method=p["solver"])
        assert len(n) == dit_calls(p)  # the count the estimate uses is the count the sampler makes
        calls[q] = len(n)
    assert calls == {"best": 31, "fast": 16, "draft": 8}
    assert dit_calls(sampler_params({"solver": "heun"})) == 62  # Heun alone at 32 points doubles the work
    assert dit_calls(sampler_params({"solver": "heun", "grid": "few-step"})) == 16  # few-step brings its own 9 points
    assert sampler_params({"quality": "fast", "steps": 5})["steps"] == 5  # an explicit setting wins


@pytest.mark.slow
def test_low_precision_keeps_positions_and_the_ode_state_in_float32() -> None:
    from engine.nn import CFM, DiT, DiTConfig

    torch.manual_seed(0)
    cfg = DiTConfig(dim=64, depth=2, ff_mult=2, text_dim=512, conv_layers=1, mel_dim=64, text_num_embeds=363,
                    max_frames=2048)
    m32 = CFM(DiT.from_config(cfg)).eval()
    m16 = CFM(DiT.from_config(cfg)).eval()
    m16.load_state_dict(m32.state_dict())
    m16 = m16.to(torch.bfloat16)
    assert m16.transformer.rotary_emb.inv_freq.dtype == torch.float32
    assert torch.equal(m16.transformer.rotary_emb.inv_freq, m32.transformer.rotary_emb.inv_freq)
    assert m16.transformer.text_embed.freqs_cis.dtype == torch.float32
    n = 40
    kw = dict(cond=torch.zeros(1, n, 64), text=torch.ones(1, n, dtype=torch.long), duration=n,
              style_prompt=torch.randn(1, 512), negative_style_prompt=torch.randn(1, 512), start_time=torch.zeros(1),
              song_duration=None, latent_pred_segments=[(0, n)], steps=6, cfg_strength=2.0,
              noise=torch.randn(1, n, 64))
    out = m16.sample(**kw).out
    assert out.dtype == torch.float32  # the state was integrated in float32
    ref = m32.sample(**kw).out
    assert float((out - ref).norm() / ref.norm()) < 0.05
