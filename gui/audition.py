"""Audition from the main window: play a take through its effect chains, compare A/B, loop the selection, stop and
return, and reload the chains live when the rack changes. The player's own thread does the audio; these only send
it commands."""

from __future__ import annotations

from typing import Any

#: The key that switches between an edited take and its parent (free in every menu and lane of the app).
PARENT_AB_KEY = "P"


def load_chains(project: Any, take: Any) -> tuple[dict[str, Any], Any, list[str]]:
    """On a worker thread: the take's effect chains as ``songbridge play`` and render use them (a rendered take with
    the chains of its render, one not rendered yet with the rack's), loaded (plugins included), the master's, and
    what to tell the producer (a broken preset is named and that stem plays dry)."""
    from engine.audio.fx import load_board, user_preset_dirs
    from engine.render import audition_chains

    ac = audition_chains(project, take.id, take.stems)
    notes = [f"{take.id}: {ac.describe()}; the rack applies to its next render"] if ac.source == "render" else []
    boards, master = {}, None
    for slot, preset in ac.presets.items():
        if not preset:
            continue
        try:
            board = load_board(preset, 44100, user_preset_dirs(), ac.overrides.get(slot))
        except Exception as exc:  # noqa: BLE001 - a broken preset is reported, playback goes on dry
            notes.append(f"{slot}: {exc}")
            continue
        if slot == "master":
            master = board
        elif slot in take.stems:
            boards[slot] = board
    return boards, master, notes


def has_chains(project: Any, take: Any) -> bool:
    """Whether playing ``take`` loads any effect chain (the song's slots; a rendered take's own are found by the
    worker): only to say "loading effects…"."""
    song = project.song
    return any(e.preset and not e.bypass for slot, e in song.effects.items() if slot in (*take.stems, "master"))


def take_source(project: Any, take: Any) -> tuple[Any, list[str]]:
    """On a worker thread: the take's stems opened for the player, through its chains (``load_chains``)."""
    from engine.audio.source import TakeSource

    chains, master, notes = load_chains(project, take)
    return TakeSource(project.audio_dir(take.id), list(take.stems), chains, master), notes


class Audition:
    """Mixed into the main window, which has ``doc``, ``player``, ``timeline``, ``engine``, ``tasks`` (the window's
    :class:`gui.background.Background`) and ``statusBar``. A take's chains (VST3 plugins included) and its files are
    loaded on a worker thread; the player gets the ready source and only then plays."""

    doc: Any
    player: Any
    timeline: Any
    engine: Any
    tasks: Any
    _take_build = 0  # the newest take load asked for: an older one that finishes later is dropped
    _b_build = 0  # the newest load of slot B alone (compare, A/B)

    def play_take(self, take_id: str) -> None:
        if self.player is None:
            self.statusBar().showMessage("no audio device", 4000)
            return
        take = self.doc.song.take(take_id)
        self._playing_take = take_id
        self.timeline.slots = {k: v for k, v in self.timeline.slots.items() if v == "B" and k != take_id}
        self.timeline.slots[take_id] = "A"
        self.timeline.update()
        self._play_from = self.timeline.playhead_s

        def start() -> None:
            self.player.seek(self.timeline.playhead_s)
            self.player.play()
        self._load_takes([(take, "A")], start)

    def _load_takes(self, takes: list[tuple[Any, str]], then: Any) -> None:
        """Open ``takes`` (take, player slot) with their chains on a worker thread, then hand the player the sources
        and call ``then`` on the GUI thread; a newer load (or the song) supersedes it. A load for slot B alone
        (compare, A/B) is superseded by a newer one for B or by any newer load of A, and never supersedes a take
        still loading for A (pressing A/B just after double-clicking a take hears both)."""
        from .loop_audition import load_source

        project = self.doc.project
        if all(slot == "B" for _take, slot in takes):
            self._b_build += 1
            mine = (self._take_build, self._b_build)

            def current() -> bool:
                return (self._take_build, self._b_build) == mine
        else:
            self._take_build += 1
            build = self._take_build

            def current() -> bool:
                return build == self._take_build
        if any(has_chains(project, t) for t, _slot in takes):
            self.statusBar().showMessage(f"{takes[0][0].id}: loading effects…", 10000)

        def work() -> list[tuple[Any, str, list[str]]]:
            out = []
            try:
                for take, slot in takes:
                    src, notes = take_source(project, take)
                    out.append((src, slot, notes))
            except BaseException:
                for src, _slot, _notes in out:
                    src.close()
                raise
            return out

        def ready(loaded: list[tuple[Any, str, list[str]]]) -> None:
            if not current() or self.player is None:
                for src, _slot, _notes in loaded:
                    src.close()
                return
            notes = [n for _src, _slot, ns in loaded for n in ns]
            if notes:
                self.statusBar().showMessage("; ".join(notes), 8000)
            elif self.statusBar().currentMessage().endswith("loading effects…"):
                self.statusBar().clearMessage()
            for src, slot, _notes in loaded:
                load_source(self.player, src, slot)
            then()

        def failed(exc: BaseException) -> None:
            if current():
                self.statusBar().showMessage(f"cannot play {takes[0][0].id}: {exc}", 8000)

        self.tasks.run(work, ready, failed)

    def chains_for(self, take: Any) -> tuple[dict[str, Any], Any]:
        """The take's chains loaded here and now (for a caller already off the GUI thread; the GUI's own playing
        loads them in a task): ``load_chains`` without its notes."""
        boards, master, _notes = load_chains(self.doc.project, take)
        return boards, master

    def _effects_changed(self) -> None:
        """Live effects: reload the playing take's chains (in a task) when the rack changes."""
        take_id = getattr(self, "_playing_take", None)
        if self.player is None or take_id is None or self.player.state != "playing":
            return
        try:
            take = self.doc.song.take(take_id)
        except KeyError:
            return
        self._load_takes([(take, "A")], lambda: None)

    def compare_take(self, take_id: str) -> None:
        """A/B: the chosen take becomes B at the play head (its files and chains opened on a worker thread; a newer
        load supersedes it)."""
        if self.player is None:
            self.statusBar().showMessage("no audio device", 4000)
            return
        take = self.doc.song.take(take_id)

        def switch() -> None:
            self._b_take = take.name or take.id
            self._mark_b(take_id)
            self.player.ab("B")
        self._load_takes([(take, "B")], switch)

    def render_take(self, take_id: str) -> str:
        """Render for the DAW: one session call (``Session.render``); a refusal (a bad chain, a plugin not allowed)
        is said in the status bar and nothing is queued. Returns the job id, or ""."""
        return self._render(take_id)

    def render_song(self) -> str:
        """Render the whole song for the DAW as comped: each section's accepted take, else the song's take
        (``Session.render`` with no take)."""
        return self._render(None)

    def _render(self, take_id: str | None) -> str:
        from engine.errors import SongBridgeError

        try:
            return self.doc.session.render(take_id, origin="app")
        except SongBridgeError as exc:
            self.statusBar().showMessage(f"nothing rendered: {exc}", 8000)
            return ""

    # -- A/B between an edited take and its parent, at the edited range (one key: PARENT_AB_KEY) ---------------
    def parent_ab_take(self) -> Any:
        """The edited take A/B compares with its parent: the one selected in the takes list, else the one playing,
        else the newest edit; None when there is none."""
        song = self.doc.song
        ids = [getattr(getattr(self, "takes", None), "edit_take", None), getattr(self, "_playing_take", None)]
        for tid in ids:
            take = next((t for t in song.takes if t.id == tid), None)
            if take is not None and take.parent:
                return take
        return next((t for t in reversed(song.takes) if t.parent), None)

    def ab_parent(self) -> None:
        """Loop the edited range and switch between the edited take (A) and its parent (B) at the same position: the
        first press loads both and plays the edit, each further press switches."""
        if self.player is None:
            self.statusBar().showMessage("no audio device", 4000)
            return
        take = self.parent_ab_take()
        if take is None:
            self.statusBar().showMessage("A/B with the parent: select an edited take (Edit this take… makes one)",
                                         6000)
            return
        song = self.doc.song
        try:
            parent = song.take(take.parent)
        except KeyError:
            self.statusBar().showMessage(f"{take.id}: its parent {take.parent} is not in the project any more", 6000)
            return
        key = (take.id, parent.id)
        if getattr(self, "_parent_ab", None) == key and self.player.state == "playing":
            self.player.ab()
            return
        t = self.timeline.playhead_s
        ranges = [(r.start_s, r.end_s) for r in take.edited_ranges] or [(0.0, take.duration_s)]
        a, b = next(((a, b) for a, b in ranges if a <= t < b), ranges[0])
        if not a <= t < b:
            self.timeline.locate(a)

        def start() -> None:
            self.player.set_loop(a, max(b, a + 0.05))
            self.player.seek(self.timeline.playhead_s)
            self.player.ab("A")
            self.player.play()
            self._parent_ab = key
        self._parent_ab = None  # the next press switches only once both are loaded
        self._load_takes([(take, "A"), (parent, "B")], start)
        self._playing_take = take.id
        self._playing_song = ""  # the song is not what plays now (gui.loop_audition)
        self._b_take = parent.name or parent.id
        self.timeline.range = (a, b)
        self.timeline.slots = {take.id: "A", parent.id: "B"}
        self.timeline.update()
        self.statusBar().showMessage(f"A/B: {take.id} (A) against its parent {parent.id} (B), looping "
                                     f"{a:.2f}-{b:.2f} s; {PARENT_AB_KEY} switches", 8000)

    def return_to_start(self) -> None:
        self.timeline.locate(0.0)

    def stop(self) -> None:
        """Stop; the play head goes back to where playing started (as in Ardour and REAPER)."""
        if self.player is not None:
            self.player.pause()
        self.timeline.locate(getattr(self, "_play_from", 0.0))

    def toggle_play(self) -> None:
        if self.player is not None:
            if self.player.state == "stopped" and self.doc.song.takes:
                self.play_take(self.doc.song.takes[-1].id)
            else:
                self.player.toggle()

    def loop(self) -> None:
        if self.player is not None and self.timeline.range:
            self.player.set_loop(*self.timeline.range)

    def ab(self) -> None:
        """Switch between A and B; the first time, the take before the newest becomes B (opened on a worker thread,
        then switched to; a newer load supersedes it)."""
        if self.player is None or len(self.doc.song.takes) < 2:
            return
        other = self.doc.song.takes[-2]
        if getattr(self, "_b_take", None) == (other.name or other.id):
            self.player.ab()
            return

        def switch() -> None:
            self._b_take = other.name or other.id
            self._mark_b(other.id)
            self.player.ab()
        self._load_takes([(other, "B")], switch)

    def _mark_b(self, take_id: str) -> None:
        """The take lanes show which take is A and which is B (the one heard is filled)."""
        self.timeline.slots = {k: v for k, v in self.timeline.slots.items() if v == "A" and k != take_id}
        self.timeline.slots[take_id] = "B"
        self.timeline.update()

