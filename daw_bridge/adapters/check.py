""""Test" for the DAW link panel: can this project's adapter land stems right now? One sentence back (for Ardour,
checked live: ``ardour_status``), never an exception."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any


def check_link(song: Any, project_folder: Path) -> tuple[bool, str]:
    daw = song.daw
    if daw.adapter == "ardour":
        from daw_bridge.adapters.ardour_status import ardour_checks

        checks = ardour_checks(song)
        failed = [c for c in checks if not c.ok]
        if failed:
            return False, f"ardour: {failed[0].text}"
        return True, "ardour: " + "; ".join(c.text for c in checks if c.name in ("open", "osc", "rate"))
    if daw.adapter in ("reaper", "live"):
        from daw_bridge.adapters.script_check import check_script

        return check_script(daw)
    target = Path(daw.render_folder) if daw.render_folder else Path(project_folder) / "renders" / "daw"
    try:
        target.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=target, prefix=".probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return False, f"{daw.adapter}: cannot write to {target}: {exc.strerror or exc}"
    return True, f"{daw.adapter}: stamped files go to {target} (import them at their original position)"
