"""Between LRC documents and the song document's lyric lines.

A section header in the lyrics (``[verse]``, ``[Chorus 2]``) names a *kind* of section and, optionally, which
one. The song's sections are numbered ("Verse 1", "Verse 2"), so headers are matched by kind, in order:

- ``[Verse 2]`` (a number) -> the section named "Verse 2" when there is one (and no earlier header took it), else
  the second verse of the song;
- ``[verse]`` (no number) -> the next verse after the section the previous header went to, so ``[verse]`` twice
  -> Verse 1, Verse 2, and ``[chorus]`` after the second verse -> the chorus after it;
- a header that matches no section (no bridge in the song, a third verse of two) keeps its lines unassigned,
  with a warning naming the line and the header; auto-timing then places them with the lines that have no header.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from engine.song.model import LyricLine, Section, WordTime

from .lrc import LrcDocument, LrcLine, LrcWord

#: header kind -> kinds to try when the song has no section of that kind
ALIASES = {"hook": ("chorus",), "refrain": ("chorus",), "chorus": ("hook", "refrain"), "inst": ("instrumental",),
           "instrumental": ("inst", "solo"), "end": ("outro", "ending"), "ending": ("outro",),
           "outro": ("ending", "end")}


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def split_header(header: str) -> tuple[str, int | None]:
    """``"Verse 2"`` -> ``("verse", 2)``; ``"pre-chorus"`` -> ``("prechorus", None)``."""
    m = re.fullmatch(r"\s*(.*?)[\s_-]*(\d+)?\s*", header)
    assert m is not None  # the pattern matches any string
    kind = _norm(m.group(1)) or _norm(header)
    return kind, (int(m.group(2)) if m.group(2) and m.group(1).strip() else None)


def _describe(ln: LrcLine) -> str:
    text = ln.text if len(ln.text) <= 40 else ln.text[:37] + "..."
    return f"line {ln.source_line} ({text!r})" if ln.source_line else repr(text)


def _header_order(doc: LrcDocument) -> list[LrcLine]:
    """The first line of each header's block, in the lines' order, with a stand-in (``source_line`` -1) for each
    header that has no lines (``[solo]``) right after the block before it: such a header still takes its section,
    so the headers after it find theirs."""
    firsts: list[LrcLine] = []
    seen: set[int] = set()
    for ln in doc.lines:
        if ln.block not in seen:
            seen.add(ln.block)
            firsts.append(ln)
    for h in sorted(doc.headers, key=lambda h: h.block):
        if h.block in seen:
            continue
        seen.add(h.block)
        at = max((i + 1 for i, ln in enumerate(firsts) if ln.block < h.block), default=0)
        firsts.insert(at, LrcLine(None, "", (), h.name, -1, h.block))
    return firsts


def match_headers(doc: LrcDocument, sections: Sequence[Section],
                  warnings: list[str] | None = None) -> dict[int, str | None]:
    """Header block number -> section id (None: no section matches; a warning says why)."""
    ordered = sorted(sections, key=lambda s: s.start_s)
    kinds = [_norm(s.kind) for s in ordered]
    out: dict[int, str | None] = {}
    if not ordered:
        headers = list(dict.fromkeys(f"[{ln.section}]" for ln in doc.lines if ln.section))
        if headers and warnings is not None:
            shown = ", ".join(headers[:4]) + (" ..." if len(headers) > 4 else "")
            warnings.append(f"the lyrics name sections ({shown}) but the song has none: give --sections (e.g. "
                            "\"intro:4,verse:16,chorus:8\") to place their lines in them")
        return {ln.block: None for ln in doc.lines}
    cursor = -1  # index (in time order) of the section the previous header went to
    taken: set[int] = set()  # sections an earlier header went to
    for ln in _header_order(doc):
        if ln.block in out or not ln.section:
            continue
        kind, number = split_header(ln.section)
        # A section named as the header is written ("[Verse 3]" -> "Verse 3") is the one, while it is free.
        named_all = [i for i, s in enumerate(ordered) if _norm(s.name) == _norm(ln.section)]
        named = [i for i in named_all if i not in taken]
        if number is not None and named:
            out[ln.block] = ordered[named[0]].id
            cursor = named[0]
            taken.add(named[0])
            continue
        if number is not None and named_all:
            number = None  # "[Chorus 1]" written again: the chorus sung again, the next one
        candidates = [i for i, k in enumerate(kinds) if k == kind]
        for alias in ALIASES.get(kind, ()):
            if candidates:
                break
            candidates = [i for i, k in enumerate(kinds) if k == alias]
        target: int | None = None
        why = ""
        if not candidates:
            names = ", ".join(s.name for s in ordered) or "none"
            why = f"the song has no {kind} section (its sections: {names})"
        elif number is not None:
            if number <= len(candidates) and number >= 1:
                target = candidates[number - 1]
                later = [i for i in candidates if i > cursor and i not in taken]
                if target in taken and later:  # "[Chorus 1]" written again: the chorus is sung again, later
                    target = later[0]
            else:
                why = f"the song has {len(candidates)} {kind} section(s)"
        else:
            later = [i for i in candidates if i > cursor]
            if later:
                target = later[0]
            else:
                after = ordered[cursor].name if cursor >= 0 else "the start"
                why = f"no {kind} section is left after {after}"
        if target is None:
            out[ln.block] = None
            if warnings is not None and ln.source_line >= 0:
                warnings.append(f"{_describe(ln)}: header [{ln.section}] matches no section ({why}); its lines "
                                "are placed with the lines that have no header")
        else:
            out[ln.block] = ordered[target].id
            cursor = target
            taken.add(target)
    return out


def lines_from_lrc(doc: LrcDocument, sections: Sequence[Section] = (),
                   warnings: list[str] | None = None) -> list[LyricLine]:
    """Lyric lines with ids ``l001``...; LRC section headers are matched to song sections (see the module)."""
    blocks = match_headers(doc, sections, warnings)
    kinds = {s.id: _norm(s.kind) for s in sections}
    out = []
    for i, ln in enumerate(doc.lines, 1):
        words = tuple(
            WordTime(w.start_ms / 1000, w.text, None if w.end_ms is None else w.end_ms / 1000) for w in ln.words
        )
        sid = blocks.get(ln.block)
        if sid is not None and ln.time_s is not None:
            # A line stamped twice ([00:30.00][01:10.00], a chorus sung again) belongs, each time, to the section
            # of its header's kind that it is sung in.
            inside = [s.id for s in sections if s.start_s - 1e-6 <= ln.time_s < s.end_s - 1e-6]
            if inside and sid not in inside:
                sid = next((x for x in inside if kinds[x] == kinds[sid]), sid)
        out.append(LyricLine(f"l{i:03d}", ln.text, ln.time_s, None, words, sid))
    return out


def lrc_from_lines(lines: Sequence[LyricLine], sections: Sequence[Section] = (),
                   meta: dict[str, str] | None = None) -> LrcDocument:
    """An LRC document for lines (timed ones in time order, then untimed), with section headers."""
    names = {s.id: s.name for s in sections}
    ordered = sorted((ln for ln in lines if ln.start_s is not None), key=lambda ln: ln.start_s or 0.0)
    ordered += [ln for ln in lines if ln.start_s is None]
    doc = LrcDocument(meta=dict(meta or {}))
    block, current = 0, None
    for ln in ordered:
        name = names.get(ln.section_id or "")
        if name and name != current:
            block += 1
        current = name
        words = tuple(
            LrcWord(round(w.start_s * 1000), w.text,
                    None if w.end_s is None else round(w.end_s * 1000))
            for w in ln.words
        )
        doc.lines.append(LrcLine(None if ln.start_s is None else round(ln.start_s * 1000), ln.text, words,
                                 name, 0, block if name else 0))
    return doc
