"""Words and syllables of a lyric line in time, for the word view: the line's own word stamps (an enhanced LRC, a
forced alignment), or an estimate that spreads its words over the line by syllables; and moving one word.

Syllables are split by spelling (vowel groups; of the consonants between two, the last starts the second, a digraph
such as "sh" stays with the first), which is what a lyric sheet shows ("shi·ver", "num·ber", "wash·ing"), not a
phonetic analysis. Times are seconds.
"""

from __future__ import annotations

import re
from dataclasses import replace

from .model import LyricLine, Song, WordTime

_VOWELS = "aeiouy"
_GROUP = re.compile(r"[aeiouy]+", re.IGNORECASE)
MIN_WORD_S = 0.02
_DIGRAPHS = {"sh", "ch", "th", "ng", "ck", "ph", "wh", "gh"}


def syllables(word: str) -> list[str]:
    """``"shiver"`` -> ``["shi", "ver"]``; a word of one vowel group (or none) is one syllable."""
    groups = list(_GROUP.finditer(word))
    # a silent final e ("store", "make") is no syllable of its own; "the", "be" keep theirs
    if (len(groups) > 1 and groups[-1].group().lower() == "e" and groups[-1].end() >= len(word.rstrip(".,!?;:'\""))
            and not word.lower().rstrip(".,!?;:'\"").endswith(("le", "ee"))):
        groups = groups[:-1]
    if len(groups) < 2:
        return [word]
    cuts = []
    for a, b in zip(groups, groups[1:], strict=False):
        cluster = word[a.end():b.start()].lower()
        if cluster in _DIGRAPHS:  # one sound: it closes the syllable before ("wash·ing", "moth·er")
            cuts.append(b.start())
        elif b is groups[-1] and re.search(r"[^aeiouy]le$", word.lower()):  # "ta·ble", "lit·tle"
            cuts.append(len(word) - 3)
        else:  # V-CV ("me·mo·ry"), VC-CV ("num·ber"), VCC-CV ("heart·beat")
            cuts.append(a.end() if len(cluster) <= 1 else b.start() - 1)
    parts, last = [], 0
    for c in cuts:
        parts.append(word[last:c])
        last = c
    parts.append(word[last:])
    return [p for p in parts if p]


def _weight(word: str) -> int:
    return max(1, len(syllables(word)))


def estimated_words(line: LyricLine, end_s: float) -> tuple[WordTime, ...]:
    """The line's words spread from its start to ``end_s`` by syllables (each word's end is the next's start)."""
    words = line.text.split()
    if line.start_s is None or not words:
        return ()
    span = max(MIN_WORD_S * len(words), end_s - line.start_s)
    total = sum(_weight(w) for w in words)
    out, t = [], line.start_s
    for w in words:
        d = span * _weight(w) / total
        out.append(WordTime(round(t, 4), w, round(t + d, 4)))
        t += d
    return tuple(out)


def words_of(line: LyricLine, end_s: float) -> tuple[tuple[WordTime, ...], bool]:
    """(the words in time, whether they are the line's own stamps) for the word view."""
    return (line.words, True) if line.words else (estimated_words(line, end_s), False)


def move_word(song: Song, line_id: str, index: int, start_s: float, end_s: float) -> Song:
    """Word ``index`` of a line starts at ``start_s``, kept between its neighbours (a line without word stamps gets
    the estimated ones first, ending at ``end_s``). Moving the first word moves the line's start with it."""
    line = next(ln for ln in song.lyrics if ln.id == line_id)
    words, _own = words_of(line, end_s)
    if not 0 <= index < len(words):
        raise ValueError(f"line {line_id} has no word {index + 1}")
    lo = words[index - 1].start_s + MIN_WORD_S if index > 0 else 0.0
    nxt = words[index + 1].start_s if index + 1 < len(words) else max(end_s, words[index].start_s + MIN_WORD_S)
    t = min(max(lo, start_s), nxt - MIN_WORD_S)
    moved = list(words)
    w = words[index]
    moved[index] = replace(w, start_s=t, end_s=None if w.end_s is None else max(t + MIN_WORD_S, w.end_s))
    if index > 0 and words[index - 1].end_s is not None:
        moved[index - 1] = replace(words[index - 1], end_s=t)
    new = replace(line, words=tuple(moved), start_s=t if index == 0 else line.start_s)
    if new.end_s is not None and new.start_s is not None and new.end_s < new.start_s:
        new = replace(new, end_s=None)
    return song.with_lyrics(new if ln.id == line_id else ln for ln in song.lyrics)
