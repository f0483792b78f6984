"""The app's actions, declared once as data (``table.ACTIONS``), and what builds the menus, the toolbar, the keys
and the F1 sheet from them (``build.WindowActions``)."""

from .build import ShortcutSheet, WindowActions
from .spec import ActionSpec, When, check, key_sequences, keys_text
from .table import ACTIONS, GESTURES, MENUS

__all__ = ["ACTIONS", "GESTURES", "MENUS", "ActionSpec", "ShortcutSheet", "When", "WindowActions", "check",
           "key_sequences", "keys_text"]
