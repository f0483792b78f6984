"""The song -> ACE-Step's inputs (pure functions, no torch, no weights).

- The song's sections, in time order, become the lyric tags (``[Verse]``, ``[Chorus]``, ``[Pre-Chorus]``... from
  each section's kind), each followed by the lyric lines sung in it; a section without lines keeps its tag alone
  (an instrumental part); a song without words is ``[Instrumental]``.
- Its tempo, meter, key and length become the metadata fields (fixture README section 1: ``- bpm: 120`` ...,
  ``- timesignature: 4`` (beats per bar), ``- keyscale: A minor``, ``- duration: 30 seconds``, formatted by
  ``engine.nn.ace_step.prompts.metas_string``); its style prompt the caption; the language is read from the lyrics' script (default ``en``; ``unknown`` without words).
- A regeneration's time ranges become repaint windows in seconds on the source take, merged and clipped to it; a
  range past the source's end makes the job an extend (the source is padded with silence to the new end first);
  frames are ``int(seconds * 48000 // 1920)`` as the reference computes them (``frame_window``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.errors import SongBridgeError
from engine.song.key import Key
from engine.song.model import LyricLine, Section, TimeRange
from engine.song.tempo import TempoMap

#: section kinds whose tag differs from the kind title-cased (``"pre chorus"`` -> ``Pre-Chorus``)
TAGS = {"prechorus": "Pre-Chorus", "pre chorus": "Pre-Chorus", "pre-chorus": "Pre-Chorus",
        "postchorus": "Post-Chorus", "post chorus": "Post-Chorus", "post-chorus": "Post-Chorus",
        "inst": "Instrumental", "instrumental": "Instrumental", "section": "Verse", "refrain": "Chorus"}
INSTRUMENTAL = "[Instrumental]"
#: a window of the source shorter than this is widened to it (one latent frame is 40 ms)
MIN_WINDOW_S = 0.04


@dataclass(frozen=True)
class SongInputs:
    """What ACE-Step is given for a song: the caption, the tagged lyrics, their language, the metadata fields."""

    caption: str
    lyrics: str
    language: str
    metas: dict[str, Any] = field(default_factory=dict)  # engine.nn.ace_step.prompts.metas_string formats them


def section_tag(section: Section) -> str:
    """``[Verse]`` for "Verse 2", ``[Pre-Chorus]`` for "pre chorus", ``[Bridge]`` for "Bridge"."""
    kind = " ".join(section.kind.replace("_", " ").split())
    name = TAGS.get(kind) or "-".join(w.capitalize() for w in kind.split("-"))
    name = " ".join(w[:1].upper() + w[1:] for w in name.split(" "))
    return f"[{name.replace('[', '(').replace(']', ')')}]"


def _section_of(line: LyricLine, sections: Sequence[Section], ids: set[str]) -> str | None:
    if line.section_id in ids:
        return line.section_id
    if line.start_s is not None:
        for s in sections:
            if s.start_s - 1e-6 <= line.start_s < s.end_s:
                return s.id
    return None


def lyric_sheet(sections: Sequence[Section], lines: Sequence[LyricLine]) -> str:
    """The lyrics as ACE-Step reads them: a tag per section in time order with its lines under it, blank lines
    between sections. Lines are in sung order (timed by time; an untimed line after the line before it); a line
    in no section stays under the section above it (or at the top, untagged, before the first one)."""
    ordered_sections = sorted(sections, key=lambda s: s.start_s)
    ids = {s.id for s in ordered_sections}
    keyed, prev = [], -1.0
    for i, ln in enumerate(lines):
        if ln.start_s is not None:
            prev = ln.start_s
        keyed.append(((ln.start_s if ln.start_s is not None else prev, i), ln))
    sung = [ln for _, ln in sorted(keyed, key=lambda kv: kv[0]) if ln.text.strip()]
    if not sung:
        tags = [section_tag(s) for s in ordered_sections]
        return "\n\n".join(tags) if any(t != "[Verse]" for t in tags) else INSTRUMENTAL
    under: dict[str | None, list[str]] = {}
    current: str | None = None
    for ln in sung:
        sid = _section_of(ln, ordered_sections, ids)
        current = sid if sid is not None else current
        under.setdefault(current, []).append(" ".join(ln.text.split()))
    blocks = []
    if None in under:
        blocks.append("\n".join(under[None]))
    for s in ordered_sections:
        blocks.append("\n".join([section_tag(s), *under.get(s.id, [])]))
    return "\n\n".join(blocks)


_SCRIPTS = (("HANGUL", "ko"), ("HIRAGANA", "ja"), ("KATAKANA", "ja"), ("CJK", "zh"), ("CYRILLIC", "ru"),
            ("ARABIC", "ar"), ("HEBREW", "he"), ("DEVANAGARI", "hi"), ("THAI", "th"), ("GREEK", "el"))
#: a few frequent words that tell Latin-script languages apart (the lyrics' own words, no model)
_WORDS = {"es": {"el", "la", "que", "de", "y", "en", "mi", "tu", "corazón", "amor", "con", "por", "no", "es", "yo"},
          "fr": {"le", "la", "les", "et", "je", "tu", "de", "des", "est", "pas", "mon", "une", "dans", "qui", "nous"},
          "de": {"der", "die", "das", "und", "ich", "du", "nicht", "ist", "mein", "ein", "wir", "mit", "auf", "dich"},
          "it": {"il", "la", "che", "di", "e", "non", "io", "mi", "ti", "amore", "un", "per", "sono", "cuore"},
          "pt": {"o", "a", "que", "de", "e", "não", "eu", "meu", "você", "um", "uma", "com", "coração", "amor"},
          "en": {"the", "and", "i", "you", "to", "a", "my", "me", "in", "of", "is", "we", "it", "love", "your"}}


def detect_language(lines: Iterable[LyricLine]) -> str:
    """The lyrics' language as an ISO 639-1 code: the script of their letters (ko, ja, zh, ru ...), and for
    Latin letters the language whose frequent words they use most (en when none stands out); ``unknown`` when
    there are no words (an instrumental, as the reference marks it)."""
    text = " ".join(ln.text for ln in lines if ln.text.strip())
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return "unknown"
    counts: dict[str, int] = {}
    for c in letters:
        name = unicodedata.name(c, "")
        code = next((lang for script, lang in _SCRIPTS if script in name), "latin")
        counts[code] = counts.get(code, 0) + 1
    if counts.get("ja"):  # Japanese mixes kanji (CJK) with kana
        counts["ja"] += counts.pop("zh", 0)
    best = max(counts, key=lambda k: counts[k])
    if best != "latin":
        return best
    words = re.findall(r"[^\W\d_]+", text.lower())
    scores = {lang: sum(w in vocab for w in words) for lang, vocab in _WORDS.items()}
    top = max(scores, key=lambda k: (scores[k], k == "en"))
    return top if scores[top] > scores["en"] else "en"


def metas(tempo: TempoMap, key: Key | None, duration_s: float | None) -> dict[str, Any]:
    """The metadata fields: bpm (whole when it is), beats per bar, key, whole seconds."""
    bpm = tempo.bpm
    out: dict[str, Any] = {"bpm": int(round(bpm)) if abs(bpm - round(bpm)) < 1e-6 else round(bpm, 2),
                           "timesignature": str(tempo.meter.numerator),
                           "keyscale": str(key) if key is not None else None,
                           "duration": int(duration_s) if duration_s is not None else None}
    return out



def song_inputs(*, lyrics: Sequence[LyricLine], sections: Sequence[Section], style_prompt: str, tempo: TempoMap,
                key: Key | None, duration_s: float, caption: str | None = None,
                language: str | None = None) -> SongInputs:
    """Everything ACE-Step is told about the song. ``caption`` and ``language`` override the style and the
    detected language."""
    text = " ".join((caption if caption is not None else style_prompt).split())
    lang = language or detect_language(lyrics)
    return SongInputs(caption=text, lyrics=lyric_sheet(sections, lyrics), language=lang,
                      metas=metas(tempo, key, duration_s))


# -- edits ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EditWindows:
    """A regeneration on a source take: the windows to repaint (seconds, merged, in order, inside ``target_s``),
    the source's length and the length of the result (longer than the source: an extend)."""

    windows: tuple[tuple[float, float], ...]
    source_s: float
    target_s: float

    @property
    def task(self) -> str:
        return "extend" if self.target_s > self.source_s + 1e-9 else "repaint"

    @property
    def union(self) -> tuple[float, float]:
        return self.windows[0][0], self.windows[-1][1]


def edit_windows(ranges: Sequence[TimeRange], source_s: float, target_s: float | None = None) -> EditWindows:
    """The repaint windows for ``ranges`` of a ``source_s`` take: merged where they overlap or touch, clipped to
    the result's length (``target_s``: default the source's; a range past the source's end extends it to the
    range's end). Raises when nothing is left to regenerate."""
    if source_s <= 0:
        raise SongBridgeError("the take to edit has no audio")
    if not ranges:
        raise SongBridgeError("an edit needs at least one time range")
    end = max(r.end_s for r in ranges)
    target = max(source_s, end) if target_s is None else target_s
    spans = sorted((max(0.0, r.start_s), min(target, r.end_s)) for r in ranges)
    merged: list[list[float]] = []
    for a, b in spans:
        if b - a <= 0:
            continue
        if merged and a <= merged[-1][1] + 1e-9:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    if not merged:
        raise SongBridgeError(f"the edit ranges select nothing of the {source_s:.2f} s take")
    out = tuple((a, b if b - a >= MIN_WINDOW_S else min(target, a + MIN_WINDOW_S)) for a, b in merged)
    return EditWindows(out, float(source_s), float(target))


def frame_window(start_s: float, end_s: float, frames: int, sample_rate: int = 48000, hop: int = 1920
                 ) -> tuple[int, int]:
    """Latent frames [a, b) of a window, as the reference computes them: ``int(sec * sr // hop)`` for both ends,
    ``a`` clamped to [0, frames - 1] and ``b`` to [a + 1, frames]."""
    a = int(start_s * sample_rate // hop)
    b = int(end_s * sample_rate // hop)
    a = min(max(a, 0), frames - 1)
    b = min(max(b, a + 1), frames)
    return a, b


def chunk_mask(windows: Sequence[tuple[float, float]], frames: int, sample_rate: int = 48000, hop: int = 1920
               ) -> list[bool]:
    """True on every latent frame inside one of the windows (several windows: one job, one mask)."""
    mask = [False] * frames
    for s, e in windows:
        a, b = frame_window(s, e, frames, sample_rate, hop)
        for i in range(a, b):
            mask[i] = True
    return mask


def extend_padding(source_s: float, end_s: float, sample_rate: int = 48000) -> int:
    """Zero samples the reference appends to the source wave before encoding (``int((end - src) * sr)``)."""
    return max(0, int((end_s - source_s) * sample_rate))
