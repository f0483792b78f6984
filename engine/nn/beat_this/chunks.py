"""Beat This!'s chunked inference (``split_predict_aggregate``): how a spectrogram of any length goes through a
model trained on 1500-frame chunks (docs/reference/fixtures/beat-this.md §4.4).

Chunks start every ``chunk - 2 border`` frames from ``-border``; when the piece is longer than one step the last
start moves to ``L - (chunk - border)`` so that chunk ends at the piece's end; each chunk is zero-padded where it
leaves the piece (on the right by at most ``border``), run alone (positions restart at 0), and its borders are
dropped. Overlaps are cut hard: ``keep_first`` lets earlier chunks win.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

CHUNK = 1500
BORDER = 6


def split_starts(length: int, chunk: int = CHUNK, border: int = BORDER) -> list[int]:
    step = chunk - 2 * border
    starts = list(range(-border, length - border, step))
    if length > step:
        starts[-1] = length - (chunk - border)
    return starts


def predict_chunked(model: Callable[[Tensor], tuple[Tensor, Tensor]], spect: Tensor, chunk: int = CHUNK,
                    border: int = BORDER, overlap: str = "keep_first",
                    should_stop: Callable[[], bool] | None = None) -> tuple[Tensor, Tensor]:
    """spect [T, mels] -> (beat [T], downbeat [T]) logits; ``should_stop`` is asked between chunks."""
    if overlap not in ("keep_first", "keep_last"):
        raise ValueError(f"overlap {overlap!r}: keep_first or keep_last")
    length = spect.shape[0]
    starts = split_starts(length, chunk, border)
    out = torch.full((2, length), -1000.0, dtype=torch.float32, device=spect.device)
    pieces = []
    for s in starts:
        if should_stop is not None and should_stop():
            raise InterruptedError("stopped between chunks")
        src = spect[max(s, 0):min(s + chunk, length)]
        right = max(0, min(border, s + chunk - length))
        x = F.pad(src, (0, 0, max(0, -s), right))
        beat, downbeat = model(x.unsqueeze(0))
        pieces.append((s, torch.stack([beat[0], downbeat[0]]).float()))
    if overlap == "keep_first":
        pieces.reverse()
    for s, y in pieces:
        keep = y[:, border:-border]
        lo = s + border
        hi = min(lo + keep.shape[1], length)
        out[:, lo:hi] = keep[:, : hi - lo]
    return out[0], out[1]
