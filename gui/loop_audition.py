"""Playing the song as it will be landed (issue 26): Space (Play with nothing auditioned) plays the comp — each
section's accepted take, crossfaded as ``engine.comp`` assembles it for render and landing — with every loop clip at
its bar, from the play head (:class:`engine.comp_source.SongSource`, mixed at play time: nothing is written to
disk). Double-clicking a take in the takes list (or its Play) auditions that take alone, without the comp and without
the loops; Stop ends the audition, and the next Play is the song again. The source is built on a worker thread
(``gui.background``); while the song plays, an edit (a take chosen for a section, a loop moved) is heard at once.
"Play from bar N" on a clip plays the song from there, and "Land in DAW" lands the loop on its own track at its
bar through the bridge. Mixed into the main window before :class:`gui.audition.Audition`."""

from __future__ import annotations

import shutil
from typing import Any

from engine.comp_source import loop_stem

__all__ = ["LoopAudition", "install_loops", "load_source", "loop_stem"]

OLD_CACHE = "audition"  # where loops were once padded to their bar on disk (~53 MiB a loop at bar 100): removed


def load_source(player: Any, source: Any, slot: str = "A") -> None:
    """Give the player a ready source (the player's own ``load`` opens a take folder; this hands it the song)."""
    player.load_source(source, slot=slot)


def build_song_source(project: Any, song: Any, chains: dict[str, Any], master: Any) -> Any:
    """On a worker thread: the song's source (and the old on-disk loop padding gone)."""
    from engine.comp_source import SongSource

    old = project.cache_dir / OLD_CACHE
    if old.is_dir():
        shutil.rmtree(old, ignore_errors=True)
    return SongSource(project, song, chains, master)


def song_key(song: Any) -> tuple[Any, ...]:
    """What the song's playback depends on: which take plays where, the loops and their bars, the locked takes."""
    from engine.comp import comp_pieces, song_take
    from engine.errors import SongBridgeError

    try:
        pieces = comp_pieces(song) if song_take(song) is not None else ()
    except SongBridgeError:
        pieces = ()
    return (pieces, tuple((lp.id, lp.bar, lp.duration_s) for lp in song.loops), tuple(song.locked))


class LoopAudition:
    """Mixed into the main window (``doc``, ``player``, ``timeline``, ``bridge``, ``tasks``, ``statusBar``,
    ``chains_for``)."""

    doc: Any
    player: Any
    timeline: Any
    bridge: Any
    tasks: Any
    _song_build = 0  # the newest build asked for: an older one that finishes later is dropped
    _playing_song = ""  # what the song playback is (the transport bar shows it); "" while a take is auditioned

    def play_song(self, *, keep_position: bool = False) -> None:
        """Play the comp and the loops from the play head (``keep_position``: swap the song in where it plays)."""
        from engine.comp import song_take

        if self.player is None:
            self.statusBar().showMessage("no audio device", 4000)  # type: ignore[attr-defined]
            return
        song, project = self.doc.song, self.doc.project
        base = song_take(song)
        self._song_build += 1
        self._take_build = getattr(self, "_take_build", 0) + 1  # a take still loading is not played over it
        self._stopped = False
        self._song_key = song_key(song)
        build = self._song_build

        def work() -> Any:  # the chains (plugins too) load on the worker thread, with the song's files
            from .audition import load_chains

            chains, master = load_chains(project, base)[:2] if base is not None else ({}, None)
            return build_song_source(project, song, chains, master)

        self.tasks.run(work,
                       lambda src: self._song_ready(build, src, keep_position),
                       lambda exc: self._song_failed(build, exc))

    def _song_ready(self, build: int, source: Any, keep_position: bool) -> None:
        if build != self._song_build or self.player is None:
            source.close()
            return
        load_source(self.player, source)
        self.song_source = source
        self._playing_song = source.describe(self.doc.song)
        if keep_position:
            return
        self._playing_take = None
        self.timeline.slots = {}
        self.timeline.update()
        self._play_from = self.timeline.playhead_s
        self.player.seek(self.timeline.playhead_s)
        self.player.play()

    def _song_failed(self, build: int, exc: BaseException) -> None:
        if build == self._song_build:
            self.statusBar().showMessage(f"cannot play the song: {exc}", 8000)  # type: ignore[attr-defined]

    def play_take(self, take_id: str) -> None:
        """Audition one take alone (not the comp, no loops)."""
        self._song_build += 1  # a song still being built is not played over it
        self._playing_song, self._stopped = "", False
        super().play_take(take_id)  # type: ignore[misc]

    def toggle_play(self) -> None:
        """Space: pause or go on; from a stop (Stop, or the end), play the song as it will be landed."""
        if self.player is not None and (self.player.state == "stopped" or self._stopped):
            self.play_song()
            return
        super().toggle_play()  # type: ignore[misc]

    _stopped = False

    def stop(self) -> None:
        """Stop (back to where playing started); the next Play is the song, even after a take's audition."""
        super().stop()  # type: ignore[misc]
        self._stopped = True

    def _song_edited(self) -> None:
        """An edit of what plays (a take chosen for a section, a loop moved, added or removed, a take locked) while
        the song plays is heard at once: the song swapped in where it plays. Other edits (lyrics…) change nothing."""
        if not (self._playing_song and self.player is not None and self.player.state == "playing"):
            return
        if song_key(self.doc.song) != getattr(self, "_song_key", None):
            self.play_song(keep_position=True)

    def _effects_changed(self) -> None:
        if self._playing_song:
            if self.player is not None and self.player.state == "playing":
                self.play_song(keep_position=True)  # the rack changed: the song's chains again
            return
        super()._effects_changed()  # type: ignore[misc]

    def play_loop(self, loop_id: str) -> None:
        """Play the song (the comp, with every loop) from this loop's bar."""
        song = self.doc.song
        self.timeline.locate(song.tempo.bars_to_seconds(song.loop(loop_id).bar))
        if self.player is None:
            self.statusBar().showMessage("no audio device", 4000)  # type: ignore[attr-defined]
            return
        self.play_song()

    def land_loop(self, loop_id: str) -> None:
        """Land the loop in the DAW: its own track (``SB loop <prompt>``), at its bar."""
        if self.bridge is None:
            self.statusBar().showMessage("the DAW bridge is off: nothing to land in", 8000)  # type: ignore[attr-defined]
            return
        # one session call, on the bridge's thread (the lander waits for song.json there, not on the GUI thread)
        self.bridge.run_later(lambda b=self.bridge: b.session.land(loop_id, None, origin="app"))
        bar = self.doc.song.loop(loop_id).bar
        self.statusBar().showMessage(f"landing {loop_id} at bar {bar:g} …", 8000)  # type: ignore[attr-defined]


def install_loops(win: Any) -> None:
    """The Loops panel follows the play head (the clip menu's play and land are action table rows)."""
    win.timeline.playheadMoved.connect(win.loops.follow_playhead)
    win.doc.songChanged.connect(win._song_edited)
