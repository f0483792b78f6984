"""The SongBridge version, recorded in every take."""

__version__ = "0.1.0"
