"""An Ardour session's tempo map and markers, both ways, for a session no Ardour holds (through ``ardour7-lua``,
Ardour's own code, so what it reads is what Ardour shows and what it writes Ardour keeps).

- ``pull``: Ardour's tempos (each at its bar) become the song's tempo map; its range markers become sections (their
  names and spans), and its location markers each start a section that runs to the next marker (or the session's
  end). The session range, loop and punch ranges, CD and cue markers and xruns are not sections.
- ``push``: each of the song's sections becomes a range marker of its name (the previous SongBridge markers, tagged
  ``sb:``, are replaced; the producer's own markers stay), and the song's tempo map (each tempo and meter at its
  bar) becomes the session's. Into a session a running Ardour has open: ``ardour_push_live``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
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
    import xml.etree.ElementTree as ET

    session_dir = Path(session_dir)
    facts = session_facts(session_dir)
    tempos = _tempos_from(ET.parse(session_dir / f"{facts.name}.ardour").getroot())
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


def _tempos_from(root: Any) -> list[tuple[int, float, int, int]]:
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
    return sorted(tempos)


def read_saved_timeline(session_dir: Path) -> SessionTimeline:
    """The tempos and markers of the session *file* as the running Ardour last saved it (no Lua: the session stays
    open there). A position is Ardour 7's ``a<superclock>`` (audio time) or ``b<ticks>`` (music time, 1920 a quarter
    note, through the file's tempo map)."""
    import xml.etree.ElementTree as ET

    from daw_bridge.adapters.ardour_follow import TICKS_PER_BEAT, session_tempo_map

    session_dir = Path(session_dir)
    facts = session_facts(session_dir)
    try:
        root = ET.parse(session_dir / f"{facts.name}.ardour").getroot()
    except (OSError, ET.ParseError) as exc:
        raise ArdourError(f"{session_dir / (facts.name + '.ardour')}: cannot be read ({exc})") from None
    tm = root.find(".//TempoMap")
    per_s = float(tm.get("superclocks-per-second", "282240000")) if tm is not None else 282240000.0
    beats = session_tempo_map(session_dir, facts.rate)

    def samples(pos: str | None) -> int | None:
        m = re.match(r"([ab])(-?\d+)", pos or "")
        if m is None:
            return None
        if m.group(1) == "a":
            return round(int(m.group(2)) / per_s * facts.rate)
        q = int(m.group(2)) / TICKS_PER_BEAT
        sec, q0, qpm = next((x for x in reversed(beats.pieces) if x[1] <= q), beats.pieces[0])
        return round((sec + (q - q0) * 60.0 / qpm) * facts.rate)

    markers, end = [], 0
    for loc in root.iter("Location"):
        flags = set((loc.get("flags") or "").split(","))
        a, b, name = samples(loc.get("start")), samples(loc.get("end")), loc.get("name") or ""
        if a is None or b is None:
            continue
        if "IsSessionRange" in flags:
            end = max(end, b)
        elif flags & {"IsAutoLoop", "IsAutoPunch", "IsCDMarker", "IsXrun", "IsCueMarker", "IsSkip"}:
            continue
        elif "IsRangeMarker" in flags and b > a:
            markers.append(Marker(name, a, b, "range"))
        elif "IsMark" in flags and not re.match(r"(xrun|cue)\d*$", name.lower()):
            markers.append(Marker(name, a, a, "mark"))
    markers.sort(key=lambda m: (m.start, m.kind))
    end = max([end, *(m.end for m in markers)])
    return SessionTimeline(facts.rate, tuple(_tempos_from(root)), tuple(markers), end)


def save_running(session_dir: Path, osc: tuple[str, int], timeout_s: float = 10.0) -> None:
    """Ask the Ardour that has ``session_dir`` open to save it (OSC ``/save_state``, as Ctrl+S) and wait until the
    session file is written; an ArdourError says what to do when it is not."""
    import time

    from daw_bridge.adapters.ardour import ArdourOsc

    session_dir = Path(session_dir)
    path = session_dir / f"{session_facts(session_dir).name}.ardour"
    before = path.stat().st_mtime_ns
    try:
        link = ArdourOsc(*osc)
    except OSError as exc:
        raise ArdourError(f"cannot reach Ardour's OSC at {osc[0]}:{osc[1]}: {exc}") from None
    try:
        link.send("/save_state")
        deadline = time.monotonic() + timeout_s
        while path.stat().st_mtime_ns == before:
            if time.monotonic() > deadline:
                raise ArdourError(f"Ardour at {osc[0]}:{osc[1]} did not save {path.name} in {timeout_s:g} s (is "
                                  "its OSC on, and is this the Ardour that has the session open?)")
            time.sleep(0.05)
        time.sleep(0.2)  # the file is renamed into place whole; let a slow disk settle its size
    finally:
        link.close()


def _bar(bbt: str | None) -> int | None:
    m = re.match(r"(\d+)\|", bbt or "")
    return int(m.group(1)) if m else None


def song_from_timeline(song: Any, tl: SessionTimeline) -> Any:
    """The song with the session's tempo map and its markers as sections (seconds at the session's rate)."""
    from engine.song.model import Section
    from engine.song.tempo import TempoMap, TempoSegment, TimeSignature

    tempo = song.tempo
    if tl.tempos:
        segments: list[TempoSegment] = []
        seen: set[float] = set()
        for bar, qpm, beats, note in tl.tempos:
            if bar in seen:
                continue
            seen.add(bar)
            if segments and (segments[-1].bpm, segments[-1].meter) == (round(qpm, 4), TimeSignature(beats, note)):
                continue  # a point that changes nothing (a live push leaves such points: Lua cannot remove one)
            segments.append(TempoSegment(bar, round(qpm, 4), TimeSignature(beats, note)))
        if segments[0].bar != 1:
            segments.insert(0, TempoSegment(1, segments[0].bpm, segments[0].meter))
        tempo = TempoMap(tuple(segments), song.tempo.bar1_s)
    sections: list[Any] = []
    old_ids = {sec.name.strip().lower(): sec.id for sec in song.sections}
    pushed = {(m.name[len(TAG):].strip().lower(), m.start) for m in tl.markers if m.name.startswith(TAG)}
    for i, m in enumerate(tl.markers):
        if not m.name.startswith(TAG) and (m.name.strip().lower(), m.start) in pushed:
            continue  # the producer's marker where SongBridge pushed the same section: that section once
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
        sid = old_ids.pop(name.strip().lower(), f"{sid}-{i + 1}")  # a section of the same name keeps its id
        if any(x.id == sid for x in sections):
            sid = f"{sid[:56]}-{i + 1}"
        sections.append(Section(sid, name.strip() or f"Section {i + 1}", start, end))
    if not sections:
        return song.replace(tempo=tempo)
    return _rehomed(song, tempo, tuple(sections))


def _rehomed(song: Any, tempo: Any, sections: tuple[Any, ...]) -> Any:
    """The song with new sections: a timed lyric line belongs to the section at its start; an untimed one keeps its
    section when it is still there, else goes to the section at its old section's start; accepted takes of a
    section that is gone go to the section at its start."""
    ids = {s.id for s in sections}
    old_start = {s.id: s.start_s for s in song.sections}

    def home(t: float) -> str:
        inside = [s for s in sections if s.start_s <= t < s.end_s]
        before = [s for s in sections if s.start_s <= t]
        return (inside or before or list(sections))[-1 if not inside else 0].id

    lines = []
    for line in song.lyrics:
        if line.section_id is not None and line.start_s is not None:
            line = replace(line, section_id=home(line.start_s))
        elif line.section_id is not None and line.section_id not in ids:
            line = replace(line, section_id=home(old_start.get(line.section_id, 0.0)))
        lines.append(line)
    accepted: dict[str, str] = {}
    for where, take in song.accepted.items():
        if not where or where in ids:
            accepted[where] = take
    for where, take in song.accepted.items():
        if where and where not in ids and where in old_start:
            accepted.setdefault(home(old_start[where]), take)
    return song.replace(tempo=tempo, sections=sections, lyrics=tuple(lines), accepted=accepted)


def push(session_dir: Path, song: Any) -> int:
    """Write the song's sections as range markers (``sb:<name>``, replacing earlier ones) and its tempo map (each
    tempo and meter at its bar) into the closed session; returns how many markers were written."""
    session_dir = Path(session_dir)
    facts = session_facts(session_dir)
    lines = [f"local s = load_session({_lua_str(str(session_dir))}, {_lua_str(facts.name)}); assert(s)",
             "local L = s:locations()",
             "local gone = {}",
             f"for l in L:list():iter() do if string.sub(l:name(), 1, {len(TAG)}) == {_lua_str(TAG)} then "
             "table.insert(gone, l) end end",
             "for _, l in ipairs(gone) do L:remove(l) end",
             "local tm = Temporal.TempoMap.fetch_writable ()"]
    quarters, prev = 0.0, None
    for seg in song.tempo.segments:  # each tempo change at its bar, in music time (1920 ticks a quarter note)
        if prev is not None:
            quarters += (seg.bar - prev.bar) * prev.meter.bar_quarters
        prev = seg
        at = f"Temporal.timepos_t.from_ticks ({round(quarters * 1920)})"
        lines += [f"tm:set_meter (Temporal.Meter ({int(seg.meter.numerator)}, {int(seg.meter.denominator)}), {at})",
                  f"tm:set_tempo (Temporal.Tempo ({float(seg.bpm)}, {float(seg.bpm)}, 4), {at})"]
    lines.append("Temporal.TempoMap.update (tm)")
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
