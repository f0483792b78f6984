"""Latent-frame timing shared by the lint, the tokeniser and the backends (docs/reference/diffrhythm-spec.md §0, §6.2)."""

from __future__ import annotations

SAMPLE_RATE = 44100
HOP = 2048
#: Latent frames per second: 44100 / 2048 = 21.533203125 (exact in binary floating point).
FRAME_RATE = SAMPLE_RATE / HOP


def frame_of(t_s: float) -> int:
    """The frame a lyric stamp lands on: ``int(t * 44100 / 2048)``, evaluated as the reference does."""
    return int(t_s * SAMPLE_RATE / HOP)


def frame_time(frame: int) -> float:
    return frame / FRAME_RATE
