"""The right-click menu of an item — a take in the takes list, a section in the section lane, a loop clip in the Loops
lane — built from the table's rows for its kind (``ActionSpec.context``) with the clicked item as their target: the
same rows as the menu bar's, so the same actions, keys and enabled state (and the same titles, but where a row names
the item's place: "Split at bar 3"); a row added to the table is in both. Each entry is the row's one call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from .spec import ActionSpec, Target, is_enabled, key_sequences, keys_text, shown_text
from .table import ACTIONS


def item_rows(kind: str, target_id: str = "x", specs: Sequence[ActionSpec] = ACTIONS) -> list[ActionSpec]:
    """The rows an item of ``kind`` lists, in table order (on an empty spot, ``target_id`` "", those that need no
    item)."""
    return [s for s in specs if s.context == kind and (target_id or not s.needs_item)]


def item_title(spec: ActionSpec, win: Any, target: Target) -> str:
    """The row's text in the item's menu: its item title (or its title) with its detail."""
    title = spec.item_title(win, target) if spec.item_title is not None else spec.title
    return shown_text(spec, title, win, target)


def fill_item_menu(menu: QMenu, win: Any, target: Target, specs: Sequence[ActionSpec] = ACTIONS) -> list[QAction]:
    """Add the rows for ``target`` to ``menu``; each entry's ``data()`` is its row's id. Returns the entries (a row
    with choices: its submenu's action). The keys are shown, and work only while the menu is open (the window's own
    actions have them otherwise)."""
    out: list[QAction] = []
    for spec in item_rows(target.kind, target.id, specs):
        if spec.separator and menu.actions():
            menu.addSeparator()
        on = is_enabled(spec, win, target)
        text = item_title(spec, win, target)
        tip = spec.tip or spec.text
        if not on and spec.enabled_when is not None:
            tip += f" — needs {spec.enabled_when.needs}"
        if spec.choices is not None:
            sub = menu.addMenu(text)
            for label, value, checked in spec.choices(win, target):
                c = sub.addAction(label)
                if checked is not None:
                    c.setCheckable(True)
                    c.setChecked(checked)
                c.triggered.connect(lambda _c=False, spec=spec, value=value: spec.run(win, target, value))
            sub.setEnabled(on and bool(sub.actions()))
            sub.setToolTip(tip)
            a = sub.menuAction()
        else:
            a = QAction(text, menu)
            a.setShortcuts(key_sequences(spec))
            a.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)  # never a second owner of the window's key
            a.setEnabled(on)
            if spec.checked is not None:
                a.setCheckable(True)
                a.setChecked(spec.checked(win, target))
                a.toggled.connect(lambda checked, spec=spec: spec.run(win, target, checked))
            else:
                a.triggered.connect(lambda _c=False, spec=spec: spec.run(win, target))
            menu.addAction(a)
        a.setData(spec.id)
        a.setStatusTip(spec.tip)
        a.setToolTip(tip + (f" ({keys_text(spec)})" if keys_text(spec) else ""))
        out.append(a)
    menu.setToolTipsVisible(True)
    return out


def item_menu(parent: Any, win: Any, target: Target, specs: Sequence[ActionSpec] = ACTIONS) -> QMenu:
    """A new menu (a child of ``parent``) with the rows for ``target``."""
    menu = QMenu(parent)
    menu.setObjectName(f"item_menu.{target.kind}")
    fill_item_menu(menu, win, target, specs)
    return menu


def exec_once(menu: QMenu, pos: Any) -> None:
    """Show the menu at ``pos`` (global) and let it go afterwards (no stray copies of the rows linger)."""
    menu.exec(pos)
    menu.deleteLater()
