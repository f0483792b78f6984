"""Errors a user can act on.

Every error that reaches the command line or the GUI is a :class:`SongBridgeError`: its message is one line that
names the file, line, field or argument at fault and, where possible, what to do. Anything else is a bug and is
shown with a traceback only under ``--debug``.
"""

from __future__ import annotations


class SongBridgeError(Exception):
    """Base class for errors whose message is meant for the user."""


class DocumentError(SongBridgeError):
    """A song document (``song.json``) is malformed, from an unknown schema, or cannot be saved."""


class LyricsError(SongBridgeError):
    """Lyrics (LRC or plain text) cannot be parsed; the message names the file, line and column."""


class PresetError(SongBridgeError):
    """A preset file is malformed; the message names the file and key."""


class Cancelled(SongBridgeError):
    """The job was cancelled; nothing was written."""
