"""Audition from the main window: play a take through its effect chains, compare A/B, loop the selection, stop and
return, and reload the chains live when the rack changes. The player's own thread does the audio; these only send
it commands."""

from __future__ import annotations

from typing import Any

#: The key that switches between an edited take and its parent (free in every menu and lane of the app).
PARENT_AB_KEY = "P"


class Audition:
    """Mixed into the main window, which has ``doc``, ``player``, ``timeline``, ``engine`` and ``statusBar``."""

    doc: Any
    player: Any
    timeline: Any
    engine: Any

    def play_take(self, take_id: str) -> None:
        if self.player is None:
            self.statusBar().showMessage("no audio device", 4000)
            return
        take = self.doc.song.take(take_id)
        chains, master = self.chains_for(take)
        self.player.load(self.doc.project.audio_dir(take_id), stems=list(take.stems), chains=chains, master=master)
        self._playing_take = take_id
        self.timeline.slots = {k: v for k, v in self.timeline.slots.items() if v == "B" and k != take_id}
        self.timeline.slots[take_id] = "A"
        self._play_from = self.timeline.playhead_s
        self.player.seek(self.timeline.playhead_s)
        self.player.play()

    def chains_for(self, take: Any) -> tuple[dict[str, Any], Any]:
        """The take's effect chains as ``songbridge play`` and render use them: a rendered take plays with the
        chains of its render; one not rendered yet with the rack's (live)."""
        from engine.audio.fx import load_board, user_preset_dirs
        from engine.render import audition_chains

        ac = audition_chains(self.doc.project, take.id, take.stems)
        if ac.source == "render":
            self.statusBar().showMessage(f"{take.id}: {ac.describe()}; the rack applies to its next render", 8000)
        boards, master = {}, None
        for slot, preset in ac.presets.items():
            if not preset:
                continue
            try:
                board = load_board(preset, 44100, user_preset_dirs(), ac.overrides.get(slot))
            except Exception as exc:  # noqa: BLE001 - a broken preset is reported, playback goes on dry
                self.statusBar().showMessage(f"{slot}: {exc}", 8000)
                continue
            if slot == "master":
                master = board
            elif slot in take.stems:
                boards[slot] = board
        return boards, master

    def _effects_changed(self) -> None:
        """Live effects: reload the playing take's chains when the rack changes."""
        take_id = getattr(self, "_playing_take", None)
        if self.player is None or take_id is None or self.player.state != "playing":
            return
        try:
            take = self.doc.song.take(take_id)
        except KeyError:
            return
        chains, master = self.chains_for(take)
        self.player.load(self.doc.project.audio_dir(take_id), stems=list(take.stems), chains=chains, master=master)

    def compare_take(self, take_id: str) -> None:
        """A/B: the chosen take becomes B at the play head."""
        if self.player is None:
            self.statusBar().showMessage("no audio device", 4000)
            return
        take = self.doc.song.take(take_id)
        self.player.load(self.doc.project.audio_dir(take_id), slot="B", stems=list(take.stems))
        self._b_take = take.name or take.id
        self._mark_b(take_id)
        self.player.ab("B")

    def render_take(self, take_id: str) -> str:
        from engine.render import RenderSettings
        from engine.service import RenderJob

        self.doc.session.flush()  # the worker reads song.json
        return self.engine.submit(RenderJob(self.doc.folder, take_id, RenderSettings(), label=f"render {take_id}"))

    def render_song(self) -> str:
        """Render the whole song for the DAW as comped: each section's accepted take, else the song's take
        (``engine.comp``); a song no section chose a take for renders the song's take alone."""
        from engine.comp import song_take
        from engine.render import RenderSettings, comp_settings
        from engine.service import RenderJob

        song = self.doc.song
        base = song_take(song)
        if base is None:
            self.statusBar().showMessage("no song take to render yet: generate one first", 5000)
            return ""
        comped = comp_settings(song, RenderSettings())
        if comped is None:
            return self.render_take(base.id)
        self.doc.session.flush()  # the worker reads song.json
        return self.engine.submit(RenderJob(self.doc.folder, comped[0], comped[1], label="render the comp",
                                            out_name="comp"))

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
        chains, master = self.chains_for(take)
        self.player.load(self.doc.project.audio_dir(take.id), stems=list(take.stems), chains=chains, master=master)
        p_chains, p_master = self.chains_for(parent)
        self.player.load(self.doc.project.audio_dir(parent.id), slot="B", stems=list(parent.stems), chains=p_chains,
                         master=p_master)
        self.player.set_loop(a, max(b, a + 0.05))
        if not a <= t < b:
            self.timeline.locate(a)
        self.player.seek(self.timeline.playhead_s)
        self.player.ab("A")
        self.player.play()
        self._parent_ab, self._playing_take = key, take.id
        self._playing_song = ""  # the song is not what plays now (gui.loop_audition)
        self._b_take = parent.name or parent.id
        self.timeline.range = (a, b)
        self.timeline.slots = {take.id: "A", parent.id: "B"}
        self.timeline.update()
        self.statusBar().showMessage(f"A/B: {take.id} (A) against its parent {parent.id} (B), looping "
                                     f"{a:.2f}-{b:.2f} s; {PARENT_AB_KEY} switches", 8000)

    def install_parent_ab(self) -> Any:
        """The A/B-with-parent action, in the Transport menu (and so in F1's sheet)."""
        from PySide6.QtCore import Qt
        from PySide6.QtGui import QAction, QKeySequence

        a = QAction("A/B edit with its parent", self)
        a.setShortcut(QKeySequence(PARENT_AB_KEY))
        a.setShortcutContext(Qt.WindowShortcut)
        a.setToolTip(f"Loop the edited range and switch between the selected edited take and the take it came "
                     f"from ({PARENT_AB_KEY})")
        a.triggered.connect(self.ab_parent)
        menu = next((m.menu() for m in self.menuBar().actions()
                     if m.menu() is not None and m.menu().title().replace("&", "") == "Transport"), None)
        (menu or self.menuBar().addMenu("&Transport")).addAction(a)
        self.addAction(a)
        return a

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
        if self.player is not None and len(self.doc.song.takes) >= 2:
            other = self.doc.song.takes[-2]
            if getattr(self, "_b_take", None) != (other.name or other.id):
                self.player.load(self.doc.project.audio_dir(other.id), slot="B", stems=list(other.stems))
                self._b_take = other.name or other.id
                self._mark_b(other.id)
            self.player.ab()

    def _mark_b(self, take_id: str) -> None:
        """The take lanes show which take is A and which is B (the one heard is filled)."""
        self.timeline.slots = {k: v for k, v in self.timeline.slots.items() if v == "A" and k != take_id}
        self.timeline.slots[take_id] = "B"
        self.timeline.update()

