"""The realtime side of the player without a device: the ring buffer and the callback's allocations."""

from __future__ import annotations

import tracemalloc

import numpy as np

from engine.audio.player import Player
from engine.audio.ring import Ring


def test_ring_wraps_and_flushes() -> None:
    ring = Ring(8)
    assert ring.write(np.arange(12, dtype=np.float32)[:, None].repeat(2, 1), np.arange(12)) == 8
    out = np.zeros((5, 2), np.float32)
    assert ring.read_into(out) == 5 and out[:, 0].tolist() == [0, 1, 2, 3, 4]
    assert ring.write(np.full((6, 2), 9, np.float32), np.arange(100, 106)) == 5  # wraps around
    assert ring.played_position == 4  # kept even though its slot was overwritten
    ring.request_flush()
    assert ring.read_into(out) == 0  # everything written before the flush is skipped
    ring.write(np.full((3, 2), 7, np.float32), np.arange(50, 53))
    assert ring.read_into(out) == 3 and out[:3, 0].tolist() == [7, 7, 7] and ring.played_position == 52


def test_the_callback_allocates_nothing_that_grows_with_the_block() -> None:
    player = Player()
    player.ring = Ring(1 << 16)
    player.ring.write(np.ones((1 << 15, 2), np.float32), np.arange(1 << 15))

    class Status:
        output_underflow = False

    def run(frames: int, times: int) -> int:
        out = np.zeros((frames, 2), np.float32)
        tracemalloc.start()
        for _ in range(times):
            player._callback(out, frames, None, Status)
            player.ring.read = 0  # keep data available
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return peak

    small, large = run(64, 50), run(4096, 50)
    assert large < 4096, f"the callback allocated {large} bytes at 4096-frame blocks"
    assert large - small < 1024, f"allocation grows with the block: {small} -> {large} bytes"
