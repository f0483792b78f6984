"""The lyric sheet: a song's lyrics as plain text with section headers, and that text read back as an edit.

The sheet lists the sung lines in time order (an untimed line stays after the line it was written after), with a
``[Section name]`` row where the section changes. Reading an edited sheet compares its rows with the lines they
came from (a diff of the texts), so a line whose text changed keeps its id, times and section; a new row is a new
untimed line (placed later by auto-timing, tapping or dragging); a removed row removes its line. A line moved under
another header goes to that section; a header that names no section leaves its lines in none, with a warning.
Blank rows are spacing, and instrumental breaks (lines without text) are not shown and are kept.

Also the song's lyrics as an LRC file and back (``[ti:]``, ``[ar:]``, section headers and word stamps kept).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, replace

from engine.song.model import LyricLine, Song, SongInfo, new_id

from .convert import lines_from_lrc, lrc_from_lines, split_header
from .lrc import LrcDocument
from .lrc import format as format_lrc

_HEADER = re.compile(r"^\s*\[([^\[\]]*)\]\s*$")


@dataclass(frozen=True)
class Row:
    kind: str  # header | line | blank
    text: str
    line_id: str | None = None


@dataclass(frozen=True)
class SheetRead:
    """What an edited sheet means: the song with its lyrics as the sheet says, the line each text row stands
    for (None for headers and blank rows), and sentences about what could not be followed."""

    song: Song
    row_ids: list[str | None]
    warnings: list[str] = field(default_factory=list)


def _norm(name: str | None) -> str:
    return " ".join((name or "").lower().split())


def sheet_order(song: Song) -> list[LyricLine]:
    """The sung lines in sheet order: timed lines by time, each untimed line after the line before it."""
    keyed, prev = [], -1.0
    for i, ln in enumerate(song.lyrics):
        if ln.start_s is not None:
            prev = ln.start_s
        keyed.append(((ln.start_s if ln.start_s is not None else prev, i), ln))
    return [ln for _, ln in sorted(keyed, key=lambda kv: kv[0]) if ln.text.strip()]


def headers(song: Song, ordered: list[LyricLine]) -> dict[str, str | None]:
    """The section name each line stands under: its section's, else the one its start falls in, else the one
    above it (so a line in no section never needs a header of its own)."""
    names = {s.id: s.name for s in song.sections}
    out: dict[str, str | None] = {}
    current: str | None = None
    for ln in ordered:
        name = names.get(ln.section_id or "")
        if name is None and ln.section_id is None and ln.start_s is not None:
            at = song.section_at(ln.start_s)
            name = at.name if at is not None else None
        current = name if name is not None else current
        out[ln.id] = current
    return out


def sheet_rows(song: Song) -> list[Row]:
    ordered = sheet_order(song)
    under = headers(song, ordered)
    rows: list[Row] = []
    current: str | None = None
    for ln in ordered:
        h = under[ln.id]
        if h is not None and h != current:
            if rows:
                rows.append(Row("blank", ""))
            rows.append(Row("header", f"[{h}]"))
            current = h
        rows.append(Row("line", ln.text, ln.id))
    return rows


def sheet_text(song: Song) -> str:
    return "\n".join(r.text for r in sheet_rows(song))


class _Sections:
    """Headers typed in the sheet -> section ids: a section's name, else its kind in order (``[chorus]`` twice:
    the first chorus, then the next)."""

    def __init__(self, song: Song):
        self.ordered = sorted(song.sections, key=lambda s: s.start_s)
        self.cursor = -1

    def find(self, header: str) -> str | None:
        for i, s in enumerate(self.ordered):
            if _norm(s.name) == _norm(header):
                self.cursor = i
                return s.id
        kind, number = split_header(header)
        same = [i for i, s in enumerate(self.ordered) if re.sub(r"[^a-z0-9]", "", s.kind) == kind]
        if number is not None:
            pick = same[number - 1] if 1 <= number <= len(same) else None
        else:
            pick = next((i for i in same if i > self.cursor), None)
        if pick is None:
            return None
        self.cursor = pick
        return self.ordered[pick].id


def read_sheet(song: Song, text: str) -> SheetRead:
    ordered = sheet_order(song)
    under = headers(song, ordered)
    finder = _Sections(song)
    warnings: list[str] = []
    rows: list[tuple[int, str, str | None, str | None]] = []  # (row number, text, header, section id)
    header: str | None = None
    section: str | None = None
    for n, raw in enumerate(text.split("\n")):
        m = _HEADER.match(raw)
        if m:
            header = m.group(1).strip() or None
            section = finder.find(header) if header else None
            if header and section is None:
                warnings.append(f"row {n + 1}: [{header}] names no section of the song; its lines are in none")
        elif raw.strip():
            rows.append((n, raw.strip(), header, section))
    old = [ln.text for ln in ordered]
    new = [r[1] for r in rows]
    placed: list[LyricLine] = []
    row_ids: list[str | None] = [None] * (text.count("\n") + 1)

    def keep(ln: LyricLine, row: tuple[int, str, str | None, str | None]) -> None:
        n, body, head, sec = row
        if body != ln.text:
            words = ln.words
            if words and len(body.split()) == len(words):
                words = tuple(replace(w, text=t) for w, t in zip(words, body.split(), strict=True))
            else:
                words = ()
            ln = replace(ln, text=body, words=words)
        if _norm(head) != _norm(under.get(ln.id)):
            ln = replace(ln, section_id=sec)
        placed.append(ln)
        row_ids[n] = ln.id

    def add(row: tuple[int, str, str | None, str | None]) -> None:
        ln = LyricLine(new_id("line"), row[1], None, None, (), row[3])
        placed.append(ln)
        row_ids[row[0]] = ln.id

    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if op == "equal" or op == "replace":
            pairs = min(i2 - i1, j2 - j1)
            for k in range(pairs):
                keep(ordered[i1 + k], rows[j1 + k])
            for j in range(j1 + pairs, j2):
                add(rows[j])
        elif op == "insert":
            for j in range(j1, j2):
                add(rows[j])
    shown = {ln.id for ln in ordered}
    for brk in (ln for ln in song.lyrics if ln.id not in shown):  # instrumental breaks: kept in time order
        at = next((i for i, ln in enumerate(placed) if brk.start_s is not None and ln.start_s is not None
                   and ln.start_s > brk.start_s), len(placed))
        placed.insert(at, brk)
    return SheetRead(song.with_lyrics(placed), row_ids, warnings)


# -- LRC files --------------------------------------------------------------------------------------------------
def song_lrc(song: Song) -> str:
    """The song's lyrics as LRC: ``[ti:]`` and ``[ar:]``, section headers, line and word stamps."""
    meta = {"ti": song.info.title}
    if song.info.artist:
        meta["ar"] = song.info.artist
    return format_lrc(lrc_from_lines(song.lyrics, song.sections, meta))


def song_with_lrc(song: Song, doc: LrcDocument, warnings: list[str] | None = None) -> Song:
    """The song with the LRC's lines in place of its lyrics (headers matched to its sections), and its title and
    artist from ``[ti:]`` and ``[ar:]`` when the file has them."""
    lines = lines_from_lrc(doc, song.sections, warnings)
    title = doc.meta.get("ti", "").strip() or song.info.title
    artist = doc.meta.get("ar", "").strip() or song.info.artist
    return song.replace(lyrics=tuple(lines), info=SongInfo(title, artist, song.info.sample_rate))
