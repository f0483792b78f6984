"""What an app action is, as data: :class:`ActionSpec` (id, title, keys, menu, toolbar, when it is enabled, tip,
what it runs) and :class:`When`, a named predicate over the window's state ("a take", "a selected line").

A row with a ``context`` ("take", "section", "loop") acts on one item, a :class:`Target`: in the menu bar the
window's current one (the take selected in the takes list, the section selected or at the play head, the loop clip
selected or at the play head), in the right-click menu of an item that item (``gui.actions.items``). Its ``run``,
``enabled_when``, ``checked`` and ``detail`` then take the target after the window.

A spec is checked when the window's actions are built (:func:`check`): a duplicate id, a key sequence given to two
actions or a menu that does not exist is refused with an error naming the rows, and nothing is built."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtGui import QKeySequence

#: A key as Qt spells it ("Ctrl+Shift+E", "F2", "Space") or a platform's standard key (``QKeySequence.Save``).
Key = str | QKeySequence.StandardKey


@dataclass(frozen=True)
class When:
    """A predicate over the window (its document, its selection, its history), with what it needs in words: a
    disabled action's tooltip says "needs <needs>"."""

    needs: str
    test: Callable[..., bool]

    def __call__(self, win: Any, *target: Any) -> bool:
        return bool(self.test(win, *target))


@dataclass(frozen=True)
class Target:
    """The item a context row acts on: its kind ("take", "section", "loop"), its id ("" for an empty spot of a
    lane: only rows with ``needs_item=False`` are offered there), where (song seconds: the click, or the play head
    from the menu bar), the widget it lives in, and whether it came from the menu bar."""

    kind: str
    id: str
    at_s: float = 0.0
    view: Any = field(default=None, compare=False)
    menu_bar: bool = False


@dataclass(frozen=True)
class Targeting:
    """How the menu bar finds the item its rows of one context act on: ``find(win)`` (None: there is none, and the
    rows are disabled, their tooltip saying "needs <needs>")."""

    needs: str
    find: Callable[[Any], Target | None]


#: A choice of a row's submenu in an item's menu: (label, value given to ``run``, checked: None = not checkable).
Choice = tuple[str, Any, bool | None]


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
    checked: Callable[..., bool] | None = None
    detail: Callable[..., str] | None = None
    separator: bool = False  # a separator before it in its menu
    submenu: bool = False
    context: str = ""
    item_title: Callable[[Any, Target], str] | None = None
    choices: Callable[[Any, Target], Sequence[Choice]] | None = None
    needs_item: bool = True

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


def check(specs: Sequence[ActionSpec], menus: Iterable[str], contexts: Iterable[str] | None = None) -> None:
    """Refuse a table that would build a broken window: ids must be unique, every key sequence belongs to one
    action, every menu exists, a string key must parse, a row's context is one the window can target. Raises
    ValueError naming the row (its index and id)."""
    menus = set(menus)
    known = set(contexts) if contexts is not None else None
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
        if spec.context and known is not None and spec.context not in known:
            raise ValueError(f"{where}: context {spec.context!r} is not one of {sorted(known)}")
        if (spec.item_title or spec.choices or not spec.needs_item) and not spec.context:
            raise ValueError(f"{where}: item_title, choices and needs_item are for rows with a context")
        for key in spec.keys:
            if isinstance(key, str) and not QKeySequence(key).toString():  # "Ctrl+Foo" parses to no key
                raise ValueError(f"{where}: key {key!r} is not a key sequence Qt knows")
        for seq in key_sequences(spec):
            name = seq.toString(QKeySequence.SequenceFormat.PortableText)
            if name in owner:
                raise ValueError(f"{where}: key {name} is already the key of {owner[name]!r}")
            owner[name] = spec.id


def is_enabled(spec: ActionSpec, win: Any, target: Target | None = None) -> bool:
    """Whether the row can run: its predicate holds (a context row: for ``target``, and only with a target)."""
    if spec.context:
        return target is not None and (spec.enabled_when is None or spec.enabled_when(win, target))
    return spec.enabled_when is None or spec.enabled_when(win)


def shown_text(spec: ActionSpec, title: str, win: Any, target: Target | None = None) -> str:
    """``title`` followed by the row's detail ("Undo Set tempo", "Play from bar 9"); a context row without a target
    shows its title alone."""
    if spec.detail is None:
        return title
    if spec.context:
        more = spec.detail(win, target) if target is not None else ""
    else:
        more = spec.detail(win)
    return f"{title} {more}" if more else title
