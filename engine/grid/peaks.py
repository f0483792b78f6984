"""Beat This!'s "minimal" post-processing: framewise logits -> beat and downbeat times (docs/reference/fixtures/beat-this.md
§4.5). A frame is a beat when it is the maximum of its ±3-frame window and its logit is above 0; adjacent peaks
merge into their running mean; downbeats snap to the nearest beat. numpy only."""

from __future__ import annotations

import numpy as np

FPS = 50
WINDOW = 7  # frames: ±60 ms


def peak_frames(logits: np.ndarray) -> np.ndarray:
    """Frame indices where ``logits`` [T] equals its ±3-frame maximum (``-inf`` beyond the ends) and is > 0."""
    x = np.asarray(logits, dtype=np.float32)
    if x.size == 0:
        return np.zeros(0, dtype=np.int64)
    half = WINDOW // 2
    padded = np.concatenate([np.full(half, -np.inf, np.float32), x, np.full(half, -np.inf, np.float32)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, WINDOW)
    return np.flatnonzero((x == windows.max(axis=1)) & (x > 0))


def merge_adjacent(frames: np.ndarray, width: int = 1) -> np.ndarray:
    """Runs of peaks within ``width`` frames of the running mean of their group become that mean:
    [3, 4] -> [3.5]; [3, 4, 5] -> [3.5, 5]."""
    out: list[float] = []
    it = iter(int(f) for f in frames)
    try:
        p: float = next(it)
    except StopIteration:
        return np.zeros(0, dtype=np.float64)
    count = 1
    for q in it:
        if q - p <= width:
            count += 1
            p += (q - p) / count
        else:
            out.append(p)
            p, count = q, 1
    out.append(p)
    return np.asarray(out, dtype=np.float64)


def snap_to_beats(downbeats: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """Each downbeat moved to its nearest beat (ties to the earlier), then sorted and unique; unchanged when there
    are no beats."""
    if beats.size == 0 or downbeats.size == 0:
        return downbeats
    nearest = np.argmin(np.abs(downbeats[:, None] - beats[None, :]), axis=1)
    return np.unique(beats[nearest])


def beats_from_logits(beat: np.ndarray, downbeat: np.ndarray, valid: np.ndarray | None = None,
                      fps: int = FPS) -> tuple[np.ndarray, np.ndarray]:
    """beat, downbeat logits [T] (and a validity mask [T], True = real frame) -> (beat times, downbeat times) in
    seconds, float64."""
    b = np.asarray(beat, dtype=np.float32).copy()
    d = np.asarray(downbeat, dtype=np.float32).copy()
    if valid is not None:
        b[~valid] = -1000.0
        d[~valid] = -1000.0
    keep = np.ones(b.shape, bool) if valid is None else np.asarray(valid, bool)
    index = np.cumsum(keep) - 1  # position of each frame among the valid ones
    bf = index[peak_frames(b)[keep[peak_frames(b)]]] if b.size else np.zeros(0, np.int64)
    df = index[peak_frames(d)[keep[peak_frames(d)]]] if d.size else np.zeros(0, np.int64)
    beats = merge_adjacent(bf) / fps
    downbeats = merge_adjacent(df) / fps
    return beats, snap_to_beats(downbeats, beats)


def beat_numbers(beats: np.ndarray, downbeats: np.ndarray) -> np.ndarray:
    """Each beat's position in its bar (1 = downbeat), as ``.beats`` files number them: the bar length is the
    number of beats between the first two downbeats, pickup beats count back from it; with fewer than two
    downbeats the count starts at 2 (beat_this.utils.infer_beat_numbers)."""
    beats = np.asarray(beats, dtype=np.float64)
    if beats.size == 0:
        return np.zeros(0, dtype=np.int64)
    is_down = np.isin(beats, downbeats)
    firsts = np.flatnonzero(is_down)
    counter = 1
    if firsts.size >= 2:
        bar, pickup = int(firsts[1] - firsts[0]), int(firsts[0])
        counter = bar - pickup if pickup < bar else 1
    out = np.empty(beats.size, dtype=np.int64)
    for i in range(beats.size):
        counter = 1 if is_down[i] else counter + 1
        out[i] = counter
    return out
