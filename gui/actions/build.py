"""The window's actions, built from the table (``gui.actions.table``): one QAction per row (its objectName the
row's id) in its menu, on the transport toolbar when the row says so, and on the window so its keys work wherever
the keyboard is; their enabled, checked and text state refreshed in one place (:meth:`WindowActions.refresh`)
whenever the document, the history, the selection or a dock changes; and the F1 sheet, from the same rows. A row
with a context acts on the window's current item of its kind (``table.TARGETS``), found when it runs."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import QObject, QSignalBlocker
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QDockWidget, QMenu, QTextBrowser, QVBoxLayout

from .spec import ActionSpec, Target, check, is_enabled, key_sequences, keys_text, shown_text
from .table import ACTIONS, GESTURES, MENUS, TARGETS, Targeting


class WindowActions(QObject):
    """``actions[id]``: the QAction of each row; ``menus[name]``: each menu; ``submenus[id]``: the menus the window
    fills itself (Open recent); ``toolbar``: the toolbar's actions in table order."""

    def __init__(self, win: Any, specs: Sequence[ActionSpec] = ACTIONS,
                 menus: Sequence[tuple[str, str]] = MENUS, targets: Mapping[str, Targeting] = TARGETS):
        super().__init__(win)
        check(specs, (name for name, _ in menus), targets)  # a broken table builds nothing
        self.win, self.specs, self.targets = win, tuple(specs), dict(targets)
        self.actions: dict[str, QAction] = {}
        self.submenus: dict[str, QMenu] = {}
        self.menus: dict[str, QMenu] = {}
        for name, title in menus:
            if any(s.menu == name for s in specs):
                menu = win.menuBar().addMenu(title)
                menu.setObjectName(f"menu.{name.lower()}")
                menu.aboutToShow.connect(self.refresh)
                self.menus[name] = menu
        for spec in self.specs:
            menu = self.menus[spec.menu]
            if spec.separator:
                menu.addSeparator()
            if spec.submenu:
                sub = menu.addMenu(spec.title)
                sub.setObjectName(spec.id)
                self.submenus[spec.id] = sub
                continue
            action = self._make(spec)
            menu.addAction(action)
            win.addAction(action)  # its keys work with the menu bar or the toolbar hidden
            self.actions[spec.id] = action
        self.toolbar = [self.actions[s.id] for s in self.specs if s.toolbar]
        self._watch()
        self.refresh()

    def _make(self, spec: ActionSpec) -> QAction:
        a = QAction(spec.title, self.win)
        a.setObjectName(spec.id)
        a.setShortcuts(key_sequences(spec))
        a.setStatusTip(spec.tip)
        if spec.checked is not None:
            a.setCheckable(True)
            a.toggled.connect(lambda on, spec=spec: self._run(spec, on))
        else:
            a.triggered.connect(lambda _checked=False, spec=spec: self._run(spec))
        return a

    def target(self, kind: str) -> Target | None:
        """The window's current item of ``kind`` (what the menu bar's rows of that context act on), or None."""
        resolve = self.targets.get(kind)
        return resolve.find(self.win) if resolve is not None else None

    def _run(self, spec: ActionSpec, *on: bool) -> None:
        if not spec.context:
            spec.run(self.win, *on)
            return
        target = self.target(spec.context)
        if target is not None:
            spec.run(self.win, target, *on)

    def _watch(self) -> None:
        """The one place that says when the actions' state can change."""
        win = self.win
        for signal in (win.doc.songChanged, win.doc.undo.changed, win.timeline.selectionChanged,
                       win.timeline.rangeChanged, win.timeline.rangeCleared, win.timeline.followChanged,
                       win.takes.currentItemChanged, win.takes.editTake):
            signal.connect(self.refresh)
        for dock in win.findChildren(QDockWidget):
            dock.visibilityChanged.connect(self.refresh)

    def refresh(self, *_args: Any) -> None:
        """Each action enabled when its predicate holds, checked as the window is, titled with its detail."""
        for spec in self.specs:
            a = self.actions.get(spec.id)
            if a is None:
                continue
            target = self.target(spec.context) if spec.context else None
            on = is_enabled(spec, self.win, target)
            a.setEnabled(on)
            tip, keys = spec.tip or spec.text, keys_text(spec)
            if on:
                need = ""
            elif spec.context and target is None:
                need = f" — needs {self.targets[spec.context].needs}"
            else:
                need = f" — needs {spec.enabled_when.needs}" if spec.enabled_when is not None else ""
            a.setToolTip(tip + (f" ({keys})" if keys else "") + need)
            if spec.checked is not None and (target is not None or not spec.context):
                with QSignalBlocker(a):  # showing the state is not switching it
                    a.setChecked(spec.checked(self.win, target) if spec.context else spec.checked(self.win))
            if spec.detail is not None:
                a.setText(shown_text(spec, spec.title, self.win, target))

    # -- the F1 sheet ------------------------------------------------------------------------------------------------
    def sheet_rows(self) -> list[tuple[str, str, str]]:
        """(menu, action, keys) of every row of the table, menu by menu."""
        return [(name, s.text, keys_text(s)) for name in self.menus for s in self.specs if s.menu == name]

    def sheet_html(self) -> str:
        out = ["<table cellspacing='0' cellpadding='2'>"]
        menu = None
        for name, text, keys in self.sheet_rows():
            if name != menu:
                menu = name
                out.append(f"<tr><td colspan='2'><br><b>{html.escape(name)}</b></td></tr>")
            out.append(f"<tr><td>&nbsp;&nbsp;{html.escape(text)}</td><td>&nbsp;&nbsp;<tt>{html.escape(keys)}</tt>"
                       "</td></tr>")
        out.append("<tr><td colspan='2'><br><b>Timeline</b></td></tr>")
        out += [f"<tr><td colspan='2'>&nbsp;&nbsp;{html.escape(g)}</td></tr>" for g in GESTURES]
        return "".join(out) + "</table>"


class ShortcutSheet(QDialog):
    """Help > Keyboard shortcuts (F1): the table's actions with their keys, then the timeline's mouse gestures."""

    def __init__(self, actions: WindowActions, parent: Any = None):
        super().__init__(parent)
        self.setObjectName("shortcut_sheet")
        self.setWindowTitle("Keyboard shortcuts")
        self.text = QTextBrowser()
        self.text.setHtml(actions.sheet_html())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
        self.resize(640, 720)
