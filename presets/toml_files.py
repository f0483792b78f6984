"""Reading a TOML file that may come from someone else: bounded in size, a regular file, and every way it can be
bad (missing, unreadable, not UTF-8, invalid TOML, nested too deeply for the parser) one error naming the file."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path
from typing import Any

MAX_TOML_BYTES = 1024 * 1024  # presets, settings and chains are a few KiB


def read_toml(path: str | os.PathLike[str], error: type[Exception], max_bytes: int = MAX_TOML_BYTES) -> dict[str, Any]:
    """The table in ``path``; anything wrong raises ``error`` with a one-line message that names the file."""
    p = Path(path)
    try:
        st = os.stat(p)
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{p}: not a regular file")
        with open(p, "rb") as fh:
            raw = fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise error(f"{p}: not found") from None
    except OSError as exc:
        raise error(f"{p}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > max_bytes:
        raise error(f"{p}: larger than {max_bytes // 1024} KiB; not a file SongBridge reads")
    try:
        return tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise error(f"{p}: not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:  # its message says the line and column
        raise error(f"{p}: invalid TOML: {exc}") from None
    except RecursionError:
        raise error(f"{p}: nested too deeply to be a SongBridge file") from None
