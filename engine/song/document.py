"""``song.json``: the song document on disk, its schema version, migrations and atomic save.

The file is plain JSON with a ``schema_version``. Loading migrates older versions step by step through a
:class:`MigrationRegistry` and refuses newer ones with a message saying so; every malformed field is reported with
its JSON path. Saving is atomic: the new text goes to a temporary file that is fsynced and renamed over
``song.json``; the previous file is kept as ``song.json.bak``. At every instant ``song.json`` is a complete file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.errors import DocumentError
from engine.safe_fs import write_atomic

from .key import Key
from .loop_doc import loop_to_dict, migrate_loops, read_loops
from .model import DawLink, EffectSlot, LyricLine, Section, Song, SongInfo, Style, Take, TimeRange, WordTime
from .reader import Obj, parse_json
from .tempo import TempoMap, TempoSegment, TimeSignature

SCHEMA_VERSION = 4
SONG_FILE = "song.json"
#: The most of each list a song.json may hold: far beyond any real song (the longest the models make has ~300
#: lines), small enough that opening a hostile one costs seconds, not minutes and gigabytes.
LIMITS = {"sections": 1_000, "lyrics": 10_000, "takes": 10_000, "loops": 10_000}

Migration = Callable[[dict[str, Any]], dict[str, Any]]


class MigrationRegistry:
    """Upgrades documents one schema version at a time: ``register(n)`` maps version n to n + 1."""

    def __init__(self, current: int):
        self.current = current
        self._steps: dict[int, Migration] = {}

    def register(self, from_version: int) -> Callable[[Migration], Migration]:
        def add(fn: Migration) -> Migration:
            if from_version in self._steps:
                raise ValueError(f"a migration from schema {from_version} is already registered")
            self._steps[from_version] = fn
            return fn

        return add

    def upgrade(self, data: dict[str, Any], source: str) -> dict[str, Any]:
        version = data.get("schema_version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise DocumentError(f"{source}: $.schema_version: expected a positive integer, got {version!r}")
        if version > self.current:
            raise DocumentError(
                f"{source}: written by a newer SongBridge (schema {version}; this version reads up to "
                f"{self.current}); upgrade SongBridge to open it"
            )
        while version < self.current:
            step = self._steps.get(version)
            if step is None:
                raise DocumentError(f"{source}: no migration from schema {version} to {version + 1}")
            data = step(dict(data))
            version += 1
            data["schema_version"] = version
        return data


#: The registry used for ``song.json``. Add a step here whenever SCHEMA_VERSION goes up.
MIGRATIONS = MigrationRegistry(SCHEMA_VERSION)


@MIGRATIONS.register(1)
def _add_accepted(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 2 keeps the accepted take per section in the song (it lived only in a running bridge before)."""
    data.setdefault("accepted", {})
    return data


@MIGRATIONS.register(2)
def _add_analysis(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 3 adds what was measured on takes (``analysis``: stems, grid, lock) and the grid-locked takes in use
    (``locked``); a schema 2 document has neither."""
    data.setdefault("locked", [])
    return data


#: Schema 4: loops are clips at their bars (``loops``), no longer takes of the song (engine/song/loop_doc.py).
MIGRATIONS.register(3)(migrate_loops)


# -- Song -> JSON ----------------------------------------------------------------------------------------
def _style(s: Style) -> dict[str, Any]:
    return {
        "prompt": s.prompt,
        "preset": s.preset,
        "reference_audio": s.reference_audio,
        "negative_prompt": s.negative_prompt,
    }


def take_to_dict(t: Take) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "backend": t.backend,
        "seed": t.seed,
        "created": t.created,
        "model_id": t.model_id,
        "weights_sha256": t.weights_sha256,
        "params": dict(t.params),
        "lrc": t.lrc,
        "style": _style(t.style),
        "parent": t.parent,
        "edited_ranges": [[r.start_s, r.end_s] for r in t.edited_ranges],
        "duration_s": t.duration_s,
        "stems": list(t.stems),
        "starred": t.starred,
        "analysis": dict(t.analysis),
    }


def song_to_dict(song: Song) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "title": song.info.title,
        "artist": song.info.artist,
        "sample_rate": song.info.sample_rate,
        "tempo": {
            "bar1_s": song.tempo.bar1_s,
            "segments": [
                {"bar": s.bar, "bpm": s.bpm, "time_signature": str(s.meter)} for s in song.tempo.segments
            ],
        },
        "key": str(song.key),
        "sections": [
            {"id": s.id, "name": s.name, "start_s": s.start_s, "end_s": s.end_s, "color": s.color}
            for s in song.sections
        ],
        "lyrics": [
            {
                "id": ln.id,
                "text": ln.text,
                "start_s": ln.start_s,
                "end_s": ln.end_s,
                "words": [{"start_s": w.start_s, "text": w.text, "end_s": w.end_s} for w in ln.words],
                "section_id": ln.section_id,
            }
            for ln in song.lyrics
        ],
        "style": _style(song.style),
        "takes": [take_to_dict(t) for t in song.takes],
        "effects": {
            slot: {"preset": e.preset, "bypass": e.bypass, "overrides": dict(e.overrides)}
            for slot, e in song.effects.items()
        },
        "daw": {
            "adapter": song.daw.adapter,
            "host": song.daw.host,
            "port": song.daw.port,
            "render_folder": song.daw.render_folder,
            "session": song.daw.session,
            "track_prefix": song.daw.track_prefix,
            "follow_transport": song.daw.follow_transport,
        },
        "accepted": dict(song.accepted),
        "locked": list(song.locked),
        "loops": [loop_to_dict(lp, take_to_dict) for lp in song.loops],
    }


# -- JSON -> Song ----------------------------------------------------------------------------------------
def _read_style(o: Obj) -> Style:
    s = o.build(
        Style,
        prompt=o.str("prompt", ""),
        preset=o.opt_str("preset"),
        reference_audio=o.opt_str("reference_audio"),
        negative_prompt=o.str("negative_prompt", ""),
    )
    o.done()
    return s


def _read_tempo(o: Obj) -> TempoMap:
    segments = []
    for so in o.objs("segments"):
        ts = so.str("time_signature", "4/4")
        meter = so.build(TimeSignature.parse, text=ts)
        segments.append(so.build(TempoSegment, bar=so.int("bar", lo=1), bpm=so.float("bpm"), meter=meter))
        so.done()
    tempo = o.build(TempoMap, segments=tuple(segments), bar1_s=o.float("bar1_s", 0.0, lo=0.0))
    o.done()
    return tempo


def read_take(o: Obj) -> Take:
    ranges = []
    for i, pair in enumerate(o.list("edited_ranges", [])):
        if not (isinstance(pair, list) and len(pair) == 2):
            raise o.fail(f"{o.path}.edited_ranges[{i}]", f"expected [start_s, end_s], got {pair!r}")
        ranges.append(o.build(TimeRange, start_s=pair[0], end_s=pair[1]))
    stems = o.list("stems", [])
    if not all(isinstance(s, str) for s in stems):
        raise o.fail(f"{o.path}.stems", "expected a list of stem names")
    take = o.build(
        Take,
        id=o.str("id"),
        name=o.str("name", ""),
        backend=o.str("backend"),
        seed=o.int("seed"),
        created=o.str("created", ""),
        model_id=o.str("model_id", ""),
        weights_sha256=o.str("weights_sha256", ""),
        params=o.raw_dict("params", {}),
        lrc=o.str("lrc", ""),
        style=_read_style(o.obj("style", {})),
        parent=o.opt_str("parent"),
        edited_ranges=tuple(ranges),
        duration_s=o.float("duration_s", 0.0, lo=0.0),
        stems=tuple(stems),
        starred=o.bool("starred", False),
        analysis=o.raw_dict("analysis", {}),
    )
    o.done()
    return take


def song_from_dict(data: Any, source: str = SONG_FILE, migrations: MigrationRegistry = MIGRATIONS) -> Song:
    if not isinstance(data, dict):
        raise DocumentError(f"{source}: $: expected an object, got {type(data).__name__}")
    data = migrations.upgrade(data, source)
    o = Obj(data, source)
    o.int("schema_version")
    for key, most in LIMITS.items():  # a song from someone else is bounded before any of it is built
        items = data.get(key) if isinstance(data, dict) else None
        if isinstance(items, list) and len(items) > most:
            raise DocumentError(f"{source}: $.{key}: {len(items):,} entries; a song holds at most {most:,}")
    info = o.build(
        SongInfo,
        title=o.str("title", "Untitled"),
        artist=o.str("artist", ""),
        sample_rate=o.int("sample_rate", 44100),
    )
    key_text = o.str("key", "C major")
    key = o.build(Key.parse, text=key_text)
    sections = []
    for so in o.objs("sections", []):
        sections.append(
            so.build(
                Section,
                id=so.str("id"),
                name=so.str("name"),
                start_s=so.float("start_s", lo=0.0),
                end_s=so.float("end_s", lo=0.0),
                color=so.str("color", ""),
            )
        )
        so.done()
    lyrics = []
    for lo_ in o.objs("lyrics", []):
        words = []
        for wo in lo_.objs("words", []):
            words.append(
                wo.build(WordTime, start_s=wo.float("start_s", lo=0.0), text=wo.str("text"),
                         end_s=wo.opt_float("end_s", lo=0.0))
            )
            wo.done()
        lyrics.append(
            lo_.build(
                LyricLine,
                id=lo_.str("id"),
                text=lo_.str("text"),
                start_s=lo_.opt_float("start_s", lo=0.0),
                end_s=lo_.opt_float("end_s", lo=0.0),
                words=tuple(words),
                section_id=lo_.opt_str("section_id"),
            )
        )
        lo_.done()
    effects = {}
    for slot, eo in o.items("effects", {}):
        effects[slot] = eo.build(
            EffectSlot, preset=eo.opt_str("preset"), bypass=eo.bool("bypass", False),
            overrides=eo.raw_dict("overrides", {}),
        )
        eo.done()
    do = o.obj("daw", {})
    daw = do.build(
        DawLink,
        adapter=do.str("adapter", "generic"),
        host=do.str("host", "127.0.0.1"),
        port=do.int("port", 0, lo=0, hi=65535),
        render_folder=do.str("render_folder", ""),
        session=do.str("session", ""),
        track_prefix=do.str("track_prefix", "SB"),
        follow_transport=do.bool("follow_transport", False),
    )
    do.done()
    accepted = o.raw_dict("accepted", {})
    for where, take_id in accepted.items():
        if not isinstance(take_id, str):
            raise o.fail(f"$.accepted.{where}", f"expected a take id, got {take_id!r}")
    locked = o.list("locked", [])
    if not all(isinstance(t, str) for t in locked):
        raise o.fail("$.locked", "expected a list of take ids")
    song = o.build(
        Song,
        info=info,
        tempo=_read_tempo(o.obj("tempo")),
        key=key,
        sections=tuple(sections),
        lyrics=tuple(lyrics),
        style=_read_style(o.obj("style", {})),
        takes=tuple(read_take(t) for t in o.objs("takes", [])),
        effects=effects,
        daw=daw,
        accepted=accepted,
        locked=tuple(locked),
        loops=read_loops(o, read_take),
    )
    o.done()
    return song


# -- files -----------------------------------------------------------------------------------------------
#: A song document larger than this is refused unread (ours are well under a MiB).
MAX_SONG_BYTES = 64 * 2**20


def load_song(path: str | os.PathLike[str]) -> Song:
    """Load ``song.json`` (or a project folder holding one)."""
    p = Path(path)
    if p.is_dir():
        p = p / SONG_FILE
    try:
        with open(p, "rb") as fh:
            raw = fh.read(MAX_SONG_BYTES + 1)
        if len(raw) > MAX_SONG_BYTES:
            raise DocumentError(f"{p}: larger than {MAX_SONG_BYTES // 2**20} MiB; not a song document")
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise DocumentError(f"{p}: not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentError(f"{p}: cannot read: {exc}") from None
    return song_from_dict(parse_json(text, str(p)), str(p))


def save_song(song: Song, path: str | os.PathLike[str]) -> Path:
    """Save atomically to ``path`` (a project folder or a ``song.json`` path); keeps ``song.json.bak``."""
    p = Path(path)
    if p.is_dir() or p.suffix == ".songbridge":
        p.mkdir(parents=True, exist_ok=True)
        p = p / SONG_FILE
    text = json.dumps(song_to_dict(song), indent=2, ensure_ascii=False) + "\n"
    write_atomic(p, text, keep_backup=True)
    return p
