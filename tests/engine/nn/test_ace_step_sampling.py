"""ACE-Step 1.5 samplers (engine.sampling.ace_step*) checked against the properties the fixture README states, with
simple deterministic velocity functions standing in for the DiT."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import Tensor

from engine.errors import Cancelled
from engine.sampling.ace_step import (
    SHIFT_TIMESTEPS,
    VALID_TIMESTEPS,
    CoverNoise,
    Momentum,
    Repaint,
    SamplerError,
    apg,
    base,
    base_timesteps,
    initial_noise,
    soft_mask,
    turbo,
    turbo_timesteps,
)
from engine.sampling.ace_step_edit import (
    extend_padding,
    pad_wave,
    repaint_inputs,
    text2music_inputs,
    window_frames,
)


class Recorder:
    """A velocity that records what it was called with and returns ``fn(x, t)``."""

    def __init__(self, fn: Any = None):
        self.calls: list[tuple[Tensor, Tensor, Any]] = []
        self.fn = fn or (lambda x, t: torch.zeros_like(x))

    def __call__(self, x: Tensor, t: Tensor, cond: Any) -> Tensor:
        self.calls.append((x.clone(), t.clone(), cond))
        return self.fn(x, t)

    def times(self) -> list[float]:
        return [float(t[0]) for _, t, _ in self.calls]

    def conds(self) -> list[Any]:
        return [c for _, _, c in self.calls]


def test_turbo_tables_are_the_shifted_nine_point_grid() -> None:
    for s, table in SHIFT_TIMESTEPS.items():
        grid = [1 - k / 8 for k in range(8)]
        assert table == pytest.approx([s * t / (1 + (s - 1) * t) for t in grid], abs=1e-15)
        assert len(table) == 8 and 0.0 not in table
    assert len(VALID_TIMESTEPS) == 20 == len(set(VALID_TIMESTEPS))
    assert list(VALID_TIMESTEPS) == sorted(VALID_TIMESTEPS, reverse=True)


@pytest.mark.parametrize(("shift", "table"), [(0.2, 1.0), (1.4, 1.0), (1.6, 2.0), (2.5, 2.0), (2.51, 3.0), (9, 3.0)])
def test_turbo_shift_rounds_to_one_two_or_three(shift: float, table: float) -> None:
    assert turbo_timesteps(shift) == list(SHIFT_TIMESTEPS[table])


def test_turbo_custom_timesteps_are_snapped_trimmed_and_capped() -> None:
    snapped = turbo_timesteps(3.0, [0.97, 0.81, 0.52, 0.33, 0.1])
    assert snapped == [0.9545454545454546, 0.8333333333333334, 0.5, 0.3, 0.125]  # the README's example
    assert turbo_timesteps(1.0, [0.97, 0.81, 0.0, 0.0]) == [0.9545454545454546, 0.8333333333333334]
    assert turbo_timesteps(1.0, [0.5, 0.0, 0.3, 0.0]) == [0.5, 0.125, 0.3]  # only TRAILING zeros go
    assert len(turbo_timesteps(3.0, [0.9] * 25)) == 20
    assert turbo_timesteps(2.0, [0.0, 0.0]) == list(SHIFT_TIMESTEPS[2.0])  # nothing left: the shift's table


def test_turbo_steps_through_the_float32_table_and_ends_with_the_x0_shortcut() -> None:
    torch.manual_seed(0)
    data, noise = torch.randn(2, 9, 4), torch.randn(2, 9, 4)
    v = Recorder(lambda x, t: noise - data)  # the exact velocity of the straight path noise -> data
    out = turbo(v, noise, "c", shift=3.0)
    assert torch.allclose(out, data, atol=1e-6)
    f32 = torch.tensor(SHIFT_TIMESTEPS[3.0], dtype=torch.float32).tolist()
    assert v.times() == f32 and len(v.calls) == 8  # no call at t = 0
    assert all(t.dtype == torch.float32 and t.shape == (2,) for _, t, _ in v.calls)
    custom = Recorder(lambda x, t: noise - data)
    out = turbo(custom, noise, "c", timesteps=[0.97, 0.33, 0.1, 0])
    assert torch.allclose(out, noise - 0.9545454545454546 * (noise - data), atol=1e-6)  # it starts at t = 0.9545
    assert custom.times() == pytest.approx([0.9545454545454546, 0.3, 0.125], abs=1e-7)


def test_turbo_cover_switch_and_cover_noise_start() -> None:
    noise, src = torch.randn(1, 5, 3), torch.randn(1, 5, 3)
    v = Recorder()
    turbo(v, noise, "cover", shift=3.0, cover_strength=0.5, switch="text")
    assert v.conds() == ["cover"] * 4 + ["text"] * 4  # int(8 * 0.5) steps, then a switch (not a blend)
    v = Recorder()
    out = turbo(v, noise, "cover", shift=3.0, cover_noise=CoverNoise(0.4, src), cover_strength=0.5, switch="text")
    # 1 - 0.4 = 0.6 -> the table entry 0.6429 (index 5): three steps left, int(3 * 0.5) = 1 of them with the cover
    assert v.times() == pytest.approx([0.6428571428571429, 0.5, 0.3], abs=1e-7)
    assert v.conds() == ["cover", "text", "text"]
    t0 = 0.6428571428571429
    assert torch.allclose(v.calls[0][0], t0 * noise + (1 - t0) * src)
    assert torch.allclose(out, v.calls[0][0])  # zero velocity: the start is the answer
    v = Recorder()
    turbo(v, noise, "cover", cover_strength=1.0, switch="text")
    assert v.conds() == ["cover"] * 8


def test_repaint_injection_uses_the_same_noise_for_half_the_steps_and_never_after_the_last() -> None:
    torch.manual_seed(1)
    noise, clean = torch.randn(2, 12, 3), torch.randn(2, 12, 3)
    mask = torch.zeros(2, 12, dtype=torch.bool)
    mask[:, 4:8] = True
    out = turbo(Recorder(), noise, "c", shift=3.0, repaint=Repaint(mask, clean, 0.5, crossfade=0))
    # zero velocity: inside the window x stays the noise; outside it was last injected after step 3 of 8
    # (round(0.5 * 8) = 4 injected steps) at t_next = table[4] = 0.75
    t_last = SHIFT_TIMESTEPS[3.0][4]
    assert torch.equal(out[:, 4:8], noise[:, 4:8])
    assert torch.allclose(out[:, :4], t_last * noise[:, :4] + (1 - t_last) * clean[:, :4])
    assert torch.allclose(out[:, 8:], t_last * noise[:, 8:] + (1 - t_last) * clean[:, 8:])
    # ratio 1: every Euler step is injected, the x0 shortcut of the last step is not (t would be 0: clean)
    full = turbo(Recorder(), noise, "c", shift=3.0, repaint=Repaint(mask, clean, 1.0, crossfade=0))
    t7 = SHIFT_TIMESTEPS[3.0][7]
    assert torch.allclose(full[:, :4], t7 * noise[:, :4] + (1 - t7) * clean[:, :4])
    # the recorded inputs show the injection happening between steps
    v = Recorder()
    turbo(v, noise, "c", shift=1.0, repaint=Repaint(mask, clean, 0.5, crossfade=0))
    x_step2 = v.calls[2][0]
    assert torch.allclose(x_step2[:, :4], 0.75 * noise[:, :4] + 0.25 * clean[:, :4])


def test_boundary_blend_ramps_ten_frames_and_is_skipped_at_crossfade_zero() -> None:
    mask = torch.zeros(2, 40, dtype=torch.bool)
    mask[0, 15:20] = True
    mask[1, 3:38] = True
    soft = soft_mask(mask, 10)
    assert torch.equal(soft[0, :5], torch.zeros(5)) and torch.equal(soft[0, 30:], torch.zeros(10))
    assert torch.allclose(soft[0, 5:15], torch.linspace(0, 1, 12)[1:-1])
    assert torch.equal(soft[0, 15:20], torch.ones(5))
    assert torch.allclose(soft[0, 20:30], torch.linspace(1, 0, 12)[1:-1])
    assert torch.allclose(soft[1, 0:3], torch.linspace(0, 1, 5)[1:-1])  # only 3 frames before the window
    assert torch.allclose(soft[1, 38:], torch.linspace(1, 0, 4)[1:-1])
    assert torch.equal(soft_mask(mask, 0), mask.float())
    noise, clean = torch.randn(2, 40, 2), torch.randn(2, 40, 2)
    out = turbo(Recorder(), noise, "c", repaint=Repaint(mask, clean, 0.0, crossfade=10))
    m = soft.unsqueeze(-1)
    assert torch.allclose(out, m * noise + (1 - m) * clean)
    assert torch.equal(out[0, :5], clean[0, :5])  # outside window + crossfade: the clean source exactly
    plain = turbo(Recorder(), noise, "c", repaint=Repaint(mask, clean, 0.0, crossfade=0))
    assert torch.equal(plain, noise)


def test_apg_momentum_clip_and_projection_over_time() -> None:
    torch.manual_seed(2)
    cond, uncond = torch.randn(2, 30, 4), torch.randn(2, 30, 4)
    buf = Momentum()
    out = apg(cond, uncond, 7.0, buf)
    update = (out - cond) / 6
    dots = (update.double() * cond.double()).sum(dim=1)  # orthogonal to pred_cond over TIME, per channel
    assert dots.abs().max() < 1e-5
    assert update.norm(dim=1).max() <= 2.5 + 1e-5  # the difference was clipped to norm 2.5 first
    assert (cond - uncond).norm(dim=1).min() > 2.5  # (so the clip did act)
    assert torch.equal(buf.running, cond - uncond)  # type: ignore[arg-type]
    apg(cond, torch.zeros_like(cond), 7.0, buf)
    assert torch.allclose(buf.running, cond + -0.75 * (cond - uncond))  # type: ignore[arg-type]
    small = apg(cond, cond - 1e-3, 3.0)  # a small difference is not scaled up
    diff = torch.full_like(cond, 1e-3).double()
    unit = torch.nn.functional.normalize(cond.double(), dim=1)
    expected = cond + 2 * (diff - (diff * unit).sum(1, keepdim=True) * unit).float()
    assert torch.allclose(small, expected, atol=1e-7)


def test_base_schedule_guidance_interval_and_euler_to_zero() -> None:
    t = base_timesteps(4, 3.0)
    assert t.dtype == torch.float32 and torch.allclose(t, torch.tensor([1.0, 0.9, 0.75, 0.5, 0.0]))
    assert torch.equal(base_timesteps(4, 1.0), torch.linspace(1, 0, 5))
    torch.manual_seed(3)
    data, noise = torch.randn(2, 6, 3), torch.randn(2, 6, 3)
    v = Recorder(lambda x, t: noise - data)
    assert torch.allclose(base(v, noise, "c", steps=5, shift=2.0), data, atol=1e-6)  # Euler to 0
    assert len(v.calls) == 5 and min(v.times()) > 0

    def paired(c: Any) -> Any:
        return ("pair", c)

    def vel(x: Tensor, t: Tensor) -> Tensor:  # cond half: x, null half: 0 (batch doubled as [cond; null])
        assert x.shape[0] == 4 and torch.equal(x[:2], x[2:])
        return torch.cat([x[:2] + 1, torch.zeros_like(x[:2])])

    v = Recorder(vel)
    out = base(v, noise, "c", steps=4, shift=3.0, guidance_scale=7.0, with_null=paired, cfg_interval=(0.3, 0.8))
    assert v.conds() == [("pair", "c")] * 4
    # by hand: t = 1, .9 unguided; .75, .5 guided with one momentum buffer that starts at the first guided step
    x, buf = noise.clone(), Momentum()
    for tc, tn in [(1.0, 0.9), (0.9, 0.75), (0.75, 0.5), (0.5, 0.0)]:
        vc = x + 1
        vv = apg(vc, torch.zeros_like(vc), 7.0, buf) if 0.3 <= tc <= 0.8 else vc
        x = x - vv * (tc - tn)
    assert torch.allclose(out, x, atol=1e-5)
    v = Recorder(vel)
    base(v, noise, "cover", steps=4, guidance_scale=2.0, with_null=paired, cover_strength=0.5, switch="text")
    assert v.conds() == [("pair", "cover")] * 2 + [("pair", "text")] * 2


def test_noise_per_seed_list_one_generator_for_an_int_global_for_none() -> None:
    listed = initial_noise([42, 7], (2, 5, 3))
    assert torch.equal(listed[1:], torch.randn(1, 5, 3, generator=torch.Generator().manual_seed(7)))
    one = initial_noise(42, (2, 5, 3))
    assert torch.equal(one, torch.randn(2, 5, 3, generator=torch.Generator().manual_seed(42)))
    assert not torch.equal(one[1:], listed[1:])  # one generator over the batch: other noise for item 1
    torch.manual_seed(5)
    a = initial_noise(None, (2, 5, 3))
    torch.manual_seed(5)
    assert torch.equal(a, torch.randn(2, 5, 3))
    torch.manual_seed(6)
    mixed = initial_noise([-1, 7], (2, 5, 3))
    torch.manual_seed(6)
    assert torch.equal(mixed[:1], torch.randn(1, 5, 3)) and torch.equal(mixed[1:], listed[1:])
    with pytest.raises(SamplerError, match="3 seeds for a batch of 2"):
        initial_noise([1, 2, 3], (2, 5, 3))


def test_repaint_window_frames_chunk_mask_and_silence_in_the_source() -> None:
    assert window_frames(0.3, 0.7, 27) == (7, 17)  # int(sec * 48000 // 1920)
    assert window_frames(0.6, 1.3, 32) == (15, 32)
    assert window_frames(5.0, 9.0, 27) == (26, 27)  # start clamped to T - 1, end to T
    assert window_frames(0.0, 0.01, 27) == (0, 1)  # the end at least one frame after the start
    assert window_frames(-0.2, 0.2, 27) == (0, 10)  # a negative start shifts the window right
    silence = torch.arange(50.0).view(1, 50, 1).expand(1, 50, 2)
    source = -torch.ones(2, 27, 2)
    e = repaint_inputs(source, silence, [(0.3, 0.7), None])
    assert e.spans == [("repainting", 7, 17), ("full", 0, 27)]
    assert e.chunk_mask[0].nonzero().flatten().tolist() == list(range(7, 17)) and bool(e.chunk_mask[1].all())
    assert e.repaint_mask is not None and torch.equal(e.repaint_mask, e.chunk_mask)
    assert torch.equal(e.src[0, 7:17, 0], torch.arange(7.0, 17.0))  # silence frames at the same positions
    assert torch.equal(e.src[0, :7], source[0, :7]) and torch.equal(e.src[1], source[1])
    ctx = e.context()
    assert ctx.shape == (2, 27, 4) and torch.equal(ctx[..., 2:], e.chunk_mask.unsqueeze(-1).expand(2, 27, 2).float())
    t2m = text2music_inputs(2, 60, silence)  # a silence shorter than T is tiled
    assert t2m.repaint_mask is None and bool(t2m.chunk_mask.all()) and float(t2m.src[0, 55, 0]) == 5.0
    with pytest.raises(SamplerError, match="not after its start"):
        window_frames(0.7, 0.3, 27)


def test_extend_pads_the_wave_with_truncated_sample_counts() -> None:
    p = extend_padding(48000, 0.5, 1.4)  # the README's example: int(0.3999999999999999 * 48000)
    assert (p.left, p.right) == (0, 19199)
    p = extend_padding(38400, 0.6, 1.3)
    assert (p.right, (38400 + p.right) // 1920) == (24000, 32)
    assert window_frames(p.start_sec, p.end_sec, 32) == (15, 32)
    p = extend_padding(48000, -0.5, None)
    assert (p.left, p.right, p.start_sec, p.end_sec) == (24000, 0, 0.0, 1.5)
    padded = pad_wave(torch.ones(1, 2, 480), extend_padding(480, 0.0, 0.02))
    assert padded.shape == (1, 2, 960) and float(padded[..., 480:].abs().sum()) == 0.0
    assert torch.equal(padded[..., :480], torch.ones(1, 2, 480))


def test_bad_arguments_are_refused_before_any_step() -> None:
    v = Recorder()
    noise = torch.zeros(1, 4, 2)
    with pytest.raises(SamplerError, match="non-cover condition"):
        turbo(v, noise, "c", cover_strength=0.5)
    with pytest.raises(SamplerError, match="repaint mask: shape"):
        turbo(v, noise, "c", repaint=Repaint(torch.ones(1, 5, dtype=torch.bool), noise))
    with pytest.raises(SamplerError, match="null condition"):
        base(v, noise, "c", steps=4, guidance_scale=3.0)
    with pytest.raises(SamplerError, match="steps"):
        base(v, noise, "c", steps=0)
    with pytest.raises(SamplerError, match="cover noise strength"):
        turbo(v, noise, "c", cover_noise=CoverNoise(1.5, noise))
    assert v.calls == []
    with pytest.raises(Cancelled):
        turbo(v, noise, "c", should_stop=lambda: len(v.calls) == 3)
    assert len(v.calls) == 3
    done: list[tuple[int, int]] = []
    base(Recorder(), noise, "c", steps=3, on_step=lambda i, n: done.append((i, n)))
    assert done == [(1, 3), (2, 3), (3, 3)]
