"""Which external plugins the producer allowed to run on this machine.

A VST3/AU/LV2 plugin is native code: loading it runs its constructors with the producer's rights, even when the
host then reports that the load failed. A project or a chain file can name any path, so naming a plugin is never
enough to load it: the producer allows one exact file (its resolved path and the sha256 of its bytes, or of every
file in a bundle folder), and any change to those bytes withdraws the consent. The store is a small JSON file in
the config folder (``SONGBRIDGE_CONFIG`` or platformdirs'), written atomically; ``songbridge fx allow|allowed|revoke``
and the app's effects rack edit it.

Checking a path that was never allowed reads nothing of the plugin, so a project naming ``/`` costs nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import stat
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from engine.errors import PresetError, SongBridgeError

STORE_NAME = "allowed-plugins.json"
SCHEMA_VERSION = 1
MAX_FILES = 20_000  # files in one bundle
MAX_BYTES = 8 * 2**30  # bytes hashed for one plugin
MAX_STORE_BYTES = 4 * 2**20


class ConsentError(SongBridgeError):
    """The consent store cannot be read or written, or a plugin cannot be hashed; the message names the file."""


@dataclass(frozen=True)
class Allowed:
    path: str  # resolved
    sha256: str
    allowed_at: str  # ISO 8601, UTC


@dataclass(frozen=True)
class Verdict:
    path: Path  # resolved
    allowed: bool
    entry: Allowed | None = None  # the store's entry for this path, if any
    sha256: str = ""  # the plugin's digest now (only computed when the path has an entry)

    def reason(self) -> str:
        if self.allowed:
            return "allowed"
        if self.entry is None:
            return "not allowed on this machine"
        return (f"changed since it was allowed on {self.entry.allowed_at[:10]} (sha256 now {self.sha256[:12]}..., "
                f"allowed {self.entry.sha256[:12]}...)")


def allow_command(path: Path | str) -> str:
    return f"songbridge fx allow {shlex.quote(str(path))}"


class PluginNotAllowed(PresetError):
    """One or more plugins named by a chain were not allowed on this machine (or changed since); none was loaded."""

    def __init__(self, refused: list[tuple[str, Verdict]] | tuple[tuple[str, Verdict], ...], hint: str = ""):
        self.refused = tuple(refused)
        parts = [f"{where}: plugin {v.path} is {v.reason()}; to let it run: {allow_command(v.path)}"
                 for where, v in refused]
        super().__init__("; ".join(parts) + f"{'; ' + hint if hint else ''} (a plugin is native code that runs "
                         "with your rights: allow only one you installed or trust; a project or chain file alone "
                         "never loads one)")


def store_path() -> Path:
    from engine.settings import config_dir

    return config_dir() / STORE_NAME


def _resolve(path: str | os.PathLike[str], *, strict: bool) -> Path:
    p = Path(path).expanduser()
    try:
        return p.resolve(strict=strict)
    except FileNotFoundError:
        raise ConsentError(f"{p}: not found") from None
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        raise ConsentError(f"{p}: cannot resolve: {exc}") from None


def _sha256_file(path: Path, budget: list[int]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 22):
            budget[0] -= len(block)
            if budget[0] < 0:
                raise ConsentError(f"{path}: the plugin holds more than {MAX_BYTES / 2**30:g} GiB; not hashed")
            h.update(block)
    return h.hexdigest()


def plugin_digest(path: str | os.PathLike[str]) -> str:
    """sha256 of a plugin: of a file's bytes (as ``sha256sum`` prints it), or, for a bundle folder, of the sorted
    list of ``relative path NUL sha256`` lines of every file in it. Links are followed, as the loader follows them,
    so a bundle cannot point at bytes its digest does not cover; anything but folders and regular files is refused
    (a FIFO would hang the hash)."""
    root = _resolve(path, strict=True)
    budget = [MAX_BYTES]
    st = root.stat()
    if stat.S_ISREG(st.st_mode):
        return _sha256_file(root, budget)
    if not stat.S_ISDIR(st.st_mode):
        raise ConsentError(f"{root}: not a plugin file or bundle folder")
    lines: list[str] = []
    seen: set[tuple[int, int]] = set()  # the folders on the current path: a link back up is a loop
    entries = [0]  # files and folders visited (links can make a small tree look huge)

    def walk(folder: Path, rel: str) -> None:
        fst = folder.stat()
        key = (fst.st_dev, fst.st_ino)
        if key in seen:
            raise ConsentError(f"{folder}: a link loop inside the plugin bundle {root}")
        seen.add(key)
        for entry in sorted(os.listdir(folder)):
            child = folder / entry
            name = f"{rel}/{entry}" if rel else entry
            entries[0] += 1
            if entries[0] > MAX_FILES:
                raise ConsentError(f"{root}: more than {MAX_FILES} files and folders; not a plugin bundle")
            try:
                cst = child.stat()  # follows links
            except OSError as exc:
                raise ConsentError(f"{child}: cannot read ({exc.strerror or exc}) in the plugin bundle {root}") \
                    from None
            if stat.S_ISDIR(cst.st_mode):
                walk(child, name)
            elif stat.S_ISREG(cst.st_mode):
                lines.append(f"{name}\0{_sha256_file(child, budget)}\n")
            else:
                raise ConsentError(f"{child}: neither a file nor a folder, in the plugin bundle {root}")
        seen.discard(key)

    try:
        walk(root, "")
    except OSError as exc:
        raise ConsentError(f"{root}: cannot read the plugin bundle: {exc.strerror or exc}") from None
    h = hashlib.sha256()
    for line in sorted(lines):
        h.update(line.encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def allowed() -> list[Allowed]:
    """The store's entries (none when it does not exist); ConsentError naming the store when it is damaged."""
    p = store_path()
    try:
        with open(p, "rb") as fh:
            raw = fh.read(MAX_STORE_BYTES + 1)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ConsentError(f"{p}: cannot read the allowed-plugins list: {exc.strerror or exc}") from None
    bad = f"{p}: the allowed-plugins list is damaged"
    if len(raw) > MAX_STORE_BYTES:
        raise ConsentError(f"{bad} (over {MAX_STORE_BYTES // 2**20} MiB); delete it and allow your plugins again")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise ConsentError(f"{bad} ({exc}); delete it and allow your plugins again") from None
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION \
            or not isinstance(data.get("plugins"), list):
        raise ConsentError(f"{bad} (expected schema_version {SCHEMA_VERSION} and a plugins list); delete it and "
                           "allow your plugins again")
    out = []
    for i, item in enumerate(data["plugins"]):
        if not (isinstance(item, dict) and all(isinstance(item.get(k), str) for k in ("path", "sha256", "allowed"))):
            raise ConsentError(f"{bad} (plugins[{i}] needs path, sha256 and allowed strings); delete it and allow "
                               "your plugins again")
        out.append(Allowed(item["path"], item["sha256"], item["allowed"]))
    return out


def _write(entries: list[Allowed]) -> None:
    p = store_path()
    data = {"schema_version": SCHEMA_VERSION,
            "plugins": [{"path": e.path, "sha256": e.sha256, "allowed": e.allowed_at} for e in entries]}
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=2)
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, p)  # the list is always the old one or the new one, never half of either
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ConsentError(f"{p}: cannot write the allowed-plugins list: {exc.strerror or exc}") from None


def allow(path: str | os.PathLike[str]) -> Allowed:
    """Allow this exact plugin (its bytes as they are now) on this machine; replaces an older consent for the path."""
    resolved = _resolve(path, strict=True)
    entry = Allowed(str(resolved), plugin_digest(resolved), datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    entries = [e for e in allowed() if e.path != entry.path]
    _write([*entries, entry])
    return entry


def revoke(path: str | os.PathLike[str]) -> list[Allowed]:
    """Withdraw consent for a plugin (which may be gone already); returns the entries removed (none: not allowed)."""
    p = Path(path).expanduser()
    names = {str(p), str(p.absolute()), str(_resolve(p, strict=False))}
    entries = allowed()
    gone = [e for e in entries if e.path in names]
    if gone:
        _write([e for e in entries if e.path not in names])
    return gone


def check(path: str | os.PathLike[str]) -> Verdict:
    """Whether this plugin may be loaded: its resolved path is in the store with the digest its bytes have now."""
    resolved = _resolve(path, strict=True)
    entry = next((e for e in allowed() if e.path == str(resolved)), None)
    if entry is None:
        return Verdict(resolved, False)
    digest = plugin_digest(resolved)
    return Verdict(resolved, digest == entry.sha256, entry, digest)
