""""Test" for the DAW link panel: can this project's adapter land stems right now? One sentence back, never an
exception."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any


def check_link(song: Any, project_folder: Path) -> tuple[bool, str]:
    daw = song.daw
    if daw.adapter == "ardour":
        if not daw.session:
            return False, "ardour: no session folder set (song.json daw.session)"
        folder = Path(daw.session)
        session_file = folder / f"{folder.name}.ardour"
        if not session_file.is_file():
            return False, f"ardour: {session_file} not found"
        if any(folder.glob("*.pending")) or (folder / ".lock").exists() or any(folder.glob("*.lock")):
            return False, f"ardour: {folder.name} looks open in Ardour; close it to land stems into it"
        return True, f"ardour: ready to land into {session_file}"
    target = Path(daw.render_folder) if daw.render_folder else Path(project_folder) / "renders" / "daw"
    try:
        target.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=target, prefix=".probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return False, f"{daw.adapter}: cannot write to {target}: {exc.strerror or exc}"
    return True, f"{daw.adapter}: stamped files go to {target} (import them at their original position)"
