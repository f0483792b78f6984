"""The guide renderer's style table: style words -> groove, instrument palette and tempo.

Matching is by keywords in the style prompt (first match in table order wins); anything else gets the default
palette. Progressions are scale-degree indices (0 = I/i) per section role, for major-like and minor-like modes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class GuideStyle:
    name: str
    keywords: tuple[str, ...]
    bpm: float
    kit: str  # drum kit and groove: pop | rock | brush | boombap | four_floor | folk | jazz
    bass: str  # bass voice: finger | pick | sub | upright
    bass_pattern: str  # roots | eighths | whole | syncopated | offbeat | root_fifth | walking
    keys: str  # piano | pad | rhodes | guitar | organ
    keys_pattern: str  # sustain | stabs | arpeggio | strum | comp | pulse
    swing: float = 0.0  # 0 = straight; 0.33 = triplet swing of the off-beat
    sevenths: bool = False
    major: dict[str, tuple[int, ...]] | None = None
    minor: dict[str, tuple[int, ...]] | None = None


_MAJOR = {"verse": (5, 3, 0, 4), "chorus": (0, 4, 5, 3), "bridge": (3, 4, 5, 4), "intro": (0, 4, 5, 3)}
_MINOR = {"verse": (0, 5, 2, 6), "chorus": (5, 6, 0, 0), "bridge": (3, 5, 6, 4), "intro": (0, 5, 2, 6)}

STYLES: tuple[GuideStyle, ...] = (
    GuideStyle("jazz", ("jazz", "swing", "bebop", "lounge", "bossa"), 126, "jazz", "upright", "walking",
               "rhodes", "comp", swing=0.33, sevenths=True,
               major={"verse": (1, 4, 0, 5), "chorus": (1, 4, 0, 0), "bridge": (3, 6, 2, 5), "intro": (1, 4, 0, 5)},
               minor={"verse": (3, 6, 0, 0), "chorus": (1, 4, 0, 5), "bridge": (5, 1, 4, 0), "intro": (3, 6, 0, 0)}),
    GuideStyle("hip hop", ("hip hop", "hip-hop", "hiphop", "rap", "trap", "boom bap", "lofi", "lo-fi", "r&b", "rnb"),
               88, "boombap", "sub", "syncopated", "rhodes", "sustain", swing=0.2, sevenths=True),
    GuideStyle("electronic", ("edm", "electronic", "dance", "house", "techno", "trance", "synthwave", "synth",
                              "disco", "club", "electro"), 124, "four_floor", "sub", "offbeat", "pad", "pulse"),
    GuideStyle("rock", ("rock", "punk", "grunge", "metal", "indie rock", "alternative", "garage"), 132, "rock",
               "pick", "eighths", "guitar", "strum",
               major={"verse": (0, 3, 4, 3), "chorus": (0, 4, 5, 3), "bridge": (5, 3, 0, 4), "intro": (0, 3, 4, 3)},
               minor={"verse": (0, 6, 5, 6), "chorus": (0, 5, 2, 6), "bridge": (3, 4, 5, 6), "intro": (0, 6, 5, 6)}),
    GuideStyle("ballad", ("ballad", "slow", "piano ballad", "soul", "emotional", "sad", "cinematic"), 72, "brush",
               "finger", "whole", "piano", "arpeggio",
               major={"verse": (0, 5, 3, 4), "chorus": (3, 4, 0, 5), "bridge": (5, 3, 0, 4), "intro": (0, 5, 3, 4)}),
    GuideStyle("folk", ("folk", "acoustic", "country", "americana", "singer-songwriter", "bluegrass"), 100, "folk",
               "finger", "root_fifth", "guitar", "strum",
               major={"verse": (0, 3, 0, 4), "chorus": (3, 0, 4, 0), "bridge": (5, 3, 0, 4), "intro": (0, 3, 0, 4)}),
    GuideStyle("pop", ("pop", "dance-pop", "k-pop", "kpop", "radio", "catchy"), 110, "pop", "finger", "roots",
               "piano", "stabs"),
)
DEFAULT = GuideStyle("default", (), 100, "pop", "finger", "roots", "piano", "sustain")


def match_style(prompt: str) -> GuideStyle:
    """The first style whose keyword appears as a word in ``prompt``; else the default."""
    text = " " + re.sub(r"[^a-z0-9&+-]+", " ", prompt.lower()) + " "
    for style in STYLES:
        if any(f" {k} " in text for k in style.keywords):
            return style
    return DEFAULT


def progression(style: GuideStyle, minor: bool, role: str) -> tuple[int, ...]:
    table = (style.minor if minor else style.major) or (_MINOR if minor else _MAJOR)
    base = _MINOR if minor else _MAJOR
    return table.get(role) or base.get(role) or base["verse"]
