"""The section lane of the timeline: click a section to select it, drag it to move it, drag an edge to resize it
(both snapped to bars; Shift for free), double-click to rename, right-click for add / rename / kind / split / merge
/ delete (the Sections menu's rows of ``gui.actions.table``, acting on the section clicked). Every edit is one undoable step through the session (``engine.song.section_edits`` makes the new song);
the lines inside a moved or resized section follow it unless "Lines follow section edits" is off."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt

from engine.song import section_edits as se
from engine.song.tempo import Grid

from . import editing, midi_drag
from .timeline_paint import EDGE, SECTION_H


class SectionLane:
    """Mixed into :class:`gui.timeline.Timeline`."""

    selected_section: str | None = None
    lines_follow: bool = True

    # -- finding --------------------------------------------------------------------------------------------------
    def in_section_lane(self, y: float) -> bool:
        top = self.lane_top("sections")
        return top <= y < top + SECTION_H

    def section_at(self, x: float, y: float):  # type: ignore[no-untyped-def]
        if not self.in_section_lane(y):
            return None
        t = self.t_of(x)
        return next((s for s in self.doc.song.sections if s.start_s <= t < s.end_s), None)

    def section_hit(self, x: float, y: float) -> tuple[str, str, float] | None:
        """(part, section id, its time) under the mouse: an edge (section_start / section_end) or the body
        (section_move)."""
        if not self.in_section_lane(y):
            return None
        for s in self.doc.song.sections:
            for part, t in (("section_start", s.start_s), ("section_end", s.end_s)):
                if abs(self.x_of(t) - x) <= EDGE:
                    return part, s.id, t
        sec = self.section_at(x, y)
        return ("section_move", sec.id, sec.start_s) if sec is not None else None

    def current_section(self) -> str | None:
        """The section the Sections menu acts on: the one selected in the lane, else the one at the play head."""
        ids = {s.id for s in self.doc.song.sections}
        if self.selected_section in ids:
            return self.selected_section
        at = self.doc.song.section_at(self.playhead_s)
        return at.id if at is not None else None

    def select_section(self, section_id: str | None) -> None:
        self.selected_section = section_id
        self.update()

    # -- dragging -------------------------------------------------------------------------------------------------
    def section_preview(self, kind: str, section_id: str, x0: float, x: float, free: bool) -> Any:
        """The song while a section (or one of its edges) is dragged from ``x0`` to ``x``; None when nothing
        would change."""
        song = self.doc.song
        sec = song.section(section_id)
        grid = None if free else Grid.BAR
        try:
            if kind == "section_move":
                if abs(x - x0) <= 3:
                    return None
                if midi_drag.left_window(self, x):  # out of the window: the section's MIDI goes with the mouse
                    self._drag = None
                    midi_drag.drag_section(self, section_id)
                    return None
                start = editing.snap(song, sec.start_s + (x - x0) / self.px_per_s, grid)
                return se.move_section(song, section_id, start, follow=self.lines_follow)
            t = editing.snap(song, self.t_of(x), grid)
            a, b = (t, sec.end_s) if kind == "section_start" else (sec.start_s, t)
            if b - a <= se.MIN_SECTION_S:
                return None
            return se.resize_section(song, section_id, a, b, follow=self.lines_follow)
        except ValueError:
            return None

    # -- edits ----------------------------------------------------------------------------------------------------
    def section_edit(self, make: Callable[[Any], Any], label: str) -> bool:
        """Apply a section edit as one undoable step; a refused one is said in the status bar."""
        try:
            new = make(self.doc.song)
        except (ValueError, KeyError) as exc:
            self.message.emit(f"{label}: {exc.args[0] if exc.args else exc}")
            return False
        self.doc.edit(new, label)
        return True

    def add_section_at(self, t: float, kind: str, end: float | None = None) -> bool:
        song = self.doc.song
        start = editing.snap(song, t, Grid.BAR)
        end = editing.snap(song, end, Grid.BAR) if end is not None else None
        ok = self.section_edit(lambda s: se.add_section(s, kind, start, end), "Add section")
        if ok:
            added = [s for s in self.doc.song.sections if s.id not in {x.id for x in song.sections}]
            self.select_section(added[0].id if added else None)
        return ok

    def split_section_at(self, section_id: str, t: float) -> bool:
        at = editing.snap(self.doc.song, t, Grid.BAR)
        return self.section_edit(lambda s: se.split_section(s, section_id, at), "Split section")

    def set_section_kind(self, section_id: str, kind: str) -> bool:
        return self.section_edit(lambda s: se.set_kind(s, section_id, kind), "Change section kind")

    def merge_section(self, section_id: str) -> bool:
        return self.section_edit(lambda s: se.merge_sections(s, section_id), "Merge sections")

    def delete_section(self, section_id: str) -> bool:
        if self.section_edit(lambda s: se.delete_section(s, section_id), "Delete section"):
            self.select_section(None)
            return True
        return False

    def rename_section(self, section_id: str, name: str | None = None) -> bool:
        if name is None:
            from PySide6.QtWidgets import QInputDialog

            sec = self.doc.song.section(section_id)
            name, ok = QInputDialog.getText(self, "Rename section", "Name:", text=sec.name)
            if not ok:
                return False
        return self.section_edit(lambda s: se.rename_section(s, section_id, name), "Rename section")

    def ask_kind(self, title: str, current: str = "verse") -> str | None:
        """A kind from the list (or any name typed), or None when cancelled."""
        from PySide6.QtWidgets import QInputDialog

        kinds = [se.kind_title(k) for k in se.KINDS]
        at = kinds.index(se.kind_title(current)) if se.kind_title(current) in kinds else 0
        kind, ok = QInputDialog.getItem(self, title, "Kind:", kinds, at, True)
        return kind.strip().lower() if ok and kind.strip() else None

    # -- the lane's menu -----------------------------------------------------------------------------------------
    def contextMenuEvent(self, event) -> None:
        from .actions.items import exec_once

        menu = self.section_menu(event.pos().x(), event.pos().y())
        if menu is None:
            menu = self.take_lane_menu(event.pos().x(), event.pos().y())
        if menu is not None:
            exec_once(menu, event.globalPos())

    # -- comping: "Use this take for <section>" on the section lane and on a take lane ---------------------------
    def take_lane_menu(self, x: float, y: float):  # type: ignore[no-untyped-def]
        """A take lane's menu at (x, y): use the take for the section under the mouse (or any section, or the whole
        song); None outside the take lanes."""
        from PySide6.QtWidgets import QMenu

        from .take_tools import comp_menu

        row = next((r for r in self.take_rows() if r[2] <= y < r[2] + r[3]), None)
        if row is None:
            return None
        here = self.doc.song.section_at(self.t_of(x)) if x >= 0 else None
        menu = QMenu(self)
        comp_menu(menu, self.doc, row[0], self.message.emit, here.id if here is not None else None)
        return menu if menu.actions() else None

    def _comp_submenu(self, menu, sec):  # type: ignore[no-untyped-def]
        """"Take for <section>": each song take, the chosen one checked (a submenu of ``menu``)."""
        from PySide6.QtWidgets import QMenu

        from engine.comp import is_loop, section_takes, song_take

        from .take_tools import use_take

        song = self.doc.song
        chosen = section_takes(song).get(sec.id) or song_take(song)
        sub = QMenu(f"Take for {sec.name}", menu)
        for take in reversed(song.takes):
            if is_loop(take):
                continue
            a = sub.addAction(f"Use {take.name or take.id}" + (f" ({take.id})" if take.name else ""),
                              lambda tid=take.id: self.message.emit(use_take(self.doc, tid, sec.id)))
            a.setCheckable(True)
            a.setChecked(chosen is not None and chosen.id == take.id)
        sub.setEnabled(bool(sub.actions()))
        return sub

    def section_menu(self, x: float, y: float):  # type: ignore[no-untyped-def]
        """The section lane's menu at (x, y), or None outside the lane: the table's rows for a section
        (``gui.actions.items``: the Sections menu's) acting on the section clicked, at the place clicked — on an empty
        spot only those that need no section — and, for a section, the take it plays."""
        from .actions.items import item_menu
        from .actions.spec import Target

        if not self.in_section_lane(y):
            return None
        sec = self.section_at(x, y)
        if sec is not None:
            self.select_section(sec.id)
        menu = item_menu(self, self.window(), Target("section", sec.id if sec is not None else "", self.t_of(x), self))
        if sec is not None:
            rows = menu.actions()
            follow = next((i for i, a in enumerate(rows) if a.data() == "section.follow"), len(rows))
            before = rows[follow - 1] if follow > 0 and rows[follow - 1].isSeparator() else None
            sub = self._comp_submenu(menu, sec)
            if before is None:
                menu.addSeparator()
                menu.addMenu(sub)
            else:
                menu.insertMenu(before, sub)
                menu.insertSeparator(sub.menuAction())
        return menu

    def set_lines_follow(self, on: bool) -> None:
        self.lines_follow = bool(on)
        self.followChanged.emit(self.lines_follow)

    def section_double_click(self, x: float, y: float) -> bool:
        sec = self.section_at(x, y)
        if sec is None:
            return False
        self.rename_section(sec.id)
        return True

    def section_cursor(self, x: float, y: float) -> Qt.CursorShape | None:
        hit = self.section_hit(x, y)
        if hit is None:
            return None
        return Qt.SizeHorCursor if hit[0] != "section_move" else Qt.OpenHandCursor
