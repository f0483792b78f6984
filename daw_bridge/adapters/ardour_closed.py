"""Landing stems into an Ardour session that no Ardour program holds, by editing its session file.

No OSC or headless Lua call imports audio in Ardour 7.3, so the stem is added to the session file the way Ardour
writes an imported file: one mono WAV per channel in ``interchange/<session>/audiofiles/`` (``<name>%L.wav`` and
``<name>%R.wav``, as Ardour's import splits them; two Sources reading one stereo file made Ardour's exporter crash
now and then), one ``<Source>`` per channel file, a
whole-file ``<Region>`` and a playlist region on the named track at the exact sample (Ardour 7 "superclock" time:
282,240,000 ticks per second) layered above every region it overlaps, the session range widened to cover it.
A Source names its file inside the session and no ``origin``: given the render file outside as its origin, Ardour
7.3 read that stereo file instead, and its next save gave both channel Sources the render's name and channel 0.

- Each file is named after its section, take, stem and the first hex digits of its sha256, so a landed take's
  audio is never overwritten, and landing the same audio again reuses its Sources instead of adding more.
- A section's previous regions (their names start with the section's tag and they overlap its range) leave the
  track; any other region stays.
- Tracks that do not exist yet are created with ``ardour7-lua`` first, their outputs connected to the master there
  (left to Ardour's auto-connect thread, the last one was now and then saved unconnected: silent in the export).
- The new file is checked (parsed again, every region on its track at its sample) before it replaces the session
  atomically; the previous one is kept as ``.ardour.sb-bak``. Whoever holds the session is asked again just before
  the replace: the caller passes ``still_free`` for that.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from daw_bridge.adapters.ardour import ArdourError, _lua, _lua_str, superclock


def ensure_tracks(session_dir: Path, name: str, tracks: list[str],
                  midi_tracks: tuple[str, ...] | list[str] = ()) -> None:
    """Create the stereo audio tracks (and the MIDI tracks) that do not exist yet (Ardour must be closed)."""
    from daw_bridge.adapters.ardour_midi import new_midi_track_lua

    root = ET.parse(session_dir / f"{name}.ardour").getroot()
    existing = {r.get("name") for r in root.iter("Route")}
    missing = [t for t in tracks if t not in existing]
    missing_midi = [t for t in midi_tracks if t not in existing]
    if not missing and not missing_midi:
        return
    lines = [f"local s = load_session({_lua_str(str(session_dir))}, {_lua_str(name)}); assert(s)",
             "local master = s:master_out():input()"]
    for t in missing:
        lines.append(f"s:new_audio_track(2, 2, nil, 1, {_lua_str(t)}, ARDOUR.PresentationInfo.max_order, "
                     "ARDOUR.TrackMode.Normal, true)")
        # Ardour connects a new track's outputs from another thread, which a save right after may beat (the last
        # track then plays into nothing): connect them to the master here
        lines.append(f"do local o = s:route_by_name({_lua_str(t)}):output()\n"
                     "  for c = 0, o:n_ports():n_audio() - 1 do\n"
                     "    local m = master:audio(c % master:n_ports():n_audio())\n"
                     "    if not o:audio(c):connected_to(m:name()) then o:connect(o:audio(c), m:name(), nil) end\n"
                     "  end end")
    lines.extend(new_midi_track_lua(t) for t in missing_midi)
    lines.append('s:save_state("", false, false, false, false, false); close_session()')
    _lua("\n".join(lines))


@dataclass(frozen=True)
class LandedRegion:
    track: str
    region: str
    position: int  # samples
    length: int
    how: str = "imported"  # or "reused": the file's Sources were already in the session


def content_name(wav: Path, stem_name: str) -> str:
    """``<stem_name>-<sha256[:10]>.wav``: the same audio always gets the same name, other audio never does. The
    hash covers the samples, rate and channels only, so a render of the same take made later (its Broadcast WAV
    header has another date) is recognised as the same audio."""
    import soundfile as sf

    digest = hashlib.sha256()
    try:
        with sf.SoundFile(str(wav)) as fh:
            digest.update(f"{fh.samplerate}:{fh.channels}:{fh.frames}:".encode())
            while len(block := fh.read(1 << 16, dtype="float32")):
                digest.update(block.tobytes())
    except RuntimeError as exc:
        raise ArdourError(f"{wav}: not a readable audio file ({exc})") from None
    return f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', stem_name)}-{digest.hexdigest()[:10]}.wav"


def channel_files(base: str, channels: int) -> list[str]:
    """The mono files Ardour keeps for an imported file, one per channel, named as its import names them."""
    if channels == 1:
        return [f"{base}.wav"]
    if channels == 2:
        return [f"{base}%L.wav", f"{base}%R.wav"]
    return [f"{base}%{chr(ord('a') + ch)}.wav" for ch in range(channels)]


def _write_channel(wav: Path, channel: int, target: Path) -> None:
    import soundfile as sf

    audio, rate = sf.read(str(wav), dtype="float32", always_2d=True)
    tmp = target.with_name(f".{target.name}.tmp")
    sf.write(str(tmp), audio[:, channel], rate, subtype="FLOAT", format="WAV")
    os.replace(tmp, target)


def land_in_closed_session(session_dir: Path, name: str, stems: dict[str, Path], position: int, tag: str,
                           take: str = "", end: int | None = None,
                           still_free: Callable[[], str | None] = lambda: None,
                           midi: dict[str, Path] | None = None) -> list[LandedRegion]:
    """Place each stem file (track name -> WAV) on its track at ``position`` samples. ``tag`` (e.g. ``sb-chorus-``)
    starts the names of this section's regions: those of an earlier landing inside ``[position, end)`` are
    replaced. ``still_free`` returns who holds the session now, or None. ``midi``: MIDI track name -> a part's
    Standard MIDI File (``ardour_midi``), landed at the same sample on MIDI tracks, in the same write (empty: the
    section's earlier MIDI regions go, listed as "removed"; None: MIDI tracks are not touched)."""
    import soundfile as sf

    from daw_bridge.adapters.ardour_midi import add_midi, verify_midi

    session_dir = Path(session_dir)
    xml_path = session_dir / f"{name}.ardour"
    if not xml_path.exists():
        raise ArdourError(f"{xml_path}: no such Ardour session")
    rate = int(ET.parse(xml_path).getroot().get("sample-rate", "44100"))
    infos = {}
    for track, wav in stems.items():
        try:
            infos[track] = sf.info(str(wav))
        except RuntimeError as exc:
            raise ArdourError(f"{wav}: not a readable audio file ({exc})") from None
        if infos[track].samplerate != rate:
            raise ArdourError(f"{wav}: {infos[track].samplerate} Hz, and the session runs at {rate} Hz; land it "
                              "through the running Ardour (it converts on import)")
    end = end if end is not None else position + max(i.frames for i in infos.values())
    for taken in ET.parse(xml_path).getroot().iter("Route"):  # a name taken by another kind of track: refused first
        if taken.get("name") in (midi or {}) and not taken.get("midi-playlist"):
            raise ArdourError(f"{xml_path}: no MIDI track {taken.get('name')!r} (a track of that name is not a MIDI "
                              "track: rename it in Ardour); nothing was written")
        if taken.get("name") in stems and not taken.get("audio-playlist"):
            raise ArdourError(f"{xml_path}: no audio track {taken.get('name')!r} (a track of that name is not an "
                              "audio track: rename it in Ardour); nothing was written")
    ensure_tracks(session_dir, name, list(stems), list(midi or {}))
    before = xml_path.read_bytes()
    root = ET.fromstring(before)
    tree = ET.ElementTree(root)
    counter = int(root.get("id-counter", "1000"))

    def next_id() -> str:
        nonlocal counter
        counter += 1
        return str(counter)

    sources = root.find("Sources")
    regions = root.find("Regions")
    if sources is None or regions is None:
        raise ArdourError(f"{xml_path}: no <Sources>/<Regions>: not an Ardour 7 session file")
    audio_dir = session_dir / "interchange" / name / "audiofiles"
    audio_dir.mkdir(parents=True, exist_ok=True)
    playlists = {pl.get("id"): pl for pl in root.iter("Playlist")}
    routes = {r.get("name"): r for r in root.iter("Route")}
    landed = []
    end_sample = position
    pos_sc = superclock(position, rate)
    for track, wav in stems.items():
        route = routes.get(track)
        if route is None or route.get("audio-playlist") not in playlists:
            raise ArdourError(f"{xml_path}: no audio track {track!r}")
        info = infos[track]
        stem = track.split(" ", 1)[-1]
        region_name = content_name(wav, f"{tag}{take}-{stem}" if take else f"{tag}{stem}")[:-4]
        files = channel_files(region_name, info.channels)
        for ch, fname in enumerate(files):
            target = audio_dir / fname
            if not target.exists():
                _write_channel(wav, ch, target)
        len_sc = superclock(info.frames, rate)
        known = {str(s.get("name")): str(s.get("id")) for s in sources.findall("Source") if s.get("name") in files}
        if all(f in known for f in files):
            src_ids, how = [known[f] for f in files], "reused"
        else:
            src_ids, how = [], "imported"
            for fname in files:
                sid = known.get(fname) or next_id()
                src_ids.append(sid)
                if fname not in known:
                    ET.SubElement(sources, "Source", {
                        "name": fname, "type": "audio", "flags": "", "id": sid, "natural-position": f"a{pos_sc}",
                        "channel": "0", "origin": "", "gain": "1"})
        whole = next((r for r in regions.findall("Region") if r.get("name") == region_name
                      and r.get("source-0") == src_ids[0]), None)
        if whole is None:
            ET.SubElement(regions, "Region", _region(next_id(), True, region_name, pos_sc, len_sc, src_ids))
        playlist = playlists[str(route.get("audio-playlist"))]
        for old in playlist.findall("Region"):
            start_sc, length_sc = _span(old)
            if (old.get("name") or "").startswith(tag) and start_sc < superclock(end, rate) and \
                    start_sc + length_sc > pos_sc:
                playlist.remove(old)  # the previous take of this section on this track
        attrs = _region(next_id(), False, f"{region_name}.1", pos_sc, len_sc, src_ids)
        attrs["layering-index"] = str(_top_layer(playlist, pos_sc, pos_sc + len_sc) + 1)
        ET.SubElement(playlist, "Region", attrs)
        landed.append(LandedRegion(track, f"{region_name}.1", position, info.frames, how))
        end_sample = max(end_sample, position + info.frames)
    midi_landed = add_midi(root, session_dir, name, midi, position, end, tag, rate, next_id) \
        if midi is not None else []
    _keep_sources_inside(sources, audio_dir)
    root.set("id-counter", str(counter + 1))
    _widen_session_range(root, superclock(position, rate), superclock(end_sample, rate), counter)
    tmp = xml_path.with_name(f".{xml_path.name}.tmp")
    tree.write(tmp, xml_declaration=True, encoding="UTF-8")
    _verify(tmp, landed, rate)
    wrong = verify_midi(ET.parse(tmp).getroot(), midi_landed, rate)
    if wrong:
        tmp.unlink()
        raise ArdourError(f"{wrong}; nothing was written")
    holder = still_free()
    if holder or xml_path.read_bytes() != before:
        tmp.unlink()
        raise ArdourError(f"{xml_path}: {holder or 'the session file changed while landing'}; nothing was written")
    shutil.copyfile(xml_path, xml_path.with_suffix(".ardour.sb-bak"))
    os.replace(tmp, xml_path)
    return landed + [LandedRegion(*m) for m in midi_landed]


def _span(region: ET.Element) -> tuple[int, int]:
    """(start, length) in superclock from a playlist region's ``length="a<len>@a<pos>"``."""
    m = re.match(r"a(\d+)@a(\d+)", region.get("length") or "")
    return (int(m.group(2)), int(m.group(1))) if m else (0, 0)


def _keep_sources_inside(sources: ET.Element, audio_dir: Path) -> None:
    """Sources whose file is in the session's audio folder lose any ``origin`` outside it (an earlier SongBridge
    wrote the render file there, which Ardour then read instead of the session's copy)."""
    for src in sources.findall("Source"):
        origin = src.get("origin") or ""
        if origin and (audio_dir / (src.get("name") or "")).is_file() and \
                not Path(origin).resolve().is_relative_to(audio_dir.parent.parent.parent.resolve()):
            src.set("origin", "")


def _top_layer(playlist: ET.Element, start_sc: int, end_sc: int) -> int:
    """The highest ``layering-index`` among the playlist's regions that overlap [start, end) (-1 when none): a new
    region goes above them, so the session plays what was landed, not an older whole-song region under it."""
    top = -1
    for region in playlist.findall("Region"):
        a, n = _span(region)
        if a < end_sc and a + n > start_sc:
            try:
                top = max(top, int(region.get("layering-index") or 0))
            except ValueError:
                top = max(top, 0)
    return top


def _widen_session_range(root: ET.Element, start_sc: int, end_sc: int, counter: int) -> None:
    ranges = [loc for loc in root.iter("Location") if "IsSessionRange" in (loc.get("flags") or "")]
    for loc in ranges:
        start = int((loc.get("start") or "a0").lstrip("a").split("@")[0] or 0)
        end = int((loc.get("end") or "a0").lstrip("a").split("@")[0] or 0)
        loc.set("start", f"a{min(start, start_sc)}")
        loc.set("end", f"a{max(end, end_sc)}")
    locs = root.find("Locations")
    if not ranges and locs is not None:
        ET.SubElement(locs, "Location", {"id": str(counter + 2), "name": "session", "start": "a0",
                                         "end": f"a{end_sc}", "flags": "IsSessionRange", "locked": "0",
                                         "timestamp": str(int(time.time())), "cue": "0"})
        root.set("id-counter", str(counter + 3))


def _verify(path: Path, landed: list[LandedRegion], rate: int) -> None:
    """Read the written file back: every landed region on its track at its sample, every source it names there."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        path.unlink()
        raise ArdourError(f"the session file SongBridge wrote does not parse ({exc}); nothing was written") from None
    playlists = {pl.get("id"): pl for pl in root.iter("Playlist")}
    routes = {r.get("name"): r for r in root.iter("Route")}
    source_ids = {s.get("id") for s in root.iter("Source")}
    for reg in landed:
        playlist = playlists.get((routes.get(reg.track) or ET.Element("x")).get("audio-playlist"))
        found = [r for r in (playlist.findall("Region") if playlist is not None else []) if r.get("name") == reg.region]
        ok = len(found) == 1 and _span(found[0]) == (superclock(reg.position, rate), superclock(reg.length, rate)) \
            and all(v in source_ids for k, v in found[0].attrib.items() if k.startswith("source-"))
        if not ok:
            path.unlink()
            raise ArdourError(f"{reg.region} did not come out on {reg.track} at sample {reg.position}; nothing "
                              "was written")


def _region(rid: str, whole: bool, name: str, pos_sc: int, len_sc: int, sources: list[str]) -> dict[str, str]:
    """A region's attributes as Ardour 7.3 writes them (learned from a take it recorded)."""
    a = {"name": name, "muted": "0", "opaque": "1", "locked": "0", "video-locked": "0", "automatic": "0",
         "whole-file": "1" if whole else "0", "import": "1", "external": "0", "sync-marked": "0",
         "left-of-split": "0", "right-of-split": "0", "hidden": "0", "position-locked": "0",
         "valid-transients": "0", "start": "a0", "length": f"a{len_sc}@a{pos_sc}", "sync-position": "a0",
         "ancestral-start": "a0", "ancestral-length": "a0@a0", "stretch": "1", "shift": "1",
         "layering-index": "0", "tags": "songbridge", "contents": "0", "envelope-active": "0",
         "default-fade-in": "0", "default-fade-out": "0", "fade-in-active": "1", "fade-out-active": "1",
         "scale-amplitude": "1", "id": rid, "type": "audio", "first-edit": "nothing", "channels": str(len(sources))}
    for i, sid in enumerate(sources):
        a[f"source-{i}"] = sid
        a[f"master-source-{i}"] = sid
    return a
