"""ACE-Step 1.5 edit inputs (fixture README ``ace-step`` §4 and §8): the repaint window in latent frames, the chunk
mask, the source latents with silence in the window, the repaint mask, and the wave padding of an extend.

Frames are ``int(sec * sample_rate // hop)`` (48 kHz, hop 1920: 25 frames a second), the start clamped to
``[0, T - 1]`` and the end to ``[start + 1, T]``. The context the DiT sees is ``[src | chunk mask]`` per frame:
text2music uses ``silence[:, :T]`` and a chunk mask of ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from .ace_step import SamplerError

SAMPLE_RATE = 48000
HOP = 1920


def window_frames(start_sec: float, end_sec: float, frames: int, *, sample_rate: int = SAMPLE_RATE,
                  hop: int = HOP) -> tuple[int, int]:
    """The repaint window [start, end) in latent frames of a latent ``frames`` long (a negative start shifts
    both ends right, as the reference's left padding does)."""
    if frames < 1:
        raise SamplerError(f"repaint: a latent of {frames} frames has nothing to repaint")
    if not end_sec > start_sec:
        raise SamplerError(f"repaint: the window ends at {end_sec} s, not after its start {start_sec} s")
    left = max(0.0, -start_sec)
    start = int((start_sec + left) * sample_rate // hop)
    end = int((end_sec + left) * sample_rate // hop)
    start = max(0, min(start, frames - 1))
    end = max(start + 1, min(end, frames))
    return start, end


def silence_frames(silence: Tensor, frames: int) -> Tensor:
    """``silence`` [1, L, C] (already transposed from the file's [1, C, L]) cut or tiled to [1, frames, C]."""
    if silence.dim() != 3 or silence.shape[0] != 1:
        raise SamplerError(f"silence latent: shape {tuple(silence.shape)}, expected [1, L, C]")
    if silence.shape[1] < frames:
        silence = silence.repeat(1, -(-frames // silence.shape[1]), 1)
    return silence[:, :frames]


@dataclass
class EditInputs:
    """``chunk_mask`` [B, T] bool (the window, or all True for an item without one), ``src`` [B, T, C] (the clean
    source with silence in the window), ``repaint_mask`` [B, T] bool (None when no item repaints: True =
    generate), ``spans`` one ``(kind, start, end)`` a item."""

    chunk_mask: Tensor
    src: Tensor
    repaint_mask: Tensor | None
    spans: list[tuple[str, int, int]]

    def context(self) -> Tensor:
        """``cat([src, chunk_mask over C channels as float], -1)`` [B, T, 2C]."""
        mask = self.chunk_mask.unsqueeze(-1).expand_as(self.src).to(self.src.dtype)
        return torch.cat([self.src, mask], dim=-1)


def repaint_inputs(source: Tensor, silence: Tensor, windows: Sequence[tuple[float, float] | None], *,
                   sample_rate: int = SAMPLE_RATE, hop: int = HOP) -> EditInputs:
    """The reference's ``_build_chunk_masks_and_src_latents`` for repaint items: ``source`` [B, T, C] clean
    latents, ``windows`` one ``(start_sec, end_sec)`` or None (keep the whole item: chunk mask all True) a item."""
    if source.dim() != 3:
        raise SamplerError(f"repaint source: shape {tuple(source.shape)}, expected [B, T, C]")
    b, frames, _ = source.shape
    if len(windows) != b:
        raise SamplerError(f"repaint: {len(windows)} windows for a batch of {b}")
    sil = silence_frames(silence, frames).to(source)[0]
    chunk = torch.ones(b, frames, dtype=torch.bool, device=source.device)
    repaint = torch.ones(b, frames, dtype=torch.bool, device=source.device)
    src = source.clone()
    spans: list[tuple[str, int, int]] = []
    any_window = False
    for i, w in enumerate(windows):
        if w is None:
            spans.append(("full", 0, frames))
            continue
        start, end = window_frames(w[0], w[1], frames, sample_rate=sample_rate, hop=hop)
        any_window = True
        chunk[i] = False
        chunk[i, start:end] = True
        repaint[i] = chunk[i]
        src[i, start:end] = sil[start:end]
        spans.append(("repainting", start, end))
    return EditInputs(chunk, src, repaint if any_window else None, spans)


def text2music_inputs(batch: int, frames: int, silence: Tensor) -> EditInputs:
    """No source: ``src = silence[:, :T]`` for every item, chunk mask all True, no repaint mask."""
    sil = silence_frames(silence, frames).expand(batch, -1, -1).clone()
    return EditInputs(torch.ones(batch, frames, dtype=torch.bool, device=sil.device), sil, None,
                      [("full", 0, frames)] * batch)


@dataclass
class ExtendPadding:
    """Zero samples to add to the source wave on each side, and the window in seconds of the padded wave."""

    left: int
    right: int
    start_sec: float
    end_sec: float


def extend_padding(src_samples: int, start_sec: float, end_sec: float | None, *,
                   sample_rate: int = SAMPLE_RATE) -> ExtendPadding:
    """The reference's ``prepare_padding_info`` for one repaint item: a window ending after the source right-pads
    the wave with ``int((end - src_seconds) * sample_rate)`` zeros (int truncation), a negative start left-pads it
    with ``int(-start * sample_rate)``; a missing or negative end means the source's end."""
    if src_samples < 1:
        raise SamplerError(f"extend: a source of {src_samples} samples")
    src_seconds = src_samples / float(sample_rate)
    end = src_seconds if end_sec is None or end_sec < 0 else end_sec
    left_sec = max(0, -start_sec)
    right_sec = max(0, end - src_seconds)
    return ExtendPadding(int(left_sec * sample_rate), int(right_sec * sample_rate), start_sec + left_sec,
                         end + left_sec)


def pad_wave(wave: Tensor, padding: ExtendPadding) -> Tensor:
    """``wave`` [..., samples] with ``padding.left`` / ``padding.right`` zeros."""
    if padding.left or padding.right:
        return torch.nn.functional.pad(wave, (padding.left, padding.right), "constant", 0)
    return wave
