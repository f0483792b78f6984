"""The guide's MIDI for Ardour: one Standard MIDI File per part, for one ``SB <part> (MIDI)`` track each.

The guide's file (``engine.song.take_midi``, the same one ``export-midi`` writes) has a conductor track (tempo,
meter, key, a marker per section) and a track per part (``Vocal`` with a lyric event per syllable, ``Chords``,
``Bass``, ``Drums`` on channel 10). Ardour imports a multi-track file as one source per track with names of its own
making, so each part is written as a single-track file of its own (format 0: the part's events with the conductor's
tempo, meter, key and markers merged in, the part's name as the track name, and the end of track at the span's end,
so the region is as long as the section). Files are named after the section, take, part and a hash of their bytes:
the same notes always give the same name (landing them again reuses what Ardour imported), other notes never do.

Ardour 7's MIDI model keeps notes, controllers, program changes and sysex, not lyric or marker events: the files
SongBridge writes into the session carry the vocal's lyrics, and Ardour drops them the first time it rewrites the
file (its own import does the same); the notes stay. ``export-midi`` keeps the lyrics.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.song.take_midi import absolute_times

#: What the guide calls a part's track -> the part's name on the Ardour track (``SB chords (MIDI)``).
PART_NAMES = {"vocal": "vocal", "chords": "chords", "bass": "bass", "drums": "drums"}
_CONDUCTOR = ("set_tempo", "time_signature", "key_signature", "marker")


def midi_track_name(prefix: str, part: str) -> str:
    """``SB vocal (MIDI)``: the Ardour track a part's MIDI lands on."""
    return f"{prefix} {part} (MIDI)".strip()


def split_parts(mid: Any) -> dict[str, Any]:
    """``mid`` (a guide file or a section of one) as part name -> a format-0 ``mido.MidiFile`` holding that part
    with the conductor's tempo, meter, key and markers. Parts with no notes are left out, and so are tracks that are
    not one of the guide's parts (a file edited by hand must not make Ardour tracks of any name, or hundreds)."""
    import mido

    tracks = list(mid.tracks)
    if not tracks:
        return {}
    conductor = [(t, m) for t, m in absolute_times(tracks[0]) if m.type in _CONDUCTOR]
    out: dict[str, Any] = {}
    for track in tracks[1:]:
        events = absolute_times(track)
        name = next((m.name for _, m in events if m.type == "track_name"), "")
        part = PART_NAMES.get(name.strip().lower())
        if part is None or part in out or not any(m.type == "note_on" and m.velocity > 0 for _, m in events):
            continue
        end = max((t for t, m in events if m.type == "end_of_track"), default=max(t for t, _ in events))
        merged = [(t, 0, m) for t, m in conductor if t <= end] + \
                 [(t, 1, m) for t, m in events if m.type != "end_of_track"]
        merged.sort(key=lambda e: (e[0], e[1] if e[2].type != "track_name" else -1))
        new = mido.MidiTrack()
        now = 0
        for t, _, msg in merged:
            new.append(msg.copy(time=t - now))
            now = t
        new.append(mido.MetaMessage("end_of_track", time=max(0, end - now)))
        one = mido.MidiFile(type=0, ticks_per_beat=mid.ticks_per_beat)
        one.tracks.append(new)
        out[part] = one
    return out


def midi_bytes(mid: Any) -> bytes:
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()


def write_parts(mid: Any, folder: Path, tag: str, take: str, prefix: str = "SB") -> dict[str, Path]:
    """Write each part of ``mid`` as its own file in ``folder`` (``<tag><take>-<part>-<sha256[:10]>.mid``); returns
    Ardour track name (``SB vocal (MIDI)``) -> file."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    for part, one in split_parts(mid).items():
        data = midi_bytes(one)
        base = f"{tag}{take}-{part}" if take else f"{tag}{part}"
        name = f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', base)}-{hashlib.sha256(data).hexdigest()[:10]}.mid"
        target = folder / name
        if not target.is_file() or target.read_bytes() != data:
            tmp = target.with_name(f".{name}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, target)
        files[midi_track_name(prefix, part)] = target
    return files


def ticks_length(path: Path) -> int:
    """The file's length in ticks (its end of track), and so the region's length in beats times its PPQ."""
    from engine.song.take_midi import read_midi

    mid = read_midi(path)
    return max(sum(m.time for m in track) for track in mid.tracks)


# -- the closed session file ----------------------------------------------------------------------------------------
#: Ardour 7 keeps a MIDI region's length in beats of 1920 ticks (Temporal::ticks_per_beat).
ARDOUR_PPQN = 1920


def new_midi_track_lua(track: str) -> str:
    """``ardour7-lua`` lines making the MIDI track ``track`` (in a session ``s``), with Ardour's own synth when it
    has one, its outputs connected to the master (as ``ardour_closed.ensure_tracks`` does for audio). Not strict
    I/O: headless, with a configuration folder Ardour has not filled yet, a strict-I/O track with a synth asked for
    its audio output port twice and aborted."""
    from daw_bridge.adapters.ardour import _lua_str

    return (f"do local synth = ARDOUR.LuaAPI.new_plugin_info(\"ACE Reasonable Synth\", ARDOUR.PluginType.LV2)\n"
            "  if synth:isnil() then synth = ARDOUR.PluginInfo() end\n"
            "  s:new_midi_track(ARDOUR.ChanCount(ARDOUR.DataType(\"midi\"), 1), "
            "ARDOUR.ChanCount(ARDOUR.DataType(\"audio\"), 2), false, synth, nil, nil, 1, "
            f"{_lua_str(track)}, ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true)\n"
            f"  local o = s:route_by_name({_lua_str(track)}):output()\n"
            "  for c = 0, o:n_ports():n_audio() - 1 do\n"
            "    local m = master:audio(c % master:n_ports():n_audio())\n"
            "    if not o:audio(c):connected_to(m:name()) then o:connect(o:audio(c), m:name(), nil) end\n"
            "  end end")


def _midi_region(rid: str, whole: bool, name: str, beats: int, pos_sc: int, source: str) -> dict[str, str]:
    """A MIDI region's attributes as Ardour 7.3 writes them (learned from its own save after an import): its
    start and length in beats, a playlist region's position in audio time."""
    a = {"name": name, "muted": "0", "opaque": "1", "locked": "0", "video-locked": "0", "automatic": "0",
         "whole-file": "1" if whole else "0", "import": "0", "external": "0", "sync-marked": "0",
         "left-of-split": "0", "right-of-split": "0", "hidden": "0", "position-locked": "0",
         "valid-transients": "0", "start": "b0", "length": f"b{beats}@" + ("b0" if whole else f"a{pos_sc}"),
         "sync-position": "b0", "ancestral-start": "b0", "ancestral-length": "b0@b0", "stretch": "1", "shift": "1",
         "layering-index": "0", "tags": "songbridge", "contents": "0", "id": rid, "type": "midi",
         "first-edit": "nothing", "source-0": source, "master-source-0": source}
    return a


def midi_position(region: ET.Element) -> int | None:
    """A playlist MIDI region's position in superclock (``length="b<len>@a<pos>"``), None when in beats."""
    m = re.match(r"[ab]\d+@a(\d+)$", region.get("length") or "")
    return int(m.group(1)) if m else None


def add_midi(root: ET.Element, session_dir: Path, name: str, midi: dict[str, Path], position: int, end: int,
             tag: str, rate: int, next_id: Callable[[], str]) -> list[tuple[str, str, int, int, str]]:
    """Put each part file (MIDI track name -> SMF) into the session tree ``root``: the file into
    ``interchange/<name>/midifiles/``, a ``<Source type="midi">``, a whole-file region and a region on the track's
    MIDI playlist at ``position`` samples. The section's previous MIDI regions (named with ``tag``, starting inside
    ``[position, end)``) leave every MIDI track first: a take without MIDI (``midi`` empty) takes the earlier take's
    notes away, as they no longer match the audio. Returns (track, region, position, length, imported|reused) per
    part, then (track, region, position, 0, "removed") per earlier region taken off a track that gets none now."""
    from daw_bridge.adapters.ardour import SUPERCLOCK, ArdourError, superclock

    sources, regions = root.find("Sources"), root.find("Regions")
    if sources is None or regions is None:
        raise ArdourError(f"{session_dir}: no <Sources>/<Regions>: not an Ardour 7 session file")
    folder = session_dir / "interchange" / name / "midifiles"
    folder.mkdir(parents=True, exist_ok=True)
    playlists = {pl.get("id"): pl for pl in root.iter("Playlist")}
    routes = {r.get("name"): r for r in root.iter("Route")}
    pos_sc, end_sc = superclock(position, rate), superclock(end, rate)
    landed, removed = [], []
    for route in routes.values():
        playlist = playlists.get(route.get("midi-playlist") or "")
        if playlist is None:
            continue
        for old in playlist.findall("Region"):
            at = midi_position(old)
            if (old.get("name") or "").startswith(tag) and at is not None and pos_sc <= at < end_sc:
                playlist.remove(old)  # the previous take of this section on this track
                if route.get("name") not in midi:
                    removed.append((str(route.get("name")), str(old.get("name")), at * rate // SUPERCLOCK, 0,
                                    "removed"))
    for track, path in midi.items():
        found = routes.get(track)
        if found is None or found.get("midi-playlist") not in playlists:
            raise ArdourError(f"{session_dir / (name + '.ardour')}: no MIDI track {track!r}")
        data = Path(path).read_bytes()
        beats = ticks_length(Path(path)) * ARDOUR_PPQN // max(1, _ppq(data))
        fname = Path(path).name
        target = folder / fname
        if not target.is_file() or target.read_bytes() != data:
            tmp = target.with_name(f".{fname}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, target)
        base = fname[:-4]
        sid = next((s.get("id") for s in sources.findall("Source") if s.get("name") == fname), None)
        how = "reused" if sid else "imported"
        if sid is None:
            sid = next_id()
            ET.SubElement(sources, "Source", {"name": fname, "take-id": "", "type": "midi", "flags": "Writable",
                                              "id": sid, "natural-position": "a0", "origin": ""})
        if not any(r.get("source-0") == sid and r.get("whole-file") == "1" for r in regions.findall("Region")):
            ET.SubElement(regions, "Region", _midi_region(next_id(), True, base, beats, 0, sid))
        playlist = playlists[str(found.get("midi-playlist"))]
        ET.SubElement(playlist, "Region", _midi_region(next_id(), False, f"{base}.1", beats, pos_sc, sid))
        landed.append((track, f"{base}.1", position, end - position, how))
    return landed + removed


def _ppq(data: bytes) -> int:
    return int.from_bytes(data[12:14], "big") if data[:4] == b"MThd" and len(data) >= 14 else 960


def verify_midi(root: ET.Element, landed: list[tuple[str, str, int, int, str]], rate: int) -> str | None:
    """What is wrong with the landed MIDI regions in ``root`` (re-read from the written file), or None."""
    from daw_bridge.adapters.ardour import superclock

    playlists = {pl.get("id"): pl for pl in root.iter("Playlist")}
    routes = {r.get("name"): r for r in root.iter("Route")}
    sources = {s.get("id") for s in root.iter("Source") if s.get("type") == "midi"}
    for track, region, position, _, how in landed:
        if how == "removed":
            continue
        playlist = playlists.get((routes.get(track) or ET.Element("x")).get("midi-playlist"))
        found = [r for r in (playlist.findall("Region") if playlist is not None else []) if r.get("name") == region]
        if len(found) != 1 or midi_position(found[0]) != superclock(position, rate) or \
                found[0].get("source-0") not in sources:
            return f"{region} did not come out on {track} at sample {position}"
    return None
