"""A screenshot of a whole X display (the tests' Xvfb), taken with Qt's xcb platform: the image viewer's PNG of what
Ardour shows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

GRAB = """
import sys
from PySide6.QtGui import QGuiApplication
app = QGuiApplication(["grab", "-platform", "xcb"])
shot = app.primaryScreen().grabWindow(0)
sys.exit(0 if shot.save(sys.argv[1]) else 1)
"""


def grab(display: str, path: Path) -> Path:
    """Save the whole of ``display`` (``:N``) as a PNG at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
    subprocess.run([sys.executable, "-c", GRAB, str(path)], env=env, check=True, timeout=60, capture_output=True)
    return path
