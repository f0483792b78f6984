"""LRC lyrics: parse and format.

Accepted: ``[mm:ss.xx]``, ``[mm:ss]``, ``[mm:ss.xxx]``, ``[m:ss.xx]``, ``[hh:mm:ss.xx]`` line stamps, several
stamps on one line (a repeated chorus), metadata tags (``[ti:]``, ``[ar:]``, ``[al:]``, ``[by:]``, ``[length:]``,
``[offset:±ms]``, which is applied), enhanced word stamps ``<mm:ss.xx>``, section headers such as ``[verse 1]``
or ``[Chorus]`` on a line of their own, blank stamped lines (instrumental breaks), a BOM, CRLF, and lines out of
order (sorted, with a warning). A malformed stamp is an error naming the line and column; it is never dropped.
Text without any stamp imports as untimed lines.

Times are kept in integer milliseconds while parsing, so ``format(parse(x))`` is stable.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from engine.errors import LyricsError

#: Section words recognised in ``[verse 1]``-style headers (others in brackets are errors or metadata).
SECTION_WORDS = (
    "intro", "verse", "pre-chorus", "prechorus", "pre chorus", "chorus", "post-chorus", "hook", "refrain",
    "bridge", "interlude", "instrumental", "solo", "break", "breakdown", "drop", "build", "buildup", "outro",
    "ending", "end", "coda", "tag", "inst",
)
META_TAGS = ("ti", "ar", "al", "au", "by", "length", "offset", "re", "tool", "ve", "lr", "#")
#: The most lyrics read at once, in bytes (and characters): the longest song the models make has a few KiB of
#: lyrics, and linting costs about half a millisecond a line, so a 50 MB file must be refused, not read.
MAX_LYRICS_BYTES = 256 * 1024

_BRACKET = re.compile(r"\[([^\[\]]*)\]")
_WORD_STAMP = re.compile(r"<([^<>]*)>")
_TIME = re.compile(r"^(?:(\d{1,2}):)?(\d{1,3}):(\d{1,2})(?:[.:](\d{1,3}))?$")
_META = re.compile(r"^([A-Za-z#]+)\s*:(.*)$")
_SECTION = re.compile(
    r"^\s*(" + "|".join(re.escape(w) for w in sorted(SECTION_WORDS, key=len, reverse=True)) + r")\b[\s\w'-]*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class LrcWord:
    start_ms: int
    text: str
    end_ms: int | None = None


@dataclass(frozen=True)
class LrcLine:
    """One lyric line. ``time_ms`` None means untimed; empty text with a time is an instrumental break."""

    time_ms: int | None
    text: str
    words: tuple[LrcWord, ...] = ()
    section: str | None = None
    source_line: int = 0
    block: int = 0  # which header this line stands under: 1 for the file's first header, 0 before any

    @property
    def time_s(self) -> float | None:
        return None if self.time_ms is None else self.time_ms / 1000.0


@dataclass(frozen=True)
class LrcHeader:
    """A section header as written (``[Chorus 2]``): its block number (1 for the file's first) and line."""

    block: int
    name: str
    source_line: int = 0


@dataclass
class LrcDocument:
    lines: list[LrcLine] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: Every section header in file order, those with no lines under them (``[solo]``) too.
    headers: list[LrcHeader] = field(default_factory=list)

    @property
    def timed(self) -> bool:
        return any(ln.time_ms is not None for ln in self.lines)


def parse_time(text: str) -> int:
    """``"01:02.50"`` -> 62500 ms. Raises ValueError with the reason."""
    m = _TIME.match(text.strip())
    if not m:
        raise ValueError(f"timestamp {text!r} is not [mm:ss.xx], [mm:ss], [mm:ss.xxx] or [hh:mm:ss.xx]")
    hh, mm, ss, frac = m.groups()
    if int(ss) >= 60:
        raise ValueError(f"timestamp {text!r} has {ss} seconds (must be below 60)")
    if hh is not None and int(mm) >= 60:
        raise ValueError(f"timestamp {text!r} has {mm} minutes after hours (must be below 60)")
    ms = 0
    if frac:
        ms = int(frac.ljust(3, "0"))
    return ((int(hh or 0) * 60 + int(mm)) * 60 + int(ss)) * 1000 + ms


def format_time(ms: int) -> str:
    """Milliseconds -> ``mm:ss.xx`` (``.xxx`` when the time needs it; ``hh:mm:ss.xx`` past 99 minutes)."""
    ms = max(0, int(ms))
    minutes, rest = divmod(ms, 60_000)
    secs, milli = divmod(rest, 1000)
    frac = f"{milli // 10:02d}" if milli % 10 == 0 else f"{milli:03d}"
    if minutes > 99:
        hours, minutes = divmod(minutes, 60)
        return f"{hours:02d}:{minutes:02d}:{secs:02d}.{frac}"
    return f"{minutes:02d}:{secs:02d}.{frac}"


def _looks_like_time(content: str) -> bool:
    c = content.strip()
    return bool(c) and (c[0].isdigit() or c[0] in "+-.") and not _META.match(c)


def _parse_words(
    text: str, line_no: int, col0: int, source: str, offset_ms: int, line_ms: int | None
) -> tuple[str, tuple[LrcWord, ...]]:
    """Split ``<mm:ss.xx>word <mm:ss.xx>word<mm:ss.xx>`` into plain text and word stamps."""
    stamps = list(_WORD_STAMP.finditer(text))
    if not stamps:
        if "<" in text and re.search(r"<\s*\d", text):
            col = col0 + text.index("<") + 1
            raise LyricsError(f"{source}:{line_no}:{col}: unclosed word timestamp")
        return text.strip(), ()
    words: list[LrcWord] = []
    pieces: list[str] = []
    lead = text[: stamps[0].start()].strip()
    for i, m in enumerate(stamps):
        try:
            t = parse_time(m.group(1)) - offset_ms
        except ValueError as exc:
            raise LyricsError(f"{source}:{line_no}:{col0 + m.start() + 1}: {exc}") from None
        end = stamps[i + 1].start() if i + 1 < len(stamps) else len(text)
        word = text[m.end():end].strip()
        if i == 0 and lead:
            # Text before the first word stamp starts with the line: give it the line's time.
            words.append(LrcWord(max(0, line_ms if line_ms is not None else t), lead, max(0, t)))
            pieces.append(lead)
        if word:
            words.append(LrcWord(max(0, t), word))
            pieces.append(word)
        elif words and words[-1].end_ms is None:
            # A stamp with nothing after it closes the previous word (A2 "end" stamps).
            words[-1] = LrcWord(words[-1].start_ms, words[-1].text, max(0, t))
    return " ".join(pieces), tuple(words)


def parse(text: str, source: str = "<lyrics>") -> LrcDocument:
    """Parse LRC or plain text. Errors name ``source:line:column``."""
    if len(text) > MAX_LYRICS_BYTES:
        raise LyricsError(f"{source}: {len(text):,} characters of lyrics; at most {MAX_LYRICS_BYTES:,} are read "
                          f"({MAX_LYRICS_BYTES // 1024} KiB; a song's lyrics are a few KiB)")
    if text.startswith("\ufeff"):
        text = text[1:]
    doc = LrcDocument()
    offset_ms = 0
    # Offsets apply to the whole file wherever the tag stands: read them first.
    for line_no, raw in enumerate(text.splitlines(), 1):
        for m in _BRACKET.finditer(raw):
            mm = _META.match(m.group(1).strip())
            if mm and mm.group(1).lower() == "offset":
                value = mm.group(2).strip()
                if not re.fullmatch(r"[+-]?\d{1,7}", value):
                    raise LyricsError(
                        f"{source}:{line_no}:{m.start() + 1}: [offset:] must be whole milliseconds such as "
                        f"+250 or -100, got {value!r}"
                    )
                offset_ms = int(value)
    section: str | None = None
    block = 0
    entries: list[tuple[int, int, LrcLine]] = []  # (time, original order, line)
    order = 0
    for line_no, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip("\r")
        pos = 0
        stamps: list[int] = []
        # Leading bracket tags: stamps, metadata or a section header.
        while True:
            while pos < len(line) and line[pos] in " \t":
                pos += 1
            if pos >= len(line) or line[pos] != "[":
                break
            close = line.find("]", pos)
            if close < 0:
                if _looks_like_time(line[pos + 1:]):
                    raise LyricsError(f"{source}:{line_no}:{pos + 1}: unclosed timestamp")
                break
            content = line[pos + 1:close]
            col = pos + 1
            meta = _META.match(content.strip())
            if _looks_like_time(content):
                try:
                    stamps.append(parse_time(content) - offset_ms)
                except ValueError as exc:
                    raise LyricsError(f"{source}:{line_no}:{col}: {exc}") from None
            elif meta and (meta.group(1).lower() in META_TAGS) and not stamps:
                key = meta.group(1).lower()
                if key != "offset":
                    doc.meta[key] = meta.group(2).strip()
                if line[close + 1:].strip():
                    raise LyricsError(f"{source}:{line_no}:{close + 2}: text after a [{key}:] tag")
                pos = len(line)
                break
            elif not stamps and _SECTION.match(content) and not line[close + 1:].strip():
                section = content.strip()
                block += 1
                doc.headers.append(LrcHeader(block, section, line_no))
                pos = len(line)
                break
            elif not stamps and not line[close + 1:].strip():
                raise LyricsError(
                    f"{source}:{line_no}:{col}: unknown tag [{content}] (not a timestamp, a metadata tag "
                    f"such as [ti:] or a section such as [verse 1] or [chorus])"
                )
            else:
                break
            pos = close + 1
        rest = line[pos:] if pos < len(line) else ""
        if not stamps and not rest.strip():
            continue  # blank line, metadata or section header
        text_part, words = _parse_words(rest, line_no, pos, source, offset_ms, stamps[0] if stamps else None)
        if not stamps:
            entries.append((-1, order, LrcLine(None, text_part, words, section, line_no, block)))
            order += 1
            continue
        for t in stamps:
            shift = t - stamps[0]  # a repeated line's words move with its stamp
            if t < 0:
                raise LyricsError(
                    f"{source}:{line_no}: the [offset:{offset_ms:+d}] tag moves this line before the song start"
                )
            moved = tuple(
                LrcWord(w.start_ms + shift, w.text, None if w.end_ms is None else w.end_ms + shift) for w in words
            )
            entries.append((t, order, LrcLine(t, text_part, moved, section, line_no, block)))
            order += 1
    timed = [e for e in entries if e[0] >= 0]
    untimed = [e for e in entries if e[0] < 0]
    if timed and untimed:
        for _, _, ln in untimed:
            doc.warnings.append(f"{source}:{ln.source_line}: line has no timestamp; it will be auto-timed")
    firsts: dict[int, tuple[int, int]] = {}
    for t, _, ln in timed:
        firsts.setdefault(ln.source_line, (t, ln.source_line))
    by_source = list(firsts.values())
    for (t1, _), (t2, src) in zip(by_source, by_source[1:], strict=False):
        if t2 < t1:
            doc.warnings.append(f"{source}:{src}: lines are out of time order; they were sorted")
            break
    timed.sort(key=lambda e: (e[0], e[1]))
    doc.lines = [e[2] for e in timed] + [e[2] for e in untimed]
    return doc


def parse_file(path: str) -> LrcDocument:
    """Read and parse a lyrics file of at most ``MAX_LYRICS_BYTES`` (a larger one is refused unread)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_LYRICS_BYTES + 1)
        if len(raw) > MAX_LYRICS_BYTES:
            try:
                size = f"{os.stat(path).st_size:,} bytes"
            except OSError:
                size = "over the limit"
            raise LyricsError(f"{path}: {size}; a lyrics file may be at most {MAX_LYRICS_BYTES:,} bytes "
                              f"({MAX_LYRICS_BYTES // 1024} KiB; a song's lyrics are a few KiB)")
        text = raw.decode("utf-8-sig")
    except FileNotFoundError:
        raise LyricsError(f"{path}: not found") from None
    except UnicodeDecodeError as exc:
        raise LyricsError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise LyricsError(f"{path}: cannot read: {exc.strerror}") from None
    return parse(text, path)


def format(doc: LrcDocument, *, sections: bool = True) -> str:  # the module's verb
    """Normalised LRC: metadata first, then lines in time order, one stamp each, section headers kept."""
    out: list[str] = []
    for key in ("ti", "ar", "al", "au", "by", "length", "re", "tool", "ve", "lr", "#"):
        if key in doc.meta:
            out.append(f"[{key}:{doc.meta[key]}]")
    current: str | None = None
    for ln in doc.lines:
        if sections and ln.section and ln.section != current:
            if out:
                out.append("")
            out.append(f"[{ln.section}]")
            current = ln.section
        if ln.words:
            parts = []
            for i, w in enumerate(ln.words):
                nxt = ln.words[i + 1].start_ms if i + 1 < len(ln.words) else None
                end = f"<{format_time(w.end_ms)}>" if w.end_ms is not None and w.end_ms != nxt else ""
                parts.append(f"<{format_time(w.start_ms)}>{w.text}{end}")
            body = " ".join(parts)
        else:
            body = ln.text
        stamp = f"[{format_time(ln.time_ms)}]" if ln.time_ms is not None else ""
        out.append(f"{stamp}{body}".rstrip() if stamp else body)
    return "\n".join(out) + "\n"
