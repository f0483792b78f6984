"""Beat This!'s log-mel front-end (``LogMelSpect``) without torchaudio: 22.05 kHz mono -> [T, 128] at 50 fps.

``torch.stft`` (n_fft 1024, hop 441, periodic Hann, centre with reflect padding, ``normalized=True`` i.e. x 1/32),
the magnitude, Slaney-scale triangular filters from 30 Hz to 11 kHz without area normalisation, ``log1p(1000 x)``,
time-major. Frame t is centred on sample 441 t (t / 50 s); T = 1 + N // 441; N <= 512 samples cannot be framed.
(docs/reference/fixtures/beat-this.md §4.2.)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from engine.nn.mel import hann, mel_filterbank

SAMPLE_RATE = 22050
HOP = 441
FPS = 50
N_FFT = 1024


class LogMel(nn.Module):
    def __init__(self, n_mels: int = 128):
        super().__init__()
        self.register_buffer("window", hann(N_FFT), persistent=False)
        self.register_buffer("fb", mel_filterbank(N_FFT // 2 + 1, n_mels, SAMPLE_RATE, 30.0, 11000.0, "slaney"),
                             persistent=False)

    def magnitude(self, wav: Tensor) -> Tensor:
        """wav [..., N] -> |STFT| / 32, [..., 513, T]."""
        if wav.shape[-1] <= N_FFT // 2:
            raise ValueError(f"{wav.shape[-1]} samples at {SAMPLE_RATE} Hz is too short for a spectrogram frame "
                             f"(more than {N_FFT // 2} needed)")
        spec = torch.stft(wav, N_FFT, hop_length=HOP, win_length=N_FFT, window=self.window, center=True,
                          pad_mode="reflect", normalized=True, onesided=True, return_complex=True)
        return spec.abs()

    def forward(self, wav: Tensor, taps: dict[str, Tensor] | None = None) -> Tensor:
        """wav [N] float32 at 22.05 kHz -> log-mel [T, n_mels]."""
        mag = self.magnitude(wav)
        mel = torch.matmul(mag.transpose(-1, -2), self.fb).transpose(-1, -2)
        if taps is not None:
            taps["stft_mag"], taps["mel_linear"] = mag, mel
        return torch.log1p(1000 * mel).transpose(-1, -2)
