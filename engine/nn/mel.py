"""Mel filterbanks and the STFT window as torchaudio builds them (float32, step by step), without torchaudio.

``mel_filterbank`` gives the triangular filters of ``torchaudio.functional.melscale_fbanks`` with ``norm=None``, on
the HTK scale (MuQ) or the Slaney scale (Beat This!); ``hann`` the periodic Hann window.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

_SLANEY_SP = 200.0 / 3  # Hz per mel below 1 kHz
_SLANEY_LOGSTEP = math.log(6.4) / 27.0


def hz_to_mel(f: float, scale: str = "htk") -> float:
    if scale == "htk":
        return 2595.0 * math.log10(1.0 + f / 700.0)
    mel = f / _SLANEY_SP
    if f >= 1000.0:
        mel = 1000.0 / _SLANEY_SP + math.log(f / 1000.0) / _SLANEY_LOGSTEP
    return mel


def mel_to_hz(m: Tensor, scale: str = "htk") -> Tensor:
    if scale == "htk":
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    freqs = _SLANEY_SP * m
    min_log_mel = 1000.0 / _SLANEY_SP
    log_t = m >= min_log_mel
    # exp correctly rounded to float32 (computed in float64): torch's float32 exp kernels differ by an ulp between
    # builds and CPUs, and one ulp at 9 kHz moves a filter edge by 4e-6 of its height
    freqs[log_t] = 1000.0 * torch.exp((_SLANEY_LOGSTEP * (m[log_t] - min_log_mel)).double()).float()
    return freqs


def mel_filterbank(n_freqs: int, n_mels: int, sample_rate: int, f_min: float = 0.0,
                   f_max: float | None = None, scale: str = "htk") -> Tensor:
    """[n_freqs, n_mels] triangular filters (no area normalisation), built in float32 on the CPU."""
    if scale not in ("htk", "slaney"):
        raise ValueError(f"mel scale {scale!r}: htk or slaney")
    f_max = sample_rate / 2 if f_max is None else f_max
    with torch.device("cpu"):
        freqs = torch.linspace(0, sample_rate // 2, n_freqs)
        m_pts = torch.linspace(hz_to_mel(f_min, scale), hz_to_mel(f_max, scale), n_mels + 2)
        f_pts = mel_to_hz(m_pts, scale)
        f_diff = f_pts[1:] - f_pts[:-1]
        slopes = f_pts.unsqueeze(0) - freqs.unsqueeze(1)
        down = (-1.0 * slopes[:, :-2]) / f_diff[:-1]
        up = slopes[:, 2:] / f_diff[1:]
        return torch.max(torch.zeros(1), torch.min(down, up))


def hann(n: int) -> Tensor:
    """The periodic Hann window as torch computes it in float32, unless that result strays from the float64 one:
    in some processes torch's float32 kernel came out up to 7.6e-5 off (seen 1 run in 3 under the test suite, never
    in a loop inside one process), so the float64 window rounded to float32 is the fallback."""
    w = torch.hann_window(n, periodic=True, device="cpu")
    exact = torch.hann_window(n, periodic=True, dtype=torch.float64, device="cpu")
    if float((w.double() - exact).abs().max()) > 1e-6:
        return exact.float()
    return w
