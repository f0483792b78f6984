"""What an app action is, as data: :class:`ActionSpec` (id, title, keys, menu, toolbar, when it is enabled, tip,
what it runs) and :class:`When`, a named predicate over the window's state ("a take", "a selected line").

A spec is checked when the window's actions are built (:func:`check`): a duplicate id, a key sequence given to two
actions or a menu that does not exist is refused with an error naming the rows, and nothing is built."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtGui import QKeySequence

#: A key as Qt spells it ("Ctrl+Shift+E", "F2", "Space") or a platform's standard key (``QKeySequence.Save``).
Key = str | QKeySequence.StandardKey


@dataclass(frozen=True)
class When:
    """A predicate over the window (its document, its selection, its history), with what it needs in words: a
    disabled action's tooltip says "needs <needs>"."""

    needs: str
    test: Callable[[Any], bool]

    def __call__(self, win: Any) -> bool:
        return bool(self.test(win))


@dataclass(frozen=True)
class ActionSpec:
    """One app action. ``run(win)`` is one call into the window, its document or the session; a checkable action
    (``checked`` given) is ``run(win, on)`` and shows ``checked(win)``. ``detail(win)`` follows the title in the
    menu (Undo's "Set tempo"). ``submenu``: a menu the window fills itself (Open recent), ``run`` unused."""

    id: str
    title: str
    menu: str
    run: Callable[..., Any]
    keys: tuple[Key, ...] = ()
    enabled_when: When | None = None
    tip: str = ""
    toolbar: bool = False
    checked: Callable[[Any], bool] | None = None
    detail: Callable[[Any], str] | None = None
    separator: bool = False  # a separator before it in its menu
    submenu: bool = False

    @property
    def text(self) -> str:
        """The title without its mnemonic ("Save &As…" → "Save As…")."""
        return self.title.replace("&&", "\0").replace("&", "").replace("\0", "&")


def key_sequences(spec: ActionSpec) -> list[QKeySequence]:
    """The spec's keys as Qt sequences: a standard key becomes the platform's main binding for it (Ctrl+S for Save
    here, Cmd+S on a Mac), as ``QAction.setShortcut`` takes it; each sequence once, in order (listed twice, Qt
    would call it ambiguous and do nothing)."""
    out: list[QKeySequence] = []
    for key in spec.keys:
        seq = QKeySequence(key)
        if not seq.isEmpty() and seq not in out:
            out.append(seq)
    return out


def keys_text(spec: ActionSpec) -> str:
    return ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in key_sequences(spec))


def check(specs: Sequence[ActionSpec], menus: Iterable[str]) -> None:
    """Refuse a table that would build a broken window: ids must be unique, every key sequence belongs to one
    action, every menu exists, a string key must parse. Raises ValueError naming the row (its index and id)."""
    menus = set(menus)
    ids: dict[str, int] = {}
    owner: dict[str, str] = {}
    for n, spec in enumerate(specs):
        where = f"gui.actions table, row {n} ({spec.id!r})"
        if not spec.id or not spec.title:
            raise ValueError(f"{where}: id and title must not be empty")
        if spec.id in ids:
            raise ValueError(f"{where}: id already used by row {ids[spec.id]}")
        ids[spec.id] = n
        if spec.menu not in menus:
            raise ValueError(f"{where}: menu {spec.menu!r} is not one of {sorted(menus)}")
        for key in spec.keys:
            if isinstance(key, str) and not QKeySequence(key).toString():  # "Ctrl+Foo" parses to no key
                raise ValueError(f"{where}: key {key!r} is not a key sequence Qt knows")
        for seq in key_sequences(spec):
            name = seq.toString(QKeySequence.SequenceFormat.PortableText)
            if name in owner:
                raise ValueError(f"{where}: key {name} is already the key of {owner[name]!r}")
            owner[name] = spec.id
