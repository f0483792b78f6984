"""An Ardour session's tempo map and markers, both ways, for a session no Ardour holds (through ``ardour7-lua``,
Ardour's own code, so what it reads is what Ardour shows and what it writes Ardour keeps).

- ``pull``: Ardour's tempos (each at its bar) become the song's tempo map; its range markers become sections (their
  names and spans), and its location markers each start a section that runs to the next marker (or the session's
  end). The session range, loop and punch ranges, CD and cue markers and xruns are not sections.
- ``push``: each of the song's sections becomes a range marker of its name (the previous SongBridge markers, tagged
  ``sb:``, are replaced; the producer's own markers stay), and the song's tempo and meter at bar 1 become the
  session's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daw_bridge.adapters.ardour import ArdourError, _lua, _lua_str, session_facts

TAG = "sb:"  # pushed markers' names start with this (the section's name follows)


@dataclass(frozen=True)
class Marker:
    name: str
    start: int  # samples
    end: int  # samples; == start for a location marker
    kind: str  # "range" | "mark"


@dataclass(frozen=True)
class SessionTimeline:
    rate: int
    tempos: tuple[tuple[int, float, int, int], ...]  # (bar, quarter notes per minute, beats per bar, note value)
    markers: tuple[Marker, ...]
    end: int  # the session range's end (samples), or the last marker's


def read_timeline(session_dir: Path) -> SessionTimeline:
    """The session's tempos (from its file, as Ardour wrote them) and its markers (as Ardour loads them)."""
    import xml.etree.ElementTree as ET  # noqa: PLC0415

    session_dir = Path(session_dir)
    facts = session_facts(session_dir)
    root = ET.parse(session_dir / f"{facts.name}.ardour").getroot()
    meters = []
    for m in root.iter("Meter"):
        bar = _bar(m.get("bbt"))
        if bar is not None:
            meters.append((bar, int(float(m.get("divisions-per-bar", "4"))), int(float(m.get("note-value", "4")))))
    meters.sort()
    tempos = []
    for t in root.iter("Tempo"):
        bar = _bar(t.get("bbt"))
        if bar is None or t.get("active", "1") == "0":
            continue
        qpm = float(t.get("npm", "120")) * 4.0 / float(t.get("note-type", "4"))
        meter = next(((d, n) for b, d, n in reversed(meters) if b <= bar), (4, 4))
        tempos.append((bar, qpm, *meter))
    tempos.sort()
    out = _lua(f"""
local s = load_session({_lua_str(str(session_dir))}, {_lua_str(facts.name)}); assert(s)
for l in s:locations():list():iter() do
  print(string.format("LOC\\t%d\\t%d\\t%d\\t%d\\t%d\\t%s", l:start():samples(), l:_end():samples(),
    l:is_session_range() and 1 or 0, l:is_range_marker() and 1 or 0, l:is_mark() and 1 or 0, l:name()))
end
close_session()
""")
    markers, end = [], 0
    for line in out.splitlines():
        if not line.startswith("LOC\t"):
            continue
        _, a, b, session_range, ranged, mark, name = line.split("\t", 6)
        if session_range == "1":
            end = max(end, int(b))
        elif ranged == "1" and int(b) > int(a):
            markers.append(Marker(name, int(a), int(b), "range"))
        elif mark == "1" and not re.match(r"(xrun|cue)\d*$", name.lower()):
            markers.append(Marker(name, int(a), int(a), "mark"))
    markers.sort(key=lambda m: (m.start, m.kind))
    end = max([end, *(m.end for m in markers)])
    return SessionTimeline(facts.rate, tuple(tempos), tuple(markers), end)


def _bar(bbt: str | None) -> int | None:
    m = re.match(r"(\d+)\|", bbt or "")
    return int(m.group(1)) if m else None


def song_from_timeline(song: Any, tl: SessionTimeline) -> Any:
    """The song with the session's tempo map and its markers as sections (seconds at the session's rate)."""
    from engine.song.model import Section  # noqa: PLC0415
    from engine.song.tempo import TempoMap, TempoSegment, TimeSignature  # noqa: PLC0415

    tempo = song.tempo
    if tl.tempos:
        segments, seen = [], set()
        for bar, qpm, beats, note in tl.tempos:
            if bar in seen:
                continue
            seen.add(bar)
            segments.append(TempoSegment(bar, round(qpm, 4), TimeSignature(beats, note)))
        if segments[0].bar != 1:
            segments.insert(0, TempoSegment(1, segments[0].bpm, segments[0].meter))
        tempo = TempoMap(tuple(segments), song.tempo.bar1_s)
    sections = []
    for i, m in enumerate(tl.markers):
        name = m.name[len(TAG):] if m.name.startswith(TAG) else m.name
        start = m.start / tl.rate
        if m.kind == "range":
            end = m.end / tl.rate
        else:
            nxt = next((n.start for n in tl.markers[i + 1:] if n.start > m.start), tl.end)
            end = nxt / tl.rate
        if end <= start:
            continue
        sid = re.sub(r"[^A-Za-z0-9._-]+", "-", name.strip().lower()).strip("-")[:56] or "section"
        sections.append(Section(f"{sid}-{i + 1}", name.strip() or f"Section {i + 1}", start, end))
    return song.replace(tempo=tempo, sections=tuple(sections) if sections else song.sections)


def push(session_dir: Path, song: Any) -> int:
    """Write the song's sections as range markers (``sb:<name>``, replacing earlier ones) and its first tempo and
    meter into the closed session; returns how many markers were written."""
    session_dir = Path(session_dir)
    facts = session_facts(session_dir)
    seg = song.tempo.segments[0]
    lines = [f"local s = load_session({_lua_str(str(session_dir))}, {_lua_str(facts.name)}); assert(s)",
             "local L = s:locations()",
             "local gone = {}",
             f"for l in L:list():iter() do if string.sub(l:name(), 1, {len(TAG)}) == {_lua_str(TAG)} then "
             "table.insert(gone, l) end end",
             "for _, l in ipairs(gone) do L:remove(l) end",
             "local tm = Temporal.TempoMap.fetch_writable ()",
             f"tm:set_tempo (Temporal.Tempo ({float(seg.bpm)}, {float(seg.bpm)}, 4), Temporal.timepos_t (0))",
             f"tm:set_meter (Temporal.Meter ({int(seg.meter.numerator)}, {int(seg.meter.denominator)}), "
             "Temporal.timepos_t (0))",
             "Temporal.TempoMap.update (tm)"]
    for sec in song.sections:
        a, b = round(sec.start_s * facts.rate), round(sec.end_s * facts.rate)
        lines.append(f"do local r = L:add_range (Temporal.timepos_t ({a}), Temporal.timepos_t ({b})); "
                     f"r:set_name ({_lua_str(TAG + sec.name)}) end")
    lines.append('s:save_state ("", false, false, false, false, false); close_session ()')
    try:
        _lua("\n".join(lines))
    except ArdourError as exc:
        raise ArdourError(f"pushing to {session_dir}: {exc}") from None
    return len(song.sections)
