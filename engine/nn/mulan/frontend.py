"""The MuQ mel front-end, as torchaudio's ``MelSpectrogram`` + ``AmplitudeToDB`` compute it, without torchaudio.

Periodic Hann window, ``center=True`` with reflect padding, power ``|X|^2`` (abs, then pow), an HTK-scale
triangular filterbank without area normalisation, dB with ``amin=1e-10`` and no ``top_db``; MuQ then drops the
last frame and normalises with two scalars from its config.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def _hz_to_mel(f: float) -> float:
    return 2595.0 * math.log10(1.0 + f / 700.0)


def _mel_to_hz(m: Tensor) -> Tensor:
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def mel_filterbank(n_freqs: int, n_mels: int, sample_rate: int, f_min: float = 0.0,
                   f_max: float | None = None) -> Tensor:
    """[n_freqs, n_mels] HTK triangular filters (no normalisation), built in float32."""
    f_max = sample_rate / 2 if f_max is None else f_max
    freqs = torch.linspace(0, sample_rate // 2, n_freqs)
    m_pts = torch.linspace(_hz_to_mel(f_min), _hz_to_mel(f_max), n_mels + 2)
    f_pts = _mel_to_hz(m_pts)
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


class MelFrontEnd(nn.Module):
    """waveform [B, N] at ``sample_rate`` -> normalised log-mel [B, n_mels, 1 + N // hop - 1]."""

    def __init__(self, *, sample_rate: int, n_fft: int, hop_length: int, n_mels: int, mean: float, std: float):
        super().__init__()
        self.n_fft, self.hop_length, self.mean, self.std = n_fft, hop_length, float(mean), float(std)
        self.sample_rate, self.n_mels = sample_rate, n_mels
        self.register_buffer("window", hann(n_fft).to(torch.get_default_device()), persistent=False)
        self.register_buffer("fb", mel_filterbank(n_fft // 2 + 1, n_mels, sample_rate), persistent=False)

    def init_buffers(self) -> None:
        """(Re)compute the window and filterbank on the CPU: after building on the meta device."""
        self.window = hann(self.n_fft)
        with torch.device("cpu"):
            self.fb = mel_filterbank(self.n_fft // 2 + 1, self.n_mels, self.sample_rate)

    def power(self, wav: Tensor) -> Tensor:
        """|STFT|^2 on the mel scale [B, n_mels, frames]."""
        spec = torch.stft(wav, self.n_fft, hop_length=self.hop_length, win_length=self.n_fft, window=self.window,
                          center=True, pad_mode="reflect", normalized=False, onesided=True, return_complex=True)
        p = spec.abs().pow(2.0)
        return torch.matmul(p.transpose(-1, -2), self.fb).transpose(-1, -2)

    def forward(self, wav: Tensor, taps: dict[str, Tensor] | None = None) -> Tensor:
        mel = self.power(wav)
        if taps is not None:
            taps["mel_power"] = mel
        db = 10.0 * torch.log10(torch.clamp(mel, min=1e-10))
        db = db[..., :-1]
        return (db - self.mean) / self.std
