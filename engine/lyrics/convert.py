"""Between LRC documents and the song document's lyric lines."""

from __future__ import annotations

import re
from collections.abc import Sequence

from engine.song.model import LyricLine, Section, WordTime

from .lrc import LrcDocument, LrcLine, LrcWord


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def lines_from_lrc(doc: LrcDocument, sections: Sequence[Section] = ()) -> list[LyricLine]:
    """Lyric lines with ids ``l001``...; an LRC section header is matched to a song section by name."""
    by_name = {_norm(s.name): s.id for s in sections}
    out = []
    for i, ln in enumerate(doc.lines, 1):
        words = tuple(
            WordTime(w.start_ms / 1000, w.text, None if w.end_ms is None else w.end_ms / 1000) for w in ln.words
        )
        section_id = by_name.get(_norm(ln.section)) if ln.section else None
        out.append(LyricLine(f"l{i:03d}", ln.text, ln.time_s, None, words, section_id))
    return out


def lrc_from_lines(lines: Sequence[LyricLine], sections: Sequence[Section] = (),
                   meta: dict[str, str] | None = None) -> LrcDocument:
    """An LRC document for lines (timed ones in time order, then untimed), with section headers."""
    names = {s.id: s.name for s in sections}
    ordered = sorted((ln for ln in lines if ln.start_s is not None), key=lambda ln: ln.start_s or 0.0)
    ordered += [ln for ln in lines if ln.start_s is None]
    doc = LrcDocument(meta=dict(meta or {}))
    for ln in ordered:
        words = tuple(
            LrcWord(round(w.start_s * 1000), w.text,
                    None if w.end_s is None else round(w.end_s * 1000))
            for w in ln.words
        )
        doc.lines.append(LrcLine(None if ln.start_s is None else round(ln.start_s * 1000), ln.text, words,
                                 names.get(ln.section_id or ""), 0))
    return doc
