"""The two samplers the official Stable Audio Open models use (docs/reference/fixtures/stable-audio.md §3.8), as plain
functions with the engine's signature: a model function, the start, the schedule, ``on_step`` after each step and
``should_stop`` before each, and an injectable noise source (``noise(i, like) -> Tensor``) so that every draw can be
replayed.

- ``pingpong`` (SAO Small, rectified flow): ``denoised = x - t v``; ``x = (1 - t') denoised + t' noise``; a draw on
  every step, the last one too (times 0).
- ``dpmpp_3m_sde`` (SAO 1.0, v-objective through the k-diffusion denoiser wrapper): DPM-Solver++(3M) SDE with
  eta 1; the reference draws its noise from a Brownian tree, which any i.i.d. normal per step matches in
  distribution.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from engine.errors import Cancelled

Noise = Callable[[int, Tensor], Tensor]
StepFn = Callable[[int, int], None]


def _check(should_stop: Callable[[], bool] | None) -> None:
    if should_stop is not None and should_stop():
        raise Cancelled("cancelled")


def pingpong_schedule(steps: int) -> Tensor:
    logsnr = torch.linspace(-6, 2, steps + 1)
    t = torch.sigmoid(-logsnr)
    t[0], t[-1] = 1.0, 0.0
    return t


def global_noise(_i: int, like: Tensor) -> Tensor:
    """``randn_like`` from the global generator (the reference's stream after ``manual_seed``)."""
    return torch.randn_like(like)


def pingpong(velocity: Callable[[Tensor, Tensor], Tensor], x: Tensor, ts: Tensor, *,
             noise: Noise = global_noise, on_step: StepFn | None = None,
             should_stop: Callable[[], bool] | None = None,
             trace: Callable[[str, int, Tensor], None] | None = None) -> Tensor:
    """``velocity(x, t [b]) -> v``; ``ts`` from 1 to 0 (``pingpong_schedule``)."""
    n = len(ts) - 1
    ones = x.new_ones(x.shape[0])
    for i in range(n):
        _check(should_stop)
        t = ts[i] * ones
        v = velocity(x, t)
        denoised = x - t[:, None, None] * v
        if trace is not None:
            trace("x", i, x)
            trace("denoised", i, denoised)
        eps = noise(i, x)
        x = (1 - ts[i + 1]) * denoised + ts[i + 1] * eps
        if on_step is not None:
            on_step(i + 1, n)
    return x


def polyexponential_sigmas(steps: int, sigma_min: float, sigma_max: float, rho: float = 1.0) -> Tensor:
    ramp = torch.linspace(1, 0, steps) ** rho
    sigmas = torch.exp(ramp * (math.log(sigma_max) - math.log(sigma_min)) + math.log(sigma_min))
    return torch.cat([sigmas, sigmas.new_zeros([1])])


def v_denoiser(model: Callable[[Tensor, Tensor], Tensor]) -> Callable[[Tensor, Tensor], Tensor]:
    """k-diffusion's v-diffusion wrapper (sigma_data 1): ``denoised(x, sigma [b])``."""

    def denoised(x: Tensor, sigma: Tensor) -> Tensor:
        s = sigma[:, None, None]
        c_skip = 1 / (s**2 + 1)
        c_out = -s / (s**2 + 1) ** 0.5
        c_in = 1 / (s**2 + 1) ** 0.5
        t = sigma.atan() / math.pi * 2
        return model(x * c_in, t) * c_out + x * c_skip

    return denoised


def dpmpp_3m_sde(denoiser: Callable[[Tensor, Tensor], Tensor], x: Tensor, sigmas: Tensor, *,
                 noise: Noise = global_noise, on_step: StepFn | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 trace: Callable[[str, int, Tensor], None] | None = None) -> Tensor:
    """DPM-Solver++(3M) SDE, eta 1, s_noise 1 (k-diffusion 0.1.1 ``sample_dpmpp_3m_sde``); ``noise(i, x)`` is
    the normalised Brownian increment of step ``i`` (all steps but the last)."""
    ones = x.new_ones(x.shape[0])
    n = len(sigmas) - 1
    d_1 = d_2 = None
    h_1 = h_2 = None
    for i in range(n):
        _check(should_stop)
        denoised = denoiser(x, sigmas[i] * ones)
        if trace is not None:
            trace("x", i, x)
            trace("denoised", i, denoised)
        if sigmas[i + 1] == 0:
            x = denoised
        else:
            t, s = -sigmas[i].log(), -sigmas[i + 1].log()
            h = s - t
            h_eta = h * 2
            x = torch.exp(-h_eta) * x + (-h_eta).expm1().neg() * denoised
            if h_2 is not None:
                r0 = h_1 / h
                r1 = h_2 / h
                d1_0 = (denoised - d_1) / r0
                d1_1 = (d_1 - d_2) / r1
                d1 = d1_0 + (d1_0 - d1_1) * r0 / (r0 + r1)
                d2 = (d1_0 - d1_1) / (r0 + r1)
                phi_2 = h_eta.neg().expm1() / h_eta + 1
                phi_3 = phi_2 / h_eta - 0.5
                x = x + phi_2 * d1 - phi_3 * d2
            elif h_1 is not None:
                r = h_1 / h
                d = (denoised - d_1) / r
                phi_2 = h_eta.neg().expm1() / h_eta + 1
                x = x + phi_2 * d
            x = x + noise(i, x) * sigmas[i + 1] * (-2 * h).expm1().neg().sqrt()
            h_1, h_2 = h, h_1
        d_1, d_2 = denoised, d_1
        if on_step is not None:
            on_step(i + 1, n)
    return x
