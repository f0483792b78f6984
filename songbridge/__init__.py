"""SongBridge: the command line and composition root."""

__version__ = "0.1.0"
