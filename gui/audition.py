"""Audition from the main window: play a take through its effect chains, compare A/B, loop the selection, stop and
return, and reload the chains live when the rack changes. The player's own thread does the audio; these only send
it commands."""

from __future__ import annotations

from typing import Any


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
        from engine.audio.fx import load_board, user_preset_dirs  # noqa: PLC0415
        from engine.render import audition_chains  # noqa: PLC0415

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
        from engine.render import RenderSettings  # noqa: PLC0415
        from engine.service import RenderJob  # noqa: PLC0415

        self.doc.session.flush()  # the worker reads song.json
        return self.engine.submit(RenderJob(self.doc.folder, take_id, RenderSettings(), label=f"render {take_id}"))

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

