"""The Sections menu, declared as data: each action once (id, title, keys, what it does, when it is enabled); the
menu and the F1 sheet are built from the declarations. The actions work on the section selected in the section
lane, else the one under the play head; each is one undoable edit (``gui.section_lane``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu


@dataclass(frozen=True)
class SectionAction:
    id: str
    title: str
    keys: str
    run: Callable[[Any, str | None], Any]  # (timeline, current section id)
    needs_section: bool = True
    tip: str = ""


def _add(tl: Any, _sid: str | None) -> None:
    kind = tl.ask_kind("Add section")
    if kind:
        rng = tl.range
        tl.add_section_at(rng[0] if rng else tl.playhead_s, kind, rng[1] if rng else None)


def _kind(tl: Any, sid: str | None) -> None:
    kind = tl.ask_kind("Change section kind", tl.doc.song.section(sid).kind)
    if kind:
        tl.set_section_kind(sid, kind)


ACTIONS = (
    SectionAction("section.add", "Add section…", "Ctrl+Shift+A", _add, False,
                  "A section of the kind you choose: over the range selected in the ruler, else 4 bars at the play "
                  "head"),
    SectionAction("section.rename", "Rename section…", "F2", lambda tl, sid: tl.rename_section(sid)),
    SectionAction("section.kind", "Change section kind…", "", _kind, tip="Verse, chorus, bridge …: its name and "
                  "colour; sections of a kind are numbered again"),
    SectionAction("section.split", "Split section at play head", "Ctrl+Shift+E",
                  lambda tl, sid: tl.split_section_at(sid, tl.playhead_s), tip="At the bar nearest the play head"),
    SectionAction("section.merge", "Merge section with the next", "Ctrl+Shift+M",
                  lambda tl, sid: tl.merge_section(sid)),
    SectionAction("section.delete", "Delete section", "", lambda tl, sid: tl.delete_section(sid),
                  tip="Its lines stay where they are, in no section"),
)


def install(win: Any) -> QMenu:
    """The Sections menu on ``win``'s menu bar, acting on ``win.timeline``."""
    tl = win.timeline
    menu = win.menuBar().addMenu("Sec&tions")
    actions: list[tuple[QAction, SectionAction]] = []
    for spec in ACTIONS:
        a = QAction(spec.title, win)
        a.setObjectName(spec.id)
        if spec.keys:
            a.setShortcut(QKeySequence(spec.keys))
        a.setToolTip(spec.tip or spec.title)
        a.setStatusTip(spec.tip)

        def run(_checked: bool = False, spec: SectionAction = spec) -> None:
            sid = tl.current_section()
            if spec.needs_section and sid is None:
                win.statusBar().showMessage("no section here: click one in the section lane, or move the play "
                                            "head into one", 5000)
                return
            spec.run(tl, sid)

        a.triggered.connect(run)
        menu.addAction(a)
        actions.append((a, spec))
    menu.addSeparator()
    follow = QAction("Lines follow section edits", win)
    follow.setObjectName("section.follow")
    follow.setCheckable(True)
    follow.setChecked(tl.lines_follow)
    follow.setToolTip("On: a moved section's lines move with it, a resized one's keep their place in it. Off: "
                      "the lines stay where they are")
    follow.toggled.connect(tl.set_lines_follow)
    tl.followChanged.connect(follow.setChecked)
    menu.addAction(follow)

    def enable() -> None:
        has = tl.current_section() is not None
        for a, spec in actions:
            a.setEnabled(has or not spec.needs_section)

    menu.aboutToShow.connect(enable)
    # keys work whenever there is a section to act on (they say so when there is none): enabled again on close
    menu.aboutToHide.connect(lambda: [a.setEnabled(True) for a, _ in actions])
    return menu
