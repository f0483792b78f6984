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
        from daw_bridge.adapters import ardour_live as live  # noqa: PLC0415
        from daw_bridge.adapters.ardour import ArdourError  # noqa: PLC0415
        from daw_bridge.adapters.ardour_route import refusal  # noqa: PLC0415

        guis = [p for p in live.processes() if p.kind == "gui"]
        if guis:
            try:
                slot = live.bound_slot()
            except ArdourError as exc:
                return False, f"ardour: {exc}"
            if slot is None:
                return False, (f"ardour: {guis[0].describe()} is running and the live route is not set up: quit it "
                               "and run `songbridge daw setup ardour` once")
            return True, f"ardour: lands through the running Ardour (its action {slot}) into {folder.name}"
        why = refusal(folder)
        if why:
            return False, f"ardour: {why}"
        return True, f"ardour: ready to land into the closed session {session_file}"
    target = Path(daw.render_folder) if daw.render_folder else Path(project_folder) / "renders" / "daw"
    try:
        target.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=target, prefix=".probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return False, f"{daw.adapter}: cannot write to {target}: {exc.strerror or exc}"
    return True, f"{daw.adapter}: stamped files go to {target} (import them at their original position)"
