"""Ardour 7: transport over OSC, and stems landed into a closed session.

OSC (``ArdourOsc``): Ardour's surface on UDP 3819 with ``/set_surface`` in auto-reply mode (port 0), so it answers
the socket we send from; ``/locate``, ``/transport_play``, ``/transport_stop``, ``/transport_frame`` and the
``/position/samples`` feedback. Ardour has no OSC address for its tempo; use MIDI clock for that.

Landing (``land_in_closed_session``): no OSC or headless Lua call imports audio in Ardour 7.3, so while Ardour is
closed we add the stem to the session file: the WAV copied into ``interchange/<session>/audiofiles/``, one
``<Source>`` per channel, a whole-file ``<Region>`` and a playlist region on the named track at the exact sample
(Ardour 7 "superclock" time: 282,240,000 ticks per second), the session range widened to cover it. Landing a newer
take of the same section replaces its previous region on that track. Tracks that do not exist yet are created
with ``ardour7-lua`` first. ``session_regions`` (reload with ``ardour7-lua``) and ``export_session``
(``ardour7-export``) verify the result. The session file is replaced atomically and the previous one kept as .bak.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from engine.errors import SongBridgeError

SUPERCLOCK = 282_240_000  # Ardour 7 superclock ticks per second
OSC_PORT = 3819


class ArdourError(SongBridgeError):
    pass


def superclock(samples: int, rate: int = 44100) -> int:
    return samples * SUPERCLOCK // rate


# -- OSC transport --------------------------------------------------------------------------------------------------
class ArdourOsc:
    def __init__(self, host: str = "127.0.0.1", port: int = OSC_PORT, timeout: float = 1.0):
        self.target = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(timeout)
        # bank 0, all strip types, feedback: transport (16) + /position/samples (1024) + bbt (32); auto reply port
        self.send("/set_surface", 0, 159, 16 + 1024 + 32, 0, 0, 0, 0)

    def close(self) -> None:
        self.sock.close()

    def send(self, address: str, *args: object) -> None:
        from daw_bridge.osc.replies import message  # noqa: PLC0415

        self.sock.sendto(message(address, *args), self.target)

    def _receive(self, want: str, timeout: float) -> list | None:
        from pythonosc.osc_message import OscMessage  # noqa: PLC0415

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data, _ = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            try:
                msg = OscMessage(data)
            except Exception:  # noqa: BLE001 - bundles and noise
                continue
            if msg.address == want:
                return list(msg.params)
        return None

    def frame(self, timeout: float = 3.0) -> int:
        """The play head in samples (``/transport_frame`` query)."""
        self.send("/transport_frame")
        got = self._receive("/transport_frame", timeout)
        if not got:
            raise ArdourError(f"Ardour at {self.target[0]}:{self.target[1]} did not answer /transport_frame")
        return int(got[0])

    def speed(self, timeout: float = 3.0) -> float:
        self.send("/transport_speed")
        got = self._receive("/transport_speed", timeout)
        if not got:
            raise ArdourError("Ardour did not answer /transport_speed")
        return float(got[0])

    def locate(self, samples: int, roll: bool = False) -> None:
        self.send("/locate", int(samples), int(roll))

    def play(self) -> None:
        self.send("/transport_play")

    def stop(self) -> None:
        self.send("/transport_stop")

    def add_marker(self) -> None:
        """A marker at the play head (sections: locate to their start first)."""
        self.send("/add_marker")


# -- landing into a closed session --------------------------------------------------------------------------------
def _lua(script: str, timeout: float = 120.0) -> str:
    exe = shutil.which("ardour7-lua")
    if exe is None:
        raise ArdourError("ardour7-lua is not installed (apt-get install ardour)")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(script)
        path = fh.name
    try:
        out = subprocess.run([exe, path], capture_output=True, text=True, timeout=timeout)
    finally:
        os.unlink(path)
    if out.returncode != 0:
        raise ArdourError(f"ardour7-lua failed: {(out.stderr or out.stdout).strip().splitlines()[-1:]}")
    return out.stdout


def _lua_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def ensure_tracks(session_dir: Path, name: str, tracks: list[str]) -> None:
    """Create the stereo audio tracks that do not exist yet (Ardour must be closed)."""
    root = ET.parse(session_dir / f"{name}.ardour").getroot()
    existing = {r.get("name") for r in root.iter("Route")}
    missing = [t for t in tracks if t not in existing]
    if not missing:
        return
    lines = [f"local s = load_session({_lua_str(str(session_dir))}, {_lua_str(name)}); assert(s)"]
    for t in missing:
        lines.append(f"s:new_audio_track(2, 2, nil, 1, {_lua_str(t)}, ARDOUR.PresentationInfo.max_order, "
                     "ARDOUR.TrackMode.Normal, true)")
    lines.append('s:save_state("", false, false, false, false, false); close_session()')
    _lua("\n".join(lines))


@dataclass(frozen=True)
class LandedRegion:
    track: str
    region: str
    position: int  # samples
    length: int


def land_in_closed_session(session_dir: Path, name: str, stems: dict[str, Path], position: int, tag: str,
                           rate: int = 44100) -> list[LandedRegion]:
    """Place each stem file (track name -> WAV) on its track at ``position`` samples. ``tag`` names the regions
    (e.g. ``sb-chorus-1``); a region with the same tag on a track is replaced."""
    import soundfile as sf  # noqa: PLC0415

    session_dir = Path(session_dir)
    xml_path = session_dir / f"{name}.ardour"
    if not xml_path.exists():
        raise ArdourError(f"{xml_path}: no such Ardour session")
    if (session_dir / f"{name}.pending").exists() or (session_dir / f".{name}.ardour.lock").exists():
        raise ArdourError(f"{session_dir}: the session is open in Ardour; close it first (or use the OSC/Lua route)")
    ensure_tracks(session_dir, name, list(stems))
    tree = ET.parse(xml_path)
    root = tree.getroot()
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
    for track, wav in stems.items():
        route = routes.get(track)
        if route is None or route.get("audio-playlist") not in playlists:
            raise ArdourError(f"{xml_path}: no audio track {track!r}")
        info = sf.info(str(wav))
        if info.samplerate != rate:
            raise ArdourError(f"{wav}: {info.samplerate} Hz; the session runs at {rate} Hz")
        fname = f"{tag}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', track)}.wav"
        shutil.copyfile(wav, audio_dir / fname)
        pos_sc, len_sc = superclock(position, rate), superclock(info.frames, rate)
        src_ids = []
        for ch in range(info.channels):
            sid = next_id()
            src_ids.append(sid)
            ET.SubElement(sources, "Source", {
                "name": fname, "type": "audio", "flags": "", "id": sid, "natural-position": f"a{pos_sc}",
                "channel": str(ch), "origin": str(wav), "gain": "1"})
        region_name = f"{tag}-{track}"

        ET.SubElement(regions, "Region", _region(next_id(), True, region_name, pos_sc, len_sc, src_ids))
        playlist = playlists[route.get("audio-playlist")]
        for old in [r for r in playlist.findall("Region") if (r.get("name") or "").startswith(region_name)]:
            playlist.remove(old)  # the previous take of this section on this track
        ET.SubElement(playlist, "Region", _region(next_id(), False, f"{region_name}.1", pos_sc, len_sc, src_ids))
        landed.append(LandedRegion(track, f"{region_name}.1", position, info.frames))
        end_sample = max(end_sample, position + info.frames)
    root.set("id-counter", str(counter + 1))
    for loc in root.iter("Location"):
        if "IsSessionRange" in (loc.get("flags") or ""):
            start = loc.get("start", "a0")
            start_sc = int(start.lstrip("a").split("@")[0] or 0)
            loc.set("start", f"a{min(start_sc, superclock(position, rate))}")
            loc.set("end", f"a{max(int((loc.get('end') or 'a0').lstrip('a') or 0), superclock(end_sample, rate))}")
    if not any("IsSessionRange" in (loc.get("flags") or "") for loc in root.iter("Location")):
        locs = root.find("Locations")
        if locs is not None:
            ET.SubElement(locs, "Location", {"id": str(counter + 2), "name": "session", "start": "a0",
                                             "end": f"a{superclock(end_sample, rate)}", "flags": "IsSessionRange",
                                             "locked": "0", "timestamp": str(int(time.time())), "cue": "0"})
            root.set("id-counter", str(counter + 3))
    shutil.copyfile(xml_path, xml_path.with_suffix(".ardour.sb-bak"))
    tmp = xml_path.with_name(f".{xml_path.name}.tmp")
    tree.write(tmp, xml_declaration=True, encoding="UTF-8")
    os.replace(tmp, xml_path)
    return landed


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


def session_regions(session_dir: Path, name: str) -> list[tuple[str, str, int, int, int, float]]:
    """(track, region, position, length, channels, peak) as Ardour itself loads them."""
    script = f"""
local s = load_session({_lua_str(str(session_dir))}, {_lua_str(name)}); assert(s)
for t in s:get_tracks():iter() do
  for r in t:to_track():playlist():region_list():iter() do
    local ar = r:to_audioregion()
    print(string.format("REGION\\t%s\\t%s\\t%d\\t%d\\t%d\\t%.5f", t:name(), r:name(), r:position():samples(),
      r:length():samples(), ar:n_channels(), ar:maximum_amplitude(nil)))
  end
end
close_session()
"""
    out = []
    for line in _lua(script).splitlines():
        if line.startswith("REGION\t"):
            _, track, region, pos, length, ch, peak = line.split("\t")
            out.append((track, region, int(pos), int(length), int(ch), float(peak)))
    return out


def export_session(session_dir: Path, name: str, out: Path) -> Path:
    exe = shutil.which("ardour7-export")
    if exe is None:
        raise ArdourError("ardour7-export is not installed (apt-get install ardour)")
    res = subprocess.run([exe, "-b", "float", "-o", str(out), str(session_dir), name], capture_output=True,
                         text=True, timeout=300)
    if res.returncode != 0 or not out.exists():
        raise ArdourError(f"ardour7-export failed: {(res.stderr or res.stdout).strip()[-300:]}")
    return out


def enable_osc(session_dir: Path, name: str) -> None:
    """Turn the session's OSC surface on (and JACK time master off), editing the closed session file."""
    xml_path = Path(session_dir) / f"{name}.ardour"
    tree = ET.parse(xml_path)
    root = tree.getroot()
    for proto in root.iter("Protocol"):
        if (proto.get("name") or "").startswith("Open Sound Control"):
            proto.set("active", "1")
    for opt in root.iter("Option"):
        if opt.get("name") == "jack-time-master":
            opt.set("value", "0")
    tree.write(xml_path, xml_declaration=True, encoding="UTF-8")
