"""SongBridge: the command line and composition root."""

from engine.version import __version__

__all__ = ["__version__"]
