"""SongBridge desktop app (PySide6). The only package that imports Qt; importing it imports nothing heavy."""
