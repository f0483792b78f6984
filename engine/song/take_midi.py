"""A take's MIDI file (``takes/<id>/guide.mid``, written by the guide backend): read it, cut out a section.

The whole-song file starts at 0 s with the song's tempo map; a section's copy starts at the section's first tick,
so a DAW places it at the section's bar, and carries the tempo, meter and key in force there, that section's
marker, and the notes that start inside it (cut at its end). The command line's ``export-midi`` and the DAW
landing both come here, so they give the same file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.errors import SongBridgeError

from .model import Section, Song, Take
from .tempo import TempoMap

#: The file name of a take's MIDI, beside its mix.wav.
MIDI_NAME = "guide.mid"
#: The largest MIDI file read: a guide song's is tens of KiB.
MAX_MIDI_BYTES = 8 * 1024 * 1024
_STATE = ("set_tempo", "time_signature", "key_signature", "track_name", "program_change")


def midi_path(take_dir: Path, take: Take) -> Path:
    """``take_dir/guide.mid``; an error naming the take when it has none (only guide takes write one)."""
    path = Path(take_dir) / MIDI_NAME
    if not path.is_file() or path.is_symlink():
        made = f"made by {take.backend}" if take.backend != "guide" else "made before the guide wrote MIDI"
        raise SongBridgeError(f"{take.id} has no MIDI ({path} is missing): it was {made}; a take from "
                              "`songbridge generate --backend guide` has one")
    return path


def read_midi(path: Path) -> Any:
    """The ``mido.MidiFile`` at ``path`` (at most ``MAX_MIDI_BYTES``); a damaged file is an error naming it."""
    import io

    import mido

    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_MIDI_BYTES + 1)
    except OSError as exc:
        raise SongBridgeError(f"{path}: cannot read: {exc.strerror}") from None
    if len(data) > MAX_MIDI_BYTES:
        raise SongBridgeError(f"{path}: larger than {MAX_MIDI_BYTES // 2**20} MiB; not a guide MIDI file")
    try:
        return mido.MidiFile(file=io.BytesIO(data))
    except (OSError, ValueError, EOFError, KeyError, IndexError) as exc:
        raise SongBridgeError(f"{path}: not a readable MIDI file ({exc})") from None


def absolute_times(track: Any) -> list[tuple[int, Any]]:
    """A MIDI track's messages with their absolute tick (its delta times summed)."""
    now, out = 0, []
    for msg in track:
        now += msg.time
        out.append((now, msg))
    return out


def slice_midi(mid: Any, tempo: TempoMap, section: Section) -> Any:
    """``mid`` (a whole-song file from 0 s) cut to ``section``, its start moved to tick 0."""
    import mido

    ppq = mid.ticks_per_beat
    q0 = tempo.seconds_to_quarters(0.0)

    def tick(t: float) -> int:
        return max(0, round((tempo.seconds_to_quarters(t) - q0) * ppq))

    a, b = tick(section.start_s), tick(section.end_s)
    out = mido.MidiFile(type=mid.type, ticks_per_beat=ppq)
    for track in mid.tracks:
        state: dict[tuple[str, int | None], Any] = {}
        kept: list[tuple[int, Any]] = []
        sounding: set[tuple[int, int]] = set()
        for t, msg in absolute_times(track):
            if msg.type == "end_of_track":
                continue
            off = msg.type == "note_off" or (msg.type == "note_on" and msg.velocity == 0)
            if t < a:
                if msg.type in _STATE:
                    state[(msg.type, getattr(msg, "channel", None))] = msg
                continue
            if msg.type == "marker" and msg.text != section.name:
                continue
            if off:
                k = (msg.channel, msg.note)
                if k in sounding:
                    sounding.discard(k)
                    kept.append((min(t, b), msg))
                continue
            if t >= b:
                continue
            if msg.type == "note_on":
                sounding.add((msg.channel, msg.note))
            kept.append((t, msg))
        new = mido.MidiTrack()
        firsts = [m for m in state.values() if m.type == "track_name"] + \
                 [m for m in state.values() if m.type != "track_name"]
        for msg in firsts:
            new.append(msg.copy(time=0))
        now = a
        for t, msg in sorted(kept, key=lambda e: (e[0], 0 if e[1].type == "note_off" or (
                e[1].type == "note_on" and e[1].velocity == 0) else 1)):
            new.append(msg.copy(time=t - now))
            now = t
        new.append(mido.MetaMessage("end_of_track", time=max(0, b - now)))
        out.tracks.append(new)
    return out


def take_midi(take_dir: Path, song: Song, take: Take, section: Section | None = None) -> Any:
    """The take's MIDI (whole, or ``section`` only, from its start) as a ``mido.MidiFile``."""
    mid = read_midi(midi_path(take_dir, take))
    if section is None:
        return mid
    if section.start_s >= take.duration_s:
        raise SongBridgeError(f"{section.name} starts at {section.start_s:.1f} s, after the end of {take.id} "
                              f"({take.duration_s:.1f} s)")
    return slice_midi(mid, song.tempo, section)


def save_midi(mid: Any, path: Path, root: Path | None = None) -> Path:
    """Write ``mid`` at ``path`` whole (a temporary file renamed), never through a link."""
    from engine.safe_fs import open_write

    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial")
    with open_write(tmp, root) as fh:
        mid.save(file=fh)
    tmp.replace(path)
    return path
