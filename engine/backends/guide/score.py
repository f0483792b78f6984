"""The guide's score: every sound of the drums, bass and keys as a note, before any audio.

The parts (:mod:`.parts`) write hits; :func:`render_hits` plays them into a stem, and :mod:`.midi` writes the same
hits as a Standard MIDI File, so the MIDI in the DAW is exactly what the guide's audio plays.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .instruments import add, drum, play

#: General MIDI percussion keys (channel 10) of the guide's drum sounds.
GM_DRUMS = {
    "kick": 36, "rim": 37, "snare": 38, "clap": 39, "hat": 42, "tom_lo": 45, "open_hat": 46, "crash": 49,
    "tom_hi": 50, "ride": 51, "tambourine": 54, "shaker": 70, "brush": 38,
}


@dataclass(frozen=True)
class Hit:
    """One sound: a drum one-shot (``sound`` a drum name, ``midi`` its GM key) or a note of a voice.

    Times in seconds from the song start; ``gain`` is the linear level it is mixed at, ``pan`` -1..1; ``layer``
    names an added part (the chorus pad) that the MIDI file gives its own track.
    """

    part: str  # drums | bass | keys
    start_s: float
    dur_s: float
    midi: int
    gain: float
    sound: str
    pan: float = 0.0
    max_s: float = 4.0
    release_s: float = 0.03
    layer: str = ""


def drum_hit(t: float, name: str, gain: float, pan: float = 0.0) -> Hit:
    return Hit("drums", t, 0.1, GM_DRUMS[name], gain, name, pan)


def render_hits(hits: Iterable[Hit], buf: np.ndarray) -> None:
    """Mix ``hits`` into channel-first stereo ``buf`` [2, n], in order (so the sum is the same every time)."""
    for h in hits:
        if h.part == "drums":
            add(buf, h.start_s, drum(h.sound), h.gain, h.pan)
        else:
            add(buf, h.start_s, play(h.sound, h.midi, h.dur_s, h.max_s, h.release_s), h.gain, h.pan)
