"""ACE-Step 1.5 samplers (fixture README ``ace-step`` §6-8 and §10), written against a velocity callable.

``velocity(x [B, T, C], t [B], cond) -> v`` is one DiT call with ``r = t``; ``cond`` is whatever the model hands
out as a condition (encoder states + context), opaque here. Two samplers:

- ``turbo``: the fixed 8-step tables of shift 1, 2, 3 (the shift is rounded to the nearest of them), or custom
  timesteps snapped to the 20 values of those tables; Euler on every step but the last, which jumps to
  ``x0 = x - v t``. The schedule is cast to a float32 tensor and read back with ``.item()`` as the reference does.
- ``base``: ``linspace(1, 0, steps + 1)`` shifted by ``s t / (1 + (s - 1) t)``, Euler on every step to 0; with a
  guidance scale above 1 the batch is doubled as [cond, null] and guided by APG (momentum -0.75, norm clip 2.5,
  projection in float64 over the time axis) inside the cfg interval.

Both take the repaint parts (``Repaint``: step injection in the first ``round(ratio * steps)`` steps with the same
initial noise, then the boundary crossfade), the cover strength switch (``switch``: the first ``int(steps * s)``
steps use ``cond``, the rest the recomputed non-cover condition) and the cover noise start (``CoverNoise``: start
from the schedule entry nearest ``1 - c`` at ``t* noise + (1 - t*) src``). Window and padding helpers for repaint
and extend live in :mod:`engine.sampling.ace_step_edit`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from engine.errors import Cancelled, SongBridgeError

Velocity = Callable[[Tensor, Tensor, Any], Tensor]
StepFn = Callable[[int, int], None]

#: the turbo tables (``s t / (1 + (s - 1) t)`` of ``linspace(1, 0, 9)[:-1]``), as the reference stores them
SHIFT_TIMESTEPS: dict[float, tuple[float, ...]] = {
    1.0: (1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125),
    2.0: (1.0, 0.9333333333333333, 0.8571428571428571, 0.7692307692307693, 0.6666666666666666,
          0.5454545454545454, 0.4, 0.2222222222222222),
    3.0: (1.0, 0.9545454545454546, 0.9, 0.8333333333333334, 0.75, 0.6428571428571429, 0.5, 0.3),
}
#: the 20 distinct values of the three tables, high to low: custom timesteps snap to these
VALID_TIMESTEPS: tuple[float, ...] = tuple(sorted({t for ts in SHIFT_TIMESTEPS.values() for t in ts}, reverse=True))
MAX_CUSTOM_STEPS = 20
APG_MOMENTUM = -0.75
APG_NORM_THRESHOLD = 2.5


class SamplerError(SongBridgeError):
    """A sampler argument that cannot be used (named in the message)."""


def _check(should_stop: Callable[[], bool] | None) -> None:
    if should_stop is not None and should_stop():
        raise Cancelled("cancelled")


def _nearest(values: Sequence[float], target: float) -> float:
    return min(values, key=lambda v: abs(v - target))


# --- schedules -------------------------------------------------------------------------------------------------

def turbo_timesteps(shift: float = 3.0, timesteps: Sequence[float] | None = None) -> list[float]:
    """The turbo schedule (no final 0): custom ``timesteps`` with trailing zeros dropped, at most 20 kept, each
    snapped to the nearest of :data:`VALID_TIMESTEPS` (the shift is then ignored); else the table of the shift
    rounded to the nearest of 1, 2, 3. Custom timesteps that are all zeros fall back to the shift's table."""
    if timesteps is not None:
        ts = [float(t) for t in timesteps]
        while ts and ts[-1] == 0:
            ts.pop()
        if ts:
            return [_nearest(VALID_TIMESTEPS, t) for t in ts[:MAX_CUSTOM_STEPS]]
    if not isinstance(shift, int | float) or shift != shift:
        raise SamplerError(f"shift: {shift!r} is not a number")
    return list(SHIFT_TIMESTEPS[_nearest(list(SHIFT_TIMESTEPS), float(shift))])


def base_timesteps(steps: int, shift: float = 1.0) -> Tensor:
    """``linspace(1, 0, steps + 1)`` (float32), shifted by ``s t / (1 + (s - 1) t)`` when ``s != 1``."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise SamplerError(f"steps: {steps!r} is not a whole number of at least 1")
    if not isinstance(shift, int | float) or not shift > 0:
        raise SamplerError(f"shift: {shift!r} must be a number above 0")
    t = torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float32)
    if shift != 1.0:
        t = shift * t / (1 + (shift - 1) * t)
    return t


# --- noise -----------------------------------------------------------------------------------------------------

def initial_noise(seed: int | Sequence[int | None] | None, shape: Sequence[int], *,
                  device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> Tensor:
    """The reference's ``prepare_noise``: a seed list gives one generator per item (``randn(1, T, C)`` each, a
    ``None`` or negative item from the global RNG); one int gives one generator for ``randn(B, T, C)``; ``None`` or
    a negative int the global RNG. The generator lives on ``device`` (so CUDA noise differs from CPU noise)."""
    b, rest = int(shape[0]), tuple(int(s) for s in shape[1:])
    if isinstance(seed, Sequence) and not isinstance(seed, str):
        if len(seed) != b:
            raise SamplerError(f"seed: {len(seed)} seeds for a batch of {b}")
        parts = []
        for s in seed:
            if s is None or int(s) < 0:
                parts.append(torch.randn(1, *rest, device=device, dtype=dtype))
            else:
                g = torch.Generator(device=device).manual_seed(int(s))
                parts.append(torch.randn(1, *rest, generator=g, device=device, dtype=dtype))
        return torch.cat(parts, dim=0)
    if seed is None or int(seed) < 0:
        return torch.randn(b, *rest, device=device, dtype=dtype)
    g = torch.Generator(device=device).manual_seed(int(seed))
    return torch.randn(b, *rest, generator=g, device=device, dtype=dtype)


# --- repaint, cover --------------------------------------------------------------------------------------------

@dataclass
class Repaint:
    """``mask`` [B, T] bool, True = generate, False = keep ``clean`` (the clean source latents [B, T, C])."""

    mask: Tensor
    clean: Tensor
    injection_ratio: float = 0.5
    crossfade: int = 10


@dataclass
class CoverNoise:
    """Start from the schedule entry nearest ``1 - strength`` at ``t* noise + (1 - t*) source`` (``source`` = the
    given source latents, not the hints)."""

    strength: float
    source: Tensor


def step_injection(x: Tensor, clean: Tensor, mask: Tensor, t_next: float | Tensor, noise: Tensor) -> Tensor:
    """Frames outside ``mask`` become ``t_next noise + (1 - t_next) clean``."""
    z = t_next * noise + (1.0 - t_next) * clean
    return torch.where(mask.unsqueeze(-1).expand_as(x), x, z)


def soft_mask(mask: Tensor, crossfade: int) -> Tensor:
    """1 inside each row's window (first to last True frame), ``linspace(0, 1, n + 2)[1:-1]`` over up to
    ``crossfade`` frames before it, ``linspace(1, 0, n + 2)[1:-1]`` after it, 0 elsewhere. Rows all True or all
    False are left as they are."""
    soft = mask.float().clone()
    if crossfade <= 0:
        return soft
    length = mask.shape[1]
    for b in range(mask.shape[0]):
        row = mask[b]
        if bool(row.all()) or not bool(row.any()):
            continue
        idx = torch.nonzero(row, as_tuple=False).squeeze(-1)
        left, right = int(idx[0]), int(idx[-1]) + 1
        lo = max(left - crossfade, 0)
        if left > lo:
            soft[b, lo:left] = torch.linspace(0.0, 1.0, left - lo + 2, device=soft.device)[1:-1]
        hi = min(right + crossfade, length)
        if hi > right:
            soft[b, right:hi] = torch.linspace(1.0, 0.0, hi - right + 2, device=soft.device)[1:-1]
    return soft


def boundary_blend(x: Tensor, clean: Tensor, mask: Tensor, crossfade: int) -> Tensor:
    """``m x + (1 - m) clean`` with ``m = soft_mask(mask, crossfade)``."""
    m = soft_mask(mask, crossfade).unsqueeze(-1).expand_as(x)
    return m * x + (1.0 - m) * clean


def _euler(x: Tensor, v: Tensor, t_cur: Any, t_next: Any, inject: bool, repaint: Repaint | None,
           noise: Tensor) -> Tensor:
    """One Euler step from ``t_cur`` to ``t_next`` (both samplers), then, in a repaint's first steps (``inject``),
    the frames outside its mask put back on the source's path."""
    dt = (t_cur - t_next) * torch.ones((x.shape[0],), device=x.device, dtype=x.dtype).unsqueeze(-1).unsqueeze(-1)
    x = x - v * dt
    if repaint is not None and inject:
        x = step_injection(x, repaint.clean, repaint.mask, t_next, noise)
    return x


def _finish(x: Tensor, repaint: Repaint | None) -> Tensor:
    if repaint is not None and repaint.crossfade > 0:
        return boundary_blend(x, repaint.clean, repaint.mask, repaint.crossfade)
    return x


def _check_edit(x: Tensor, repaint: Repaint | None, cover_noise: CoverNoise | None, cover_strength: float,
                switch: Any) -> None:
    if repaint is not None:
        if tuple(repaint.mask.shape) != tuple(x.shape[:2]):
            raise SamplerError(f"repaint mask: shape {tuple(repaint.mask.shape)}, expected {tuple(x.shape[:2])}")
        if tuple(repaint.clean.shape) != tuple(x.shape):
            raise SamplerError(f"repaint source: shape {tuple(repaint.clean.shape)}, expected {tuple(x.shape)}")
    if cover_noise is not None:
        if not 0.0 <= cover_noise.strength <= 1.0:
            raise SamplerError(f"cover noise strength: {cover_noise.strength} is not between 0 and 1")
        if tuple(cover_noise.source.shape) != tuple(x.shape):
            raise SamplerError(f"cover source: shape {tuple(cover_noise.source.shape)}, expected {tuple(x.shape)}")
    if not 0.0 <= cover_strength <= 1.0:
        raise SamplerError(f"cover strength: {cover_strength} is not between 0 and 1")
    if cover_strength < 1.0 and switch is None:
        raise SamplerError("cover strength below 1 needs the non-cover condition to switch to")


# --- turbo -----------------------------------------------------------------------------------------------------

def turbo(velocity: Velocity, noise: Tensor, cond: Any, *, shift: float = 3.0,
          timesteps: Sequence[float] | None = None, cover_strength: float = 1.0, switch: Any = None,
          cover_noise: CoverNoise | None = None, repaint: Repaint | None = None,
          on_step: StepFn | None = None, should_stop: Callable[[], bool] | None = None) -> Tensor:
    """The turbo ``generate_audio`` loop (ODE, Euler); ``noise`` is the initial noise [B, T, C]."""
    _check_edit(noise, repaint, cover_noise, cover_strength, switch)
    schedule = turbo_timesteps(shift, timesteps)
    if cover_noise is not None and cover_noise.strength > 0.0:
        t_star = _nearest(schedule, 1.0 - cover_noise.strength)
        x = t_star * noise + (1 - t_star) * cover_noise.source
        schedule = schedule[schedule.index(t_star):]
    else:
        x = noise
    ts = torch.tensor(schedule, device=noise.device, dtype=noise.dtype)
    n = len(ts)
    b = x.shape[0]
    cover_steps = int(n * cover_strength)
    cutoff = round(repaint.injection_ratio * n) if repaint is not None else 0
    for i in range(n):
        _check(should_stop)
        if i >= cover_steps and switch is not None:
            cond, switch = switch, None
        t_cur = ts[i].item()
        t_vec = t_cur * torch.ones((b,), device=x.device, dtype=x.dtype)
        v = velocity(x, t_vec, cond)
        if i == n - 1:
            x = x - v * t_vec.unsqueeze(-1).unsqueeze(-1)
            if on_step is not None:
                on_step(i + 1, n)
            break
        x = _euler(x, v, t_cur, ts[i + 1].item(), i < cutoff, repaint, noise)
        if on_step is not None:
            on_step(i + 1, n)
    return _finish(x, repaint)


# --- base with APG ---------------------------------------------------------------------------------------------

class Momentum:
    """``running = update + momentum * running`` (starting at 0)."""

    def __init__(self, momentum: float = APG_MOMENTUM):
        self.momentum = momentum
        self.running: Tensor | float = 0.0

    def update(self, value: Tensor) -> Tensor:
        self.running = value + self.momentum * self.running
        return self.running


def apg(pred_cond: Tensor, pred_uncond: Tensor, scale: float, momentum: Momentum | None = None, *,
        norm_threshold: float = APG_NORM_THRESHOLD, eta: float = 0.0, dims: Sequence[int] = (1,)) -> Tensor:
    """Adaptive projected guidance: the (momentum-averaged, norm-clipped) difference, its part orthogonal to
    ``pred_cond`` (in float64) plus ``eta`` times the parallel part, ``pred_cond + (scale - 1) * that``. Norms and
    projections run over ``dims`` (the time axis of [B, T, C] in ACE-Step)."""
    d = list(dims)
    diff = pred_cond - pred_uncond
    if momentum is not None:
        diff = momentum.update(diff)
    if norm_threshold > 0:
        norm = diff.norm(p=2, dim=d, keepdim=True)
        diff = diff * torch.minimum(torch.ones_like(diff), norm_threshold / norm)
    v0, v1 = diff.double(), pred_cond.double()
    v1 = v1 / v1.norm(p=2, dim=d, keepdim=True).clamp_min(1e-12)  # F.normalize over several dims
    parallel = (v0 * v1).sum(dim=d, keepdim=True) * v1
    orthogonal = (v0 - parallel).to(diff.dtype)
    update = orthogonal + eta * parallel.to(diff.dtype)
    return pred_cond + (scale - 1) * update


def base(velocity: Velocity, noise: Tensor, cond: Any, *, steps: int, shift: float = 1.0,
         guidance_scale: float = 1.0, with_null: Callable[[Any], Any] | None = None,
         cfg_interval: tuple[float, float] = (0.0, 1.0), cover_strength: float = 1.0, switch: Any = None,
         cover_noise: CoverNoise | None = None, repaint: Repaint | None = None,
         on_step: StepFn | None = None, should_stop: Callable[[], bool] | None = None) -> Tensor:
    """The base/SFT ``generate_audio`` loop (ODE, Euler to 0). With ``guidance_scale > 1``, ``with_null(c)`` gives
    the condition of the doubled batch [c items; null items] (the null condition embedding over the same
    encoder states, same masks and context); APG guides where ``start <= t <= end`` of ``cfg_interval`` (else the
    conditional velocity, and the momentum is left alone)."""
    _check_edit(noise, repaint, cover_noise, cover_strength, switch)
    guided = guidance_scale > 1.0
    if guided and with_null is None:
        raise SamplerError("guidance scale above 1 needs the null condition (with_null)")
    t = base_timesteps(steps, shift).to(device=noise.device, dtype=noise.dtype)
    if cover_noise is not None and cover_noise.strength > 0.0:
        values = t[:-1].tolist()
        t_star = _nearest(values, 1.0 - cover_noise.strength)
        x = t_star * noise + (1 - t_star) * cover_noise.source
        t = t[values.index(t_star):]
    else:
        x = noise
    n = len(t) - 1
    cover_steps = int(n * cover_strength)
    cutoff = round(repaint.injection_ratio * n) if repaint is not None else 0
    momentum = Momentum()
    current = with_null(cond) if guided and with_null is not None else cond
    for i in range(n):
        _check(should_stop)
        t_cur, t_next = t[i], t[i + 1]
        if i >= cover_steps and switch is not None:
            current = with_null(switch) if guided and with_null is not None else switch
            switch = None
        xx = torch.cat([x, x], dim=0) if guided else x
        t_vec = t_cur * torch.ones((xx.shape[0],), device=x.device, dtype=x.dtype)
        v = velocity(xx, t_vec, current)
        if guided:
            pred_cond, pred_null = v.chunk(2)
            if bool(t_cur >= cfg_interval[0]) and bool(t_cur <= cfg_interval[1]):
                v = apg(pred_cond, pred_null, guidance_scale, momentum)
            else:
                v = pred_cond
        x = _euler(x, v, t_cur, t_next, i < cutoff, repaint, noise)
        if on_step is not None:
            on_step(i + 1, n)
    return _finish(x, repaint)
