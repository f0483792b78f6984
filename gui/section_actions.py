"""What the Sections menu does (its rows are in ``gui.actions.table``): each acts on the section selected in the
section lane, else the one under the play head, and is one undoable edit (``gui.section_lane``). With no section
there, it says so in the status bar and changes nothing."""

from __future__ import annotations

from typing import Any


def _here(win: Any) -> str | None:
    sid: str | None = win.timeline.current_section()
    if sid is None:
        win.statusBar().showMessage("no section here: click one in the section lane, or move the play head into one",
                                    5000)
    return sid


def add(win: Any) -> None:
    tl = win.timeline
    kind = tl.ask_kind("Add section")
    if kind:
        rng = tl.range
        tl.add_section_at(rng[0] if rng else tl.playhead_s, kind, rng[1] if rng else None)


def rename(win: Any) -> None:
    if (sid := _here(win)) is not None:
        win.timeline.rename_section(sid)


def change_kind(win: Any) -> None:
    if (sid := _here(win)) is not None:
        tl = win.timeline
        kind = tl.ask_kind("Change section kind", tl.doc.song.section(sid).kind)
        if kind:
            tl.set_section_kind(sid, kind)


def split(win: Any) -> None:
    if (sid := _here(win)) is not None:
        win.timeline.split_section_at(sid, win.timeline.playhead_s)


def merge(win: Any) -> None:
    if (sid := _here(win)) is not None:
        win.timeline.merge_section(sid)


def delete(win: Any) -> None:
    if (sid := _here(win)) is not None:
        win.timeline.delete_section(sid)
