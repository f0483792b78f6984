"""SongBridge engine: song document, lyrics, generation backends, job service and audio. No Qt here.

Importing this package does nothing but define names; heavy libraries are imported where they are used.
"""
