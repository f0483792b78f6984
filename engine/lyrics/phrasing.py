"""How much time a sung line needs at a tempo: the one rule that sizes sections, places and warns about lines.

A syllable is sung on an eighth note (as the guide vocal sings untimed words) and the line's last syllable is held
for a beat before the next line breathes in. So a line of ``n`` syllables needs ``n/2 + 1`` quarter notes, and it
is *squeezed* when its slot is shorter than ``n`` eighth notes (its syllables must then come faster than eighths).
Sections made from lyrics give each line the whole bars it needs; auto-timing warns when a line is squeezed; both
use these functions, so a section that was sized for its lines never warns.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from engine.song.model import LyricLine, Section
from engine.song.tempo import TempoMap

#: Quarter notes per sung syllable (an eighth note).
SYLLABLE_QUARTERS = 0.5
#: Quarter notes the last syllable is held, with the breath before the next line.
HOLD_QUARTERS = 1.0


def line_quarters(syllables: int) -> float:
    """Quarter notes a line of ``syllables`` needs, held end included; 0 for a break (no syllables)."""
    return 0.0 if syllables <= 0 else syllables * SYLLABLE_QUARTERS + HOLD_QUARTERS


def line_bars(syllables: int, tempo: TempoMap) -> int:
    """Whole bars a line of ``syllables`` needs in ``tempo``'s first meter (at least 1; a break takes 1)."""
    return max(1, math.ceil(line_quarters(syllables) / tempo.meter.bar_quarters - 1e-9))


def squeezed(syllables: int, slot_quarters: float) -> bool:
    """True when ``syllables`` cannot be sung on eighths within ``slot_quarters`` quarter notes."""
    return syllables * SYLLABLE_QUARTERS > slot_quarters + 1e-9


def squeeze_message(where: str, bars: float, texts: list[str], need: int, how: str = "") -> str:
    """The one sentence for a section whose lines need more bars than it has (auto-timed or timed by hand)."""
    def quote(t: str) -> str:
        return repr(t if len(t) <= 40 else t[:37] + "...")

    span = f"line {quote(texts[0])}" if len(texts) == 1 else f"lines {quote(texts[0])} to {quote(texts[-1])}"
    return (f"{where} ({round(bars, 2):g} bars) has {len(texts)} line{'s' if len(texts) != 1 else ''} that need "
            f"about {need} bars: {'they are' if len(texts) != 1 else 'it is'} squeezed{' ' + how if how else ''}, "
            f"faster than eighth notes ({span})")


def crowded_sections(lines: Sequence[LyricLine], tempo: TempoMap, sections: Sequence[Section],
                     syllables: Callable[[str], int]) -> list[str]:
    """A :func:`squeeze_message` for each section whose timed, sung ``lines`` need more bars than it has."""
    out = []
    for s in sorted(sections, key=lambda s: s.start_s):
        inside = [ln for ln in lines if ln.start_s is not None and ln.text.strip()
                  and s.start_s - 1e-6 <= ln.start_s < s.end_s - 1e-6]
        if not inside:
            continue
        bars = tempo.seconds_to_bars(s.end_s) - tempo.seconds_to_bars(s.start_s)
        need = sum(line_bars(syllables(ln.text), tempo) for ln in inside)
        if need > bars + 1e-6:
            out.append(squeeze_message(s.name, bars, [ln.text for ln in inside], need))
    return out
