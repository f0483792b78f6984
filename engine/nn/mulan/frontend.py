"""The MuQ mel front-end, as torchaudio's ``MelSpectrogram`` + ``AmplitudeToDB`` compute it, without torchaudio.

Periodic Hann window, ``center=True`` with reflect padding, power ``|X|^2`` (abs, then pow), an HTK-scale
triangular filterbank without area normalisation, dB with ``amin=1e-10`` and no ``top_db``; MuQ then drops the
last frame and normalises with two scalars from its config.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from engine.nn.mel import hann, mel_filterbank


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
