"""The headless bridge: commands from OSC and MIDI -> the engine service, the player and the DAW adapters; replies
and pushes back to the clients. One controller thread owns the project document; adapters only enqueue.
"""

from __future__ import annotations

import json
import logging
import math
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from daw_bridge import protocol as p
from daw_bridge.adapters.generic import land_files
from daw_bridge.osc.replies import Samples, message
from engine.errors import DocumentError, LyricsError, SongBridgeError

log = logging.getLogger("songbridge.bridge")
ROOT = "/songbridge"
MAX_REPLY = 60_000  # bytes: an OSC reply must fit one UDP datagram (65,507) with room for the header
MAX_LYRICS = 48_000  # characters of lyrics set over OSC, so that get/lyrics always fits a reply


@dataclass
class BridgeState:
    follow: bool = False
    daw_bpm: float | None = None
    daw_playing: bool = False
    daw_beats: float | None = None
    accepted: dict[str, str] = field(default_factory=dict)  # section id ("" = song) -> take id
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)  # job id -> what it was for


class Bridge:
    def __init__(self, project: Any, engine: Any, send: Callable[[bytes, tuple[str, int]], None],
                 player: Any = None, auto_land: bool = False, land_folder: Path | None = None,
                 version: str = "0"):
        self.project = project
        self.engine = engine
        self.send_raw = send
        self.player = player
        self.auto_land = auto_land
        self.land_folder = land_folder
        self.version = version
        self.commands: queue.Queue[p.Envelope] = queue.Queue()
        self.state = BridgeState()
        self.listeners: dict[tuple[str, str], set[tuple[str, int]]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.handled = 0

    # -- lifecycle -----------------------------------------------------------------------------------------------
    def start(self) -> Bridge:
        self._thread = threading.Thread(target=self._run, name="songbridge-bridge", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                env = self.commands.get(timeout=0.02)
            except queue.Empty:
                env = None
            if env is not None:
                try:
                    self.handle(env)
                except DocumentError as exc:
                    code = "refused_path" if "outside the project" in str(exc) else "bad_value"
                    self.error(env, code, str(exc))
                except SongBridgeError as exc:
                    self.error(env, "bad_value", str(exc))
                except Exception as exc:  # noqa: BLE001 - a bug must not stop the bridge
                    log.exception("while handling %s", env.address)
                    self.error(env, "internal", f"{type(exc).__name__}: {exc}")
                self.handled += 1
            for ev in self.engine.events():
                try:
                    self.on_event(ev)
                except Exception:  # noqa: BLE001
                    log.exception("while handling engine event %s", ev)

    # -- sending --------------------------------------------------------------------------------------------------
    def reply(self, env: p.Envelope, address: str, *args: Any) -> None:
        """Send a reply; one too large for a datagram is refused with an error naming its size (never split)."""
        if env.reply_to is None:
            return
        data = message(address, *args)
        if len(data) > MAX_REPLY:
            data = message(f"{ROOT}/error", env.address, "too_large",
                           f"the reply to {env.address} would be {len(data):,} bytes; one OSC datagram holds at most "
                           f"{MAX_REPLY:,} (shorten the lyrics or read them from the project file)")
        self.send_raw(data, env.reply_to)

    def error(self, env: p.Envelope, code: str, text: str) -> None:
        self.reply(env, f"{ROOT}/error", env.address, code, text[:1000])

    def push(self, key: tuple[str, str], address: str, *args: Any) -> None:
        data = message(address, *args)
        if len(data) > MAX_REPLY:
            log.warning("not pushing %s: %d bytes is more than a datagram holds", address, len(data))
            return
        for to in self.listeners.get(key, set()):
            self.send_raw(data, to)

    # -- commands -------------------------------------------------------------------------------------------------
    def handle(self, env: p.Envelope) -> None:
        cmd = env.command
        if isinstance(cmd, p.BadRequest):
            self.error(env, cmd.code, cmd.message)
        elif isinstance(cmd, p.Ping):
            self.reply(env, f"{ROOT}/pong", self.version)
        elif isinstance(cmd, p.GetProperty):
            self.reply(env, f"{ROOT}/{cmd.obj}/get/{cmd.prop}", *self.value(cmd.obj, cmd.prop))
        elif isinstance(cmd, p.SetProperty):
            self.set_song(cmd.prop, cmd.value)
            self.reply(env, f"{ROOT}/song/get/{cmd.prop}", *self.value("song", cmd.prop))
            self.push(("song", cmd.prop), f"{ROOT}/song/get/{cmd.prop}", *self.value("song", cmd.prop))
        elif isinstance(cmd, p.Listen):
            key = (cmd.obj, cmd.prop)
            targets = self.listeners.setdefault(key, set())
            if env.reply_to is not None:
                (targets.add if cmd.on else targets.discard)(env.reply_to)
            if cmd.on and cmd.obj in ("song", "transport"):
                self.reply(env, f"{ROOT}/{cmd.obj}/get/{cmd.prop}", *self.value(cmd.obj, cmd.prop))
        elif isinstance(cmd, p.Generate | p.Edit):
            self.submit(env, cmd)
        elif isinstance(cmd, p.GenerateHere):
            start = math.floor(self.project.song.tempo.seconds_to_bars(self.position_s()))
            self.submit(env, p.Generate(bars=(float(start), float(start + cmd.bars)), takes=cmd.takes))
        elif isinstance(cmd, p.Cancel) and cmd.job_id == "*":
            for info in self.engine.jobs():
                if info.state in ("queued", "running"):
                    self.engine.cancel(info.id)
        elif isinstance(cmd, p.Cancel):
            if not self.engine.cancel(cmd.job_id):
                self.error(env, "bad_value", f"no running or queued job {cmd.job_id!r}")
        elif isinstance(cmd, p.JobStatus):
            infos = [i for i in self.engine.jobs() if cmd.job_id in (None, i.id)]
            if cmd.job_id and not infos:
                self.error(env, "bad_value", f"no job {cmd.job_id!r}")
            for i in infos:
                frac = i.step / i.total if i.total else (1.0 if i.state == "finished" else 0.0)
                self.reply(env, f"{ROOT}/job/get/status", i.id, i.state, float(frac))
        elif isinstance(cmd, p.Accept):
            if not cmd.take:  # "the newest take"
                if not self.project.song.takes:
                    raise SongBridgeError("no take to accept yet")
                cmd = p.Accept(self.project.song.takes[-1].id, cmd.section)
            self.take(cmd.take)
            section = self.section(cmd.section).id if cmd.section else ""
            self.state.accepted[section] = cmd.take
            self.reply(env, f"{ROOT}/take/accepted", cmd.take, cmd.section or "")
        elif isinstance(cmd, p.Land):
            self.land(env, cmd)
        elif isinstance(cmd, p.Audition):
            self.audition(env, cmd)
        elif isinstance(cmd, p.FollowTransport):
            self.state.follow = cmd.on
            self.reply(env, f"{ROOT}/transport/get/follow", int(cmd.on))
        elif isinstance(cmd, p.TransportUpdate):
            self.on_transport(cmd)

    # -- song document -------------------------------------------------------------------------------------------
    def value(self, obj: str, prop: str) -> tuple[Any, ...]:
        song = self.project.song
        if obj == "transport":
            bpm = self.bpm()
            if prop == "tempo":
                return (float(bpm),)
            if prop == "is_playing":
                playing = self.state.daw_playing if self.state.follow else (
                    self.player is not None and self.player.state == "playing")
                return (int(playing),)
            if prop == "follow":
                return (int(self.state.follow),)
            seconds = self.position_s()
            beats = song.tempo.seconds_to_quarters(seconds)
            return (Samples(round(seconds * 44100)), float(seconds), float(beats), str(song.tempo.seconds_to_bbt(seconds)))
        if prop == "title":
            return (song.info.title,)
        if prop == "tempo":
            return (float(song.tempo.bpm),)
        if prop == "time_signature":
            return (str(song.tempo.meter),)
        if prop == "key":
            return (str(song.key),)
        if prop == "style":
            return (song.style.prompt,)
        if prop == "length":
            return (float(song.duration_s),)
        if prop == "sections":
            tm = song.tempo
            return (json.dumps([{"id": s.id, "name": s.name, "start_s": s.start_s, "end_s": s.end_s,
                                 "start_bar": round(tm.seconds_to_bars(s.start_s), 4),
                                 "end_bar": round(tm.seconds_to_bars(s.end_s), 4)} for s in song.sections]),)
        if prop == "lyrics":
            from engine.lyrics import format as format_lrc  # noqa: PLC0415
            from engine.lyrics import lrc_from_lines  # noqa: PLC0415

            return (format_lrc(lrc_from_lines(song.lyrics, song.sections)),)
        if prop == "takes":
            return (json.dumps([{"id": t.id, "backend": t.backend, "seed": t.seed, "parent": t.parent}
                                for t in song.takes]),)
        raise SongBridgeError(f"no property {obj}.{prop}")

    def set_song(self, prop: str, value: Any) -> None:
        from engine.song import Key, TempoMap, TimeSignature  # noqa: PLC0415
        from engine.song.model import SongInfo, Style  # noqa: PLC0415

        song = self.project.song
        try:
            if prop == "title":
                song = song.replace(info=SongInfo(value, song.info.artist))
            elif prop == "tempo":
                song = _retempo(song, TempoMap.constant(value, song.tempo.meter, song.tempo.bar1_s))
            elif prop == "time_signature":
                song = song.replace(tempo=TempoMap.constant(song.tempo.bpm, TimeSignature.parse(value),
                                                            song.tempo.bar1_s))
            elif prop == "key":
                song = song.replace(key=Key.parse(value))
            elif prop == "style":
                song = song.replace(style=Style(value, song.style.preset, song.style.reference_audio))
            elif prop == "sections":
                from engine.song.sections import parse_sections  # noqa: PLC0415

                secs = parse_sections(value, song.tempo)
                ids = {s.id for s in secs}
                song = song.replace(sections=secs, lyrics=tuple(
                    ln if ln.section_id in ids or ln.section_id is None else replace(ln, section_id=None)
                    for ln in song.lyrics))
            elif prop == "lyrics":
                from engine.lyrics import auto_time, lines_from_lrc, parse  # noqa: PLC0415

                if len(value) > MAX_LYRICS:
                    raise SongBridgeError(f"lyrics: {len(value):,} characters; at most {MAX_LYRICS:,} over OSC, so "
                                          "that /songbridge/song/get/lyrics still fits a datagram")

                lines = lines_from_lrc(parse(value, "OSC lyrics"), song.sections)
                song = song.with_lyrics(auto_time(lines, song.tempo, song.sections))
        except (ValueError, LyricsError) as exc:
            raise SongBridgeError(f"{prop}: {exc}") from None
        self.project.song = song
        self.project.save()

    def take(self, take_id: str) -> Any:
        try:
            return self.project.song.take(take_id)
        except KeyError as exc:
            raise SongBridgeError(str(exc.args[0])) from None

    def section(self, name: str) -> Any:
        for s in self.project.song.sections:
            if name in (s.id, s.name) or name.lower() == s.name.lower():
                return s
        raise SongBridgeError(f"no section {name!r}; sections: "
                              + ", ".join(s.name for s in self.project.song.sections))

    def position_s(self) -> float:
        """Where the DAW is (when following its clock), else the player's play head."""
        if self.state.follow and self.state.daw_beats is not None:
            return max(0.0, self.project.song.tempo.quarters_to_seconds(self.state.daw_beats))
        return self.player.position_s if self.player is not None else 0.0

    def bpm(self) -> float:
        if self.state.follow and self.state.daw_bpm:
            return self.state.daw_bpm
        return self.project.song.tempo.bpm

    def range_of(self, cmd: p.Generate) -> tuple[float, float, str] | None:
        """(start s, end s, label) of a section request, using the DAW's tempo when following it."""
        song = self.project.song
        if cmd.section:
            s = self.section(cmd.section)
            return s.start_s, s.end_s, s.name
        if cmd.bars:
            tempo = song.tempo
            if self.state.follow and self.state.daw_bpm:
                from engine.song import TempoMap  # noqa: PLC0415

                tempo = TempoMap.constant(self.state.daw_bpm, tempo.meter, tempo.bar1_s)
            if cmd.bars[0] < 1:
                raise SongBridgeError(f"bars {cmd.bars[0]:g}-{cmd.bars[1]:g}: bars count from 1")
            a, b = (tempo.bars_to_seconds(x) for x in cmd.bars)
            return self._inside(a, b, f"bars {cmd.bars[0]:g}-{cmd.bars[1]:g}")
        if cmd.seconds:
            return self._inside(cmd.seconds[0], cmd.seconds[1], f"{cmd.seconds[0]:g}-{cmd.seconds[1]:g} s")
        return None

    def _inside(self, a: float, b: float, label: str) -> tuple[float, float, str]:
        """A range to regenerate must start inside the take it edits (its end is clipped to the take)."""
        song = self.project.song
        base = self.state.accepted.get("") or (song.takes[-1].id if song.takes else None)
        length = song.take(base).duration_s if base else song.duration_s
        if length and a >= length:
            raise SongBridgeError(f"{label} starts at {a:.1f} s, after the end of the song ({length:.1f} s)")
        return a, (min(b, length) if length else b), label

    # -- jobs -----------------------------------------------------------------------------------------------------
    def submit(self, env: p.Envelope, cmd: p.Generate | p.Edit) -> None:
        from engine.backends.base import EditSpec  # noqa: PLC0415
        from engine.generation import plan_takes  # noqa: PLC0415
        from engine.service import PRIORITY_BATCH, PRIORITY_SECTION, GenerateJob  # noqa: PLC0415
        from engine.song import TimeRange  # noqa: PLC0415

        song = self.project.song
        edit = None
        label = "song"
        rng: tuple[float, float] | None = None
        if isinstance(cmd, p.Edit):
            # Everything is checked before the lyrics change: a refused edit changes nothing.
            source = self.take(cmd.take)
            ranges = list(cmd.ranges)
            timed = song.timed_lines()
            for lid in cmd.line_ids:
                idx = next((i for i, ln in enumerate(timed) if ln.id == lid), None)
                if idx is None:
                    raise SongBridgeError(f"no timed lyric line {lid!r}")
                end = timed[idx + 1].start_s if idx + 1 < len(timed) else source.duration_s
                ranges.append((timed[idx].start_s, end))
            for a, b in ranges:
                if a >= source.duration_s:
                    raise SongBridgeError(f"range {a:g}-{b:g} s starts after the end of {source.id} "
                                          f"({source.duration_s:.1f} s)")
            known = {ln.id for ln in song.lyrics}
            unknown = [lid for lid, _ in cmd.new_lyrics if lid not in known]
            if unknown:
                raise SongBridgeError(f"no lyric line {unknown[0]!r}")
            if any("\n" in text or len(text) > 500 for _, text in cmd.new_lyrics):
                raise SongBridgeError("new lyric text must be one line of at most 500 characters")
            edit = EditSpec(source.id, tuple(TimeRange(a, min(b, source.duration_s)) for a, b in ranges))
            if cmd.new_lyrics:
                texts = dict(cmd.new_lyrics)
                song = song.with_lyrics(replace(ln, text=texts.get(ln.id, ln.text)) for ln in song.lyrics)
                self.project.song = song
                self.project.save()
            label = f"edit of {source.id}"
            seed, takes, style, backend = cmd.seed, 1, None, None
        else:
            r = self.range_of(cmd)
            if r is not None:
                base = self.state.accepted.get("") or (song.takes[-1].id if song.takes else None)
                if base is None:
                    raise SongBridgeError("there is no take to regenerate a section of; generate the song first")
                edit = EditSpec(base, (TimeRange(r[0], r[1]),))
                rng, label = (r[0], r[1]), r[2]
            seed, takes, style, backend = cmd.seed, cmd.takes, cmd.style, cmd.backend
        if style:
            from engine.song.model import Style  # noqa: PLC0415

            self.project.song = self.project.song.replace(style=Style(style))
        backend_name = backend or (self.project.song.takes[-1].backend if self.project.song.takes else "guide")
        if seed is None:
            import secrets  # noqa: PLC0415

            seed = secrets.randbelow(2**31)
        duration = self.project.song.take(edit.source_take).duration_s if edit else None
        requests = plan_takes(self.project, takes, seed, duration_s=duration, edit=edit)
        job = GenerateJob(backend_name, tuple(requests), {}, PRIORITY_SECTION if edit else PRIORITY_BATCH,
                          f"{label} ({takes} take{'s' if takes > 1 else ''})")
        job_id = self.engine.submit(job)
        self.state.jobs[job_id] = {"reply_to": env.reply_to, "range": rng, "label": label,
                                   "section": cmd.section if isinstance(cmd, p.Generate) else None}
        self.reply(env, f"{ROOT}/job/queued", job_id, job.label)

    def on_event(self, ev: Any) -> None:
        from engine.service import Cancelled, Failed, Finished, Progress  # noqa: PLC0415

        info = self.state.jobs.get(ev.job_id, {})
        if info.get("kind") == "land":
            if isinstance(ev, Finished):
                try:
                    self.landed(info, ev.render)
                except SongBridgeError as exc:
                    if info.get("reply_to") is not None:
                        self.send_raw(message(f"{ROOT}/stems/landed", info["take"], self.project.song.daw.adapter, 0,
                                              str(exc)[:1000]), info["reply_to"])
            elif isinstance(ev, Failed) and info.get("reply_to") is not None:
                self.send_raw(message(f"{ROOT}/stems/landed", info["take"], "generic", 0, ev.error[:1000]),
                              info["reply_to"])
            return
        targets = set(self.listeners.get(("job", "events"), set()))
        if info.get("reply_to") is not None:
            targets.add(info["reply_to"])
        if isinstance(ev, Progress):
            data = message(f"{ROOT}/job/progress", ev.job_id, int(ev.step), int(ev.total),
                           float(ev.eta_s if ev.eta_s is not None else -1.0))
        elif isinstance(ev, Finished):
            if ev.takes:
                for take in ev.takes:
                    self.project.song = self.project.song.with_take(take)
                self.project.save()
            take = ev.take
            path = str(self.project.take_dir(take.id) / "mix.wav") if take else ""
            data = message(f"{ROOT}/job/done", ev.job_id, take.id if take else "", path)
            if self.auto_land and take is not None and info:
                self.commands.put(p.Envelope(p.Land(take.id, info.get("section")), f"{ROOT}/stems/land",
                                             info.get("reply_to")))
        elif isinstance(ev, Failed):
            data = message(f"{ROOT}/job/failed", ev.job_id, ev.error[:1000])
        elif isinstance(ev, Cancelled):
            data = message(f"{ROOT}/job/cancelled", ev.job_id)
        else:
            return
        for to in targets:
            self.send_raw(data, to)

    # -- landing ------------------------------------------------------------------------------------------------
    def land(self, env: p.Envelope, cmd: p.Land) -> None:
        from engine.render import RenderSettings  # noqa: PLC0415
        from engine.service import RenderJob  # noqa: PLC0415

        song = self.project.song
        section = self.section(cmd.section) if cmd.section else None
        take_id = cmd.take or self.state.accepted.get(section.id if section else "") or \
            (song.takes[-1].id if song.takes else None)
        if take_id is None:
            raise SongBridgeError("no take to land yet")
        take = self.take(take_id)
        folder = self.project.inside(cmd.folder) if cmd.folder else (
            self.land_folder or self.project.folder / "renders" / "daw")
        start, end = (section.start_s, section.end_s) if section else (0.0, take.duration_s)
        settings = RenderSettings(range_s=(start, min(end, take.duration_s)) if section else None)
        out_name = f"{take.id}-{section.id}" if section else None
        job_id = self.engine.submit(RenderJob(self.project.folder, take.id, settings, label=f"land {take.id}",
                                              out_name=out_name))
        self.state.jobs[job_id] = {"kind": "land", "reply_to": env.reply_to, "take": take.id, "folder": folder,
                                   "section": section.name if section else "song",
                                   "bar": round(song.tempo.seconds_to_bars(start), 3), "bpm": song.tempo.bpm,
                                   "start_s": start}

    def landed(self, info: dict[str, Any], render: dict[str, Any]) -> None:
        daw = self.project.song.daw
        if daw.adapter == "ardour" and daw.session:
            from daw_bridge.adapters.ardour import land_in_closed_session  # noqa: PLC0415
            from daw_bridge.adapters.generic import slug  # noqa: PLC0415

            session = Path(daw.session)
            stems = {f"{daw.track_prefix} {label}".strip(): Path(path) for label, path in render["files"].items()
                     if label != "mix"}
            position = round(info["start_s"] * 44100)
            regions = land_in_closed_session(session, session.name, stems, position, f"sb-{slug(info['section'])}")
            detail = f"{len(regions)} regions at sample {position} in {session}"
            adapter = "ardour"
        else:
            result = land_files(render["files"], info["folder"], self.project.song.info.title, info["section"],
                                info["bar"], info["bpm"])
            detail, adapter = result.detail, "generic"
        if info.get("reply_to") is not None:
            self.send_raw(message(f"{ROOT}/stems/landed", info["take"], adapter, 1, detail), info["reply_to"])

    # -- audition and transport ----------------------------------------------------------------------------------
    def audition(self, env: p.Envelope, cmd: p.Audition) -> None:
        if self.player is None:
            raise SongBridgeError("no audio output: the bridge runs without a player (start it with --audio)")
        pl = self.player
        if cmd.take and cmd.action in ("play", "ab"):
            take = self.take(cmd.take)
            pl.load(self.project.take_dir(take.id), slot="B" if cmd.action == "ab" else "A", stems=list(take.stems))
        {"play": pl.play, "pause": pl.pause, "stop": pl.stop, "ab": pl.ab}.get(cmd.action, lambda: None)()
        if cmd.action == "seek":
            pl.seek(cmd.seconds or 0.0)
        elif cmd.action == "loop":
            pl.set_loop(cmd.seconds, cmd.end_seconds)
        elif cmd.action == "loop_off":
            pl.set_loop(None)

    def on_transport(self, cmd: p.TransportUpdate) -> None:
        if cmd.bpm is not None:
            self.state.daw_bpm = cmd.bpm
            self.push(("transport", "tempo"), f"{ROOT}/transport/get/tempo", float(cmd.bpm))
        if cmd.playing is not None:
            self.state.daw_playing = cmd.playing
            self.push(("transport", "is_playing"), f"{ROOT}/transport/get/is_playing", int(cmd.playing))
        if cmd.position_beats is not None:
            self.state.daw_beats = cmd.position_beats
            self.push(("transport", "position"), f"{ROOT}/transport/get/position", *self.value("transport", "position"))


def _retempo(song: Any, tempo: Any) -> Any:
    """The song at a new tempo with its sections and lyrics kept on the same bars and beats."""
    old = song.tempo

    def move(t: float | None) -> float | None:
        return None if t is None else max(0.0, tempo.quarters_to_seconds(old.seconds_to_quarters(t)))

    sections = tuple(replace(s, start_s=move(s.start_s), end_s=move(s.end_s)) for s in song.sections)
    lyrics = tuple(replace(ln, start_s=move(ln.start_s), end_s=move(ln.end_s),
                           words=tuple(replace(w, start_s=move(w.start_s), end_s=move(w.end_s)) for w in ln.words))
                   for ln in song.lyrics)
    return song.replace(tempo=tempo, sections=sections, lyrics=lyrics)
