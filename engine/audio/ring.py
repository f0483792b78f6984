"""A single-producer / single-consumer ring buffer for the audio callback.

Everything is preallocated. The producer (the feeder thread) owns the write count, the consumer (the PortAudio
callback) owns the read count; each only reads the other's count, so no lock is needed. Counts only grow; the
storage index is ``count % size``. Beside the audio, the ring stores each frame's song position (in samples, -1
for silence), so the callback can report the playhead without any arithmetic on the feeder's state.
"""

from __future__ import annotations

import numpy as np


class Ring:
    def __init__(self, frames: int, channels: int = 2):
        self.size = int(frames)
        self.audio = np.zeros((self.size, channels), dtype=np.float32)
        self.positions = np.full(self.size, -1, dtype=np.int64)
        self.written = 0  # producer-owned
        self.read = 0  # consumer-owned
        self.flush_to = -1  # producer asks the consumer to skip to this count (seek, stop, A/B jump)
        self.played = np.full(1, -1, dtype=np.int64)  # song position of the last frame read (consumer-written)

    # -- producer side ----------------------------------------------------------------------------------------
    def writable(self) -> int:
        return self.size - (self.written - self.read)

    def write(self, audio: np.ndarray, positions: np.ndarray) -> int:
        """Copy as many frames as fit; returns how many were written."""
        n = min(len(audio), self.writable())
        if n <= 0:
            return 0
        start = self.written % self.size
        first = min(n, self.size - start)
        self.audio[start:start + first] = audio[:first]
        self.positions[start:start + first] = positions[:first]
        if n > first:
            self.audio[: n - first] = audio[first:n]
            self.positions[: n - first] = positions[first:n]
        self.written += n  # publish after the data is in place
        return n

    def request_flush(self) -> None:
        """Drop everything written so far: the consumer jumps to the current write count."""
        self.flush_to = self.written

    # -- consumer side (the audio callback: copies only) ---------------------------------------------------------
    def readable(self) -> int:
        return self.written - self.read

    def read_into(self, out: np.ndarray) -> int:
        """Copy up to ``len(out)`` frames into ``out``; returns the count (the caller zero-fills the rest)."""
        if self.flush_to >= 0:
            if self.flush_to > self.read:
                self.read = self.flush_to
            self.flush_to = -1
        n = min(len(out), self.written - self.read)
        if n <= 0:
            return 0
        start = self.read % self.size
        first = min(n, self.size - start)
        out[:first] = self.audio[start:start + first]
        if n > first:
            out[first:n] = self.audio[: n - first]
        self.played[0] = self.positions[(self.read + n - 1) % self.size]
        self.read += n
        return n

    @property
    def played_position(self) -> int:
        """Song position (samples) of the last frame handed to the device (-1: silence or nothing yet)."""
        return int(self.played[0])
