"""What the app does to a take after it is made (mixed into the main window): split it into stems, find its beat
grid, lock it to the project's grid (an undoable switch once the locked copy exists), use it for a section (comping:
``use_take``, ``comp_menu``), and how the takes list names an edit's lineage (``grid_text``). Each action is one
session call; none waits."""

from __future__ import annotations

from typing import Any


def grid_text(take: Any) -> str:
    """What the takes list says after a take's name: its lineage (" ← take-003, bars 17-24" for an edit) and
    " · 123.9 bpm, drift 1.2 %" for a take whose grid was measured."""
    g = take.analysis.get("grid")
    lineage = lineage_text(take)
    if not isinstance(g, dict) or not g.get("bpm"):
        return lineage
    drift = f", drift {g['drift_pct']:.1f} %" if "drift_pct" in g else ""
    return f"{lineage} · {g['bpm']:.1f} bpm{drift}"


def lineage_text(take: Any) -> str:
    """" ← take-003, bars 17-24" (bars 1-based, as recorded when the edit was made; seconds for an edit made before
    bars were recorded), else ""."""
    if not take.parent:
        return ""
    from engine.comp import bar_span

    rec = take.analysis.get("edit")
    try:
        bars = [(float(a), float(b)) for a, b in rec["bars"]] if isinstance(rec, dict) else []
    except (KeyError, TypeError, ValueError):
        bars = []
    if bars:
        where = "bars " + ", ".join(bar_span(a, b) for a, b in bars)
    else:
        where = ", ".join(f"{r.start_s:.1f}-{r.end_s:.1f} s" for r in take.edited_ranges)
    return f" ← {take.parent}" + (f", {where}" if where else "")


def use_take(doc: Any, take_id: str, section_id: str = "") -> str:
    """"Use this take for <section>" ("" = the whole song): the section's accepted take, one undoable step through
    the session (the comp renders and lands it). Returns what to say in the status bar."""
    from engine.errors import SongBridgeError

    song = doc.song
    try:
        where = song.section(section_id).name if section_id else "the song"
        before = song.accepted.get(section_id)
        doc.session.accept(take_id, section_id, "app")
    except (KeyError, SongBridgeError) as exc:
        return f"Use {take_id}: {exc.args[0] if exc.args else exc}"
    if before == take_id:
        return f"{take_id} is already the take of {where}"
    return f"{where} now plays {take_id} (render and land use it)"


def comp_menu(menu: Any, doc: Any, take_id: str, say: Any, here: str | None = None) -> None:
    """Add "Use this take for <section>" items to ``menu``: for ``here`` (the section under the mouse) first, then a
    submenu with every section and the whole song. ``say`` shows the outcome."""
    from engine.comp import is_loop

    song = doc.song
    try:
        if is_loop(song.take(take_id)):
            return
    except KeyError:
        return
    name = song.take(take_id).name or take_id
    if here:
        sec = next((s for s in song.sections if s.id == here), None)
        if sec is not None:
            menu.addAction(f"Use {name} for {sec.name}", lambda: say(use_take(doc, take_id, sec.id)))
    sub = menu.addMenu(f"Use {name} for")
    for sec in song.sections:
        a = sub.addAction(sec.name, lambda sid=sec.id: say(use_take(doc, take_id, sid)))
        a.setCheckable(True)
        a.setChecked(song.accepted.get(sec.id) == take_id)
    sub.addSeparator()
    a = sub.addAction("The whole song (where no section chose a take)", lambda: say(use_take(doc, take_id, "")))
    a.setCheckable(True)
    a.setChecked(song.accepted.get("") == take_id)


class TakeTools:
    """Split, Find grid and Lock to grid from the takes list: each is one session call (``Session.split``,
    ``Session.find_grid``); the session queues the job, shows it to every front-end (the jobs strip follows its
    events) and, for a lock, switches the lock on when the locked copy is made (``followups.switch_lock_on``). A
    refusal (no stem model, a take that is gone) is said in the status bar and nothing is queued."""

    doc: Any

    def _say(self, text: str, ms: int = 10000) -> None:
        self.statusBar().showMessage(text, ms)  # type: ignore[attr-defined]

    def split_take(self, take_id: str, two: bool = False) -> str:
        """"Split into stems" (``two``: vocal and instrumental): the job's id, or "" when the session refused."""
        from engine.errors import SongBridgeError

        try:
            return self.doc.session.split(take_id, two, origin="app")
        except SongBridgeError as exc:
            self._say(f"Split {take_id}: {exc}")
            return ""

    def grid_take(self, take_id: str, lock: bool = False) -> str:
        """"Find the beat grid" (``lock``: and make the grid-locked copy, heard once it is made)."""
        from engine.errors import SongBridgeError

        try:
            return self.doc.session.find_grid(take_id, lock=lock, origin="app")
        except SongBridgeError as exc:
            self._say(f"{'Lock' if lock else 'Grid of'} {take_id}: {exc}")
            return ""

    def continue_take(self, take_id: str, bars: float | None = None) -> str:
        """"Continue the take…": a new take that keeps the take and makes ``bars`` more bars past its end (asked for
        when None; ACE-Step's extend: the session picks a backend that can continue). One session call."""
        from engine.errors import SongBridgeError
        from engine.session import Regenerate

        if bars is None:
            from PySide6.QtWidgets import QInputDialog

            bars, ok = QInputDialog.getDouble(self, "Continue the take", f"Bars to add after the end of {take_id}:",
                                              8.0, 0.25, 256.0, 2)
            if not ok:
                return ""
        try:
            return self.doc.session.regenerate(Regenerate(take=take_id, extend_bars=float(bars)), origin="app")
        except SongBridgeError as exc:
            self._say(f"Continue {take_id}: {exc}")
            return ""

    def add_part(self, take_id: str, alone: bool = False, track: str | None = None) -> str:
        """"Add a part…" (ACE-Step lego: one more instrument over the take) or, ``alone``, "Take a part out…"
        (extract). The instrument is asked for when None. One session call."""
        from engine.errors import SongBridgeError

        if track is None:
            from PySide6.QtWidgets import QInputDialog

            from engine.backends.ace_step.tasks import TRACK_NAMES

            track, ok = QInputDialog.getItem(self, "Take a part out" if alone else "Add a part",
                                             "Instrument:", list(TRACK_NAMES), TRACK_NAMES.index("bass"), False)
            if not ok:
                return ""
        try:
            return self.doc.session.add_part(take_id, track, alone=alone, origin="app")
        except SongBridgeError as exc:
            self._say(f"{'Take the' if alone else 'Add a'} {track} {'out of' if alone else 'to'} {take_id}: {exc}")
            return ""

    def toggle_lock(self, take_id: str) -> None:
        """Hear (and render, and land) the take's grid-locked copy, or its original again: one undoable edit. The
        first time, the locked copy is made first (a session job that switches the lock on when it is ready)."""
        song = self.doc.song
        try:
            take = song.take(take_id)
        except KeyError:
            self._say(f"Lock: no take {take_id}")
            return
        if take_id in song.locked:
            self.doc.edit(song.replace(locked=tuple(t for t in song.locked if t != take_id)),
                          f"Unlock {take_id} from the grid")
        elif "lock" in take.analysis and (self.doc.project.take_dir(take_id) / "locked" / "mix.wav").is_file():
            self.doc.edit(song.replace(locked=(*song.locked, take_id)), f"Lock {take_id} to the grid")
        else:
            self.grid_take(take_id, lock=True)
