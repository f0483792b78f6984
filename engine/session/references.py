"""Bringing an audio clip into the project: a style reference (``Style.reference_audio``) or a loop's variation
source, copied into ``reference/`` so the project travels whole and a take can be made again. One copy for the app,
the command line and the loops; never written through a link planted in the project. The copy reads and writes a
whole file: the app calls it from a background task, never on the GUI thread."""

from __future__ import annotations

import shutil
from pathlib import Path

from engine.safe_fs import check_inside, open_write

FOLDER = "reference"


def copy_into(folder: Path, source: Path, rel: str) -> Path:
    """Copy ``source`` to ``folder/rel`` (a temporary file, then renamed), never through a link; the same file there
    already is left alone. Returns the target."""
    target = check_inside(folder, rel)
    if target.exists() and source.resolve() == target.resolve():
        return target
    tmp = target.with_name(f".{target.name}.tmp")
    with open(source, "rb") as src, open_write(tmp, folder) as dst:
        shutil.copyfileobj(src, dst)
    tmp.replace(target)
    return target


def bring_reference(folder: Path, clip: str | Path) -> str:
    """Check ``clip`` (absolute, or relative to the project) is usable as a style reference, copy it into
    ``reference/`` unless it is in the project already, and return its path relative to the project. Raises
    SongBridgeError naming the clip (too short, not audio, missing) or OSError (the copy failed)."""
    from engine.style.reference import prepare

    path = Path(clip).expanduser()
    path = path if path.is_absolute() else folder / path
    prepare(path)
    root = folder.resolve()
    if root in path.resolve().parents:
        return str(path.resolve().relative_to(root))
    rel = f"{FOLDER}/{path.name}"
    copy_into(folder, path, rel)
    return rel
