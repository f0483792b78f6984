"""Loop clips: a loop's audio (a :class:`~engine.song.model.Take` record: its own prompt, backend, seed, bars and
bpm) placed at a bar of the song, and the one rule that keeps loops out of the song's takes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .model import Take


def is_loop_take(take: Take) -> bool:
    """Whether ``take`` is a loop's (or a bed's) audio rather than a take of the song: made by a Stable Audio backend
    (``songbridge loop``, the Loops panel, the DAW's make-loop), one "loop" or "bed" stem. The one rule that keeps
    loops out of every song-take query: a :class:`Song` moves such takes into its ``loops``."""
    return take.backend.startswith("stable-audio") or tuple(take.stems) in (("loop",), ("bed",))


@dataclass(frozen=True)
class Loop:
    """A loop clip: its audio and how it was made (``take``: its own prompt, backend, seed, bars and bpm in the
    take's params, its files in ``takes/<id>/``), placed at ``bar`` (1-based) of the song. It is never a song take:
    it changes neither the song's style nor its backend nor its base take, and no edit of the song starts from it."""

    take: Take
    bar: float = 1.0

    def __post_init__(self) -> None:
        bar = self.bar
        if not isinstance(bar, int | float) or isinstance(bar, bool) or not math.isfinite(bar) or bar < 1:
            raise ValueError(f"loop {self.take.id}: bar must be a number >= 1, got {bar!r}")
        object.__setattr__(self, "bar", float(bar))

    @property
    def id(self) -> str:
        return self.take.id

    @property
    def prompt(self) -> str:
        return str(self.take.params.get("prompt") or self.take.style.prompt or "loop")

    @property
    def backend(self) -> str:
        return self.take.backend

    @property
    def seed(self) -> int:
        return self.take.seed

    @property
    def bars(self) -> float | None:
        bars = self.take.params.get("bars")
        return float(bars) if isinstance(bars, int | float) and not isinstance(bars, bool) else None

    @property
    def bpm(self) -> float | None:
        bpm = self.take.params.get("bpm")
        return float(bpm) if isinstance(bpm, int | float) and not isinstance(bpm, bool) else None

    @property
    def duration_s(self) -> float:
        return self.take.duration_s

    @classmethod
    def of(cls, take: Take, bar: float | None = None) -> Loop:
        """The clip for a loop take: at ``bar``, else the bar it was asked for (its ``at_bar``), else bar 1."""
        if bar is None:
            asked = take.params.get("at_bar")
            ok = isinstance(asked, int | float) and not isinstance(asked, bool) and math.isfinite(asked)
            bar = float(asked) if ok and asked >= 1 else 1.0
        return cls(take, bar)


def put_loop(loops: tuple[Loop, ...], take: Take) -> tuple[Loop, ...]:
    """``take`` as a loop clip: in place of the loop with its id (at that loop's bar), else added at its bar."""
    if any(lp.id == take.id for lp in loops):
        return tuple(Loop(take, lp.bar) if lp.id == take.id else lp for lp in loops)
    return (*loops, Loop.of(take))


def split_loops(song: Any) -> None:
    """Loop takes given among a song's takes become its loop clips (the one rule: no song-take query sees a loop);
    nothing the song held is lost."""
    object.__setattr__(song, "loops", tuple(song.loops))
    if any(is_loop_take(t) for t in song.takes):
        loops = song.loops
        for t in song.takes:
            if is_loop_take(t):
                loops = put_loop(loops, t)
        object.__setattr__(song, "loops", loops)
        object.__setattr__(song, "takes", tuple(t for t in song.takes if not is_loop_take(t)))
