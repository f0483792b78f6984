"""What the section rows of the table do (the Sections menu and the section lane's right-click menu): each acts on
its :class:`Target` — from the menu bar the section selected in the lane, else the one under the play head; from the
lane the section clicked, at the place clicked — and is one undoable edit through the timeline
(``gui.section_lane``). With no section there, it says so in the status bar and changes nothing."""

from __future__ import annotations

from typing import Any

from engine.song import section_edits as se
from engine.song.tempo import Grid

from .spec import Choice, Target


def _section(t: Target) -> str | None:
    if t.id:
        return t.id
    nothing_here(t)
    return None


def nothing_here(t: Target) -> None:
    t.view.message.emit("no section here: click one in the section lane, or move the play head into one")


def add(_win: Any, t: Target, kind: str | None = None) -> None:
    """A section of ``kind`` (asked when not given): over the range selected in the ruler (from the lane: when the
    click is inside it), else 4 bars at the play head (from the lane: at the click)."""
    tl = t.view
    kind = kind or tl.ask_kind("Add section")
    if not kind:
        return
    rng = tl.range if tl.range is not None and (t.menu_bar or tl.range[0] <= t.at_s <= tl.range[1]) else None
    tl.add_section_at(rng[0] if rng else t.at_s, kind, rng[1] if rng else None)


def kinds_to_add(_win: Any, t: Target) -> list[Choice]:
    tl = t.view
    over = tl.range is not None and tl.range[0] <= t.at_s <= tl.range[1]
    return [(se.kind_title(k) + (" (over the selection)" if over else ""), k, None) for k in se.KINDS]


def rename(_win: Any, t: Target) -> None:
    if (sid := _section(t)) is not None:
        t.view.rename_section(sid)


def change_kind(_win: Any, t: Target, kind: str | None = None) -> None:
    if (sid := _section(t)) is not None:
        tl = t.view
        kind = kind or tl.ask_kind("Change section kind", tl.doc.song.section(sid).kind)
        if kind:
            tl.set_section_kind(sid, kind)


def kinds(_win: Any, t: Target) -> list[Choice]:
    current = t.view.doc.song.section(t.id).kind
    return [(se.kind_title(k), k, current == k) for k in se.KINDS]


def split(_win: Any, t: Target) -> None:
    if (sid := _section(t)) is not None:
        t.view.split_section_at(sid, t.at_s)


def split_title(_win: Any, t: Target) -> str:
    """"Split at bar 3": the bar nearest the click."""
    song = t.view.doc.song
    return f"Split at bar {song.tempo.seconds_to_bbt(snap(song, t.at_s)).bar}"


def merge(_win: Any, t: Target) -> None:
    if (sid := _section(t)) is not None:
        t.view.merge_section(sid)


def delete(_win: Any, t: Target) -> None:
    if (sid := _section(t)) is not None:
        t.view.delete_section(sid)


def snap(song: Any, t: float) -> float:
    from .. import editing

    return float(editing.snap(song, t, Grid.BAR))

def land(win: Any, t: Target) -> None:
    """Land the section's chosen take in the DAW (the DAW link panel's one session call)."""
    if (sid := _section(t)) is not None:
        win.daw_link.land_section(t.view.doc.song.section(sid).name)
