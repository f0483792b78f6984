"""Landing into an Ardour that is running: who holds a session, the SongBridge Lua action, and the request it
answers.

A running Ardour keeps its session in memory and writes it back whole on the next save, so an edit made to the file
underneath it is lost (and takes the session's own content with it). So the bridge first asks the process list
which Ardour programs run and what they hold (:func:`holders`, from ``ardour_procs``), and lands into a running
Ardour through its own editor: the Lua action ``songbridge_ardour_land.lua``, bound to one of Ardour's action slots by
``songbridge daw setup ardour`` (:func:`install`), triggered over Ardour's OSC surface with
``/access_action "LuaAction/script-N"``. The action reads ``land-request.txt`` (from its inbox in Ardour's
configuration folder, or ``<session>/songbridge/`` when bound by hand), imports the stems onto their tracks at the
exact sample (or reuses the sources of a file it imported before), and writes ``land-ack.txt``, which :func:`ask`
waits for. An action asked about a session that is not the one open says which one is. :func:`send` carries
any request (``ardour_push_live``: the song's tempo map and sections); a request of a later format version is
refused by an action installed before it, which then changes nothing.

Ardour keeps its action slots in ``<config>/ui_scripts``: XML holding base64 of a Lua table (``scripts[N]`` with
``n`` name, ``s`` script text, ``f`` the factory chunk, ``a`` arguments). Ardour reads it when a session loads and
writes it whenever a slot changes, so it is only edited while no Ardour runs.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import shutil
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from daw_bridge.adapters.ardour import ArdourError, ArdourOsc
from daw_bridge.adapters.ardour_procs import (  # noqa: F401 - re-exported: live.processes() etc.
    ArdourProcess,
    alive,
    holders,
    osc_listeners,
    processes,
    udp_ports,
)

SCRIPT = Path(__file__).parent / "scripts" / "songbridge_ardour_land.lua"
MARKER = "songbridge-land-action v1"
ACTION_NAME = "SongBridge: land stems"
MAX_SLOTS = 32  # Ardour 7: MAX_LUA_ACTION_SCRIPTS
PRESEEDED = 2  # with no ui_scripts, Ardour seeds slots 1 and 2 (Mixer Screenshot, List Plugins)
REQUEST, ACK = "land-request.txt", "land-ack.txt"


def config_dir() -> Path:
    """Ardour 7's user configuration folder (``$XDG_CONFIG_HOME/ardour7``, as Ardour resolves it)."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "ardour7"


# -- the action slot ------------------------------------------------------------------------------------------------
def _read_ui_scripts(cfg: Path) -> tuple[ET.Element | None, str]:
    path = cfg / "ui_scripts"
    if not path.exists():
        return None, ""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise ArdourError(f"{path}: not readable as Ardour's action-script file ({exc})") from None
    node = root.find("ActionScript")
    text = (node.text or "").strip() if node is not None else ""
    if not text:
        return root, ""
    try:
        return root, base64.b64decode(text).decode("latin-1")
    except ValueError:
        raise ArdourError(f"{path}: the ActionScript entry is not base64") from None


def _slots(state: str) -> dict[int, str]:
    """Slot number -> the serialized text of that slot (the last assignment wins, as when Ardour loads it)."""
    marks = [(m.start(), int(m.group(1))) for m in re.finditer(r"scripts\[(\d+)\] = \{\}", state)]
    out: dict[int, str] = {}
    for i, (at, slot) in enumerate(marks):
        end = marks[i + 1][0] if i + 1 < len(marks) else len(state)
        out[slot] = state[at:end]
    return out


def bound_slot(cfg: Path | None = None) -> int | None:
    """The Ardour action slot (1-based, as in ``LuaAction/script-N``) that runs the SongBridge action, if any."""
    _, state = _read_ui_scripts(cfg or config_dir())
    hits = [slot for slot, text in _slots(state).items() if MARKER in text]
    return max(hits) if hits else None


def _lua_string(s: str) -> str:
    out = []
    for ch in s:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 32 <= code < 127:
            out.append(ch)
        else:
            out.extend(f"\\{b}" for b in ch.encode("utf-8"))
    return '"' + "".join(out) + '"'


@dataclass(frozen=True)
class Installed:
    slot: int | None
    script: Path
    registered: bool
    message: str


def install(cfg: Path | None = None, slot: int | None = None) -> Installed:
    """Copy the action script into Ardour's scripts folder and bind it to a free action slot. Ardour must not be
    running (it rewrites ``ui_scripts`` on its own); then the script is only copied and the message says how to
    bind it by hand."""
    cfg = cfg or config_dir()
    source = SCRIPT.read_text()
    (cfg / "scripts").mkdir(parents=True, exist_ok=True)
    target = cfg / "scripts" / "songbridge_land.lua"
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(source)
    os.replace(tmp, target)
    running = [p for p in processes() if p.kind == "gui"]
    if running:
        current = bound_slot(cfg)
        if current is not None:
            return Installed(current, target, True, f"already bound to Ardour's action {current} "
                                                    f"(LuaAction/script-{current}); the script file is updated")
        return Installed(None, target, False, (
            f"{running[0].describe()} is running, and it rewrites its action list itself. Either quit Ardour and "
            f"run this again, or bind the action once by hand: Edit > Lua Scripts > Script Manager > Action Scripts, "
            f"pick an unset slot, Add/Set, choose '{ACTION_NAME}'"))
    root, state = _read_ui_scripts(cfg)
    slots = _slots(state)
    if slot is None:
        slot = bound_slot(cfg)
    if slot is None:
        taken = set(slots) | (set(range(1, PRESEEDED + 1)) if root is None else set())
        slot = next((n for n in range(1, MAX_SLOTS + 1) if n not in taken), None)
        if slot is None:
            raise ArdourError(f"all {MAX_SLOTS} of Ardour's action slots are in use; free one in Edit > Lua Scripts "
                              "> Script Manager, or pass --slot N to replace slot N")
    if not 1 <= slot <= MAX_SLOTS:
        raise ArdourError(f"--slot {slot}: Ardour has action slots 1 to {MAX_SLOTS}")
    inbox = str(cfg / "songbridge") + "/"
    chunk = (f"local ardour = function () end\nlocal factory\nlocal SONGBRIDGE_INBOX = {_lua_string(inbox)}\n"
             f"{source}\nreturn factory (...)\n")
    entry = (f"scripts[{slot}] = {{}} scripts[{slot}][\"n\"] = {_lua_string(ACTION_NAME)} "
             f"scripts[{slot}][\"s\"] = {_lua_string(source)} scripts[{slot}][\"f\"] = {_lua_string(chunk)} "
             f"scripts[{slot}][\"a\"] = {{}} ")
    new_state = (state if state.strip() else "scripts = {} ") + " " + entry
    if root is None:
        root = ET.Element("UIScripts")
    node = root.find("ActionScript")
    if node is None:
        node = ET.Element("ActionScript")
        root.insert(0, node)
    node.set("lua", "Lua 5.3")
    node.text = base64.b64encode(new_state.encode("latin-1")).decode()
    if root.find("ActionHooks") is None:
        ET.SubElement(root, "ActionHooks")
    path = cfg / "ui_scripts"
    if path.exists():
        shutil.copyfile(path, path.with_name("ui_scripts.sb-bak"))
    tmp = path.with_name(".ui_scripts.tmp")
    ET.ElementTree(root).write(tmp, xml_declaration=True, encoding="UTF-8")
    os.replace(tmp, path)
    return Installed(slot, target, True, f"bound to Ardour's action {slot} (LuaAction/script-{slot}); it is ready "
                                         "the next time Ardour opens a session")


# -- one landing ----------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def exclusive(path: Path, what: str, timeout_s: float = 60.0) -> Iterator[None]:
    """One landing at a time per ``path`` across programs (an exclusive ``flock``, dropped if the holder dies)."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ArdourError(f"another program has been landing into {what} for {timeout_s:.0f} s; "
                                      "try again when it has finished") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)


@dataclass(frozen=True)
class LiveRegion:
    track: str
    region: str
    position: int
    length: int
    how: str  # "imported" or "reused"


@dataclass(frozen=True)
class LiveAnswer:
    ok: bool
    error: str
    session: str
    rate: int
    bpm: float
    meter: int
    regions: tuple[LiveRegion, ...]
    seconds: float
    session_range: str = ""  # "<start>\t<end>" samples after the landing, "none" when the session has none
    unconnected: str = ""  # tracks whose outputs go nowhere and could not be connected to the master
    created: str = ""  # tracks a "tracks" request made
    facts: tuple[tuple[str, str], ...] = ()  # every fact line of the answer, in order (key, the rest)


def _parse_ack(text: str, request_id: str) -> LiveAnswer | None:
    lines = text.splitlines()
    if not lines:
        return None
    facts: dict[str, str] = {}
    regions = []
    raw = []
    for line in lines[1:]:
        key, _, rest = line.partition("\t")
        raw.append((key, rest))
        if key == "created":
            facts["created"] = ", ".join(filter(None, (facts.get("created", ""), rest)))
        elif key == "unconnected":
            facts["unconnected"] = ", ".join(filter(None, (facts.get("unconnected", ""), rest)))
        elif key == "region":
            parts = rest.split("\t")
            if len(parts) == 5:
                regions.append(LiveRegion(parts[0], parts[1], int(parts[2]), int(parts[3]), parts[4]))
        else:
            facts[key] = rest
    if facts.get("id") != request_id:
        return None
    status = lines[0]

    def num(key: str, kind: type, default: float) -> float:
        try:
            return kind(float(facts.get(key, default)))
        except ValueError:
            return default

    return LiveAnswer(status == "ok", status[6:] if status.startswith("error") else "", facts.get("session", ""),
                      int(num("rate", int, 0)), float(num("bpm", float, 0.0)), int(num("meter", int, 0)),
                      tuple(regions), 0.0, facts.get("range", ""), facts.get("unconnected", ""),
                      facts.get("created", ""), tuple(raw))


def ask(session_dir: Path, kind: str, slot: int, osc: tuple[str, int] = ("127.0.0.1", 3819), timeout_s: float = 20.0,
        start: int = 0, end: int = 0, tag: str = "", stems: dict[str, Path] | None = None,
        cfg: Path | None = None, midi: dict[str, Path] | None = None) -> LiveAnswer:
    """Write a request, trigger the action in the running Ardour, wait for its acknowledgement. The request goes to
    the action's inbox (set up by :func:`install`; it answers whatever session is open) and to
    ``<session>/songbridge/`` (where an action bound by hand looks)."""
    fields = [f"kind\t{kind}", f"start\t{int(start)}", f"end\t{int(end)}", f"tag\t{tag}"]
    for track, path in (stems or {}).items():
        if "\t" in track or "\n" in track or "\n" in str(path):
            raise ArdourError(f"track name {track!r} or file {path}: tabs and newlines cannot be sent to Ardour")
        fields.append(f"stem\t{track}\t{os.path.realpath(path)}")
    for track, path in (midi or {}).items():  # a part of the guide's MIDI, for a MIDI track
        if "\t" in track or "\n" in track or "\n" in str(path):
            raise ArdourError(f"track name {track!r} or file {path}: tabs and newlines cannot be sent to Ardour")
        fields.append(f"midi\t{track}\t{os.path.realpath(path)}")
    if midi is not None:
        fields.append("clearmidi\t1")
    return send(session_dir, slot, fields, osc=osc, timeout_s=timeout_s, cfg=cfg)


def send(session_dir: Path, slot: int, fields: list[str], osc: tuple[str, int] = ("127.0.0.1", 3819),
         timeout_s: float = 20.0, cfg: Path | None = None, version: int = 1) -> LiveAnswer:
    """One request (``fields``: its lines after the header, id and session) to the action, and its answer. A request
    of a later ``version`` is refused by an action installed before that version ("unknown request format"), which
    then changes nothing."""
    folders = [(cfg or config_dir()) / "songbridge", Path(session_dir) / "songbridge"]
    request_id = uuid.uuid4().hex[:12]
    lines = [f"songbridge-land\t{version}", f"id\t{request_id}", f"session\t{os.path.realpath(session_dir)}", *fields]
    with exclusive(folders[0] / ".lock", "Ardour"):
        return _ask(folders, session_dir, slot, osc, timeout_s, request_id, lines)


def _ask(folders: list[Path], session_dir: Path, slot: int, osc: tuple[str, int], timeout_s: float, request_id: str,
         lines: list[str]) -> LiveAnswer:
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{REQUEST}.tmp"
        tmp.write_text("\n".join(lines) + "\n")
        os.replace(tmp, folder / REQUEST)
    began = time.monotonic()
    link = ArdourOsc(*osc)
    try:
        try:
            link.frame(timeout=3.0)
        except ArdourError:
            raise ArdourError(f"Ardour does not answer OSC at {osc[0]}:{osc[1]}: turn on Open Sound Control in "
                              "Edit > Preferences > Control Surfaces") from None
        # the Ardour that answers there, so that one that dies mid-landing is reported at once, not at the deadline
        owner = next((p for p, port in osc_listeners() if port == osc[1]), None) \
            if osc[0] in ("127.0.0.1", "localhost") else None
        link.send("/access_action", f"LuaAction/script-{slot}")
        deadline = began + timeout_s
        while time.monotonic() < deadline:
            if owner is not None and not alive(owner.pid):
                raise ArdourError(f"{owner.describe()} quit or crashed {time.monotonic() - began:.1f} s into the "
                                  f"landing, before it answered; nothing is known to have landed in {session_dir} "
                                  "(open it again and look, then land again)")
            for folder in folders:
                try:
                    answer = _parse_ack((folder / ACK).read_text(errors="replace"), request_id)
                except OSError:
                    answer = None
                if answer is not None:
                    return LiveAnswer(**{**answer.__dict__, "seconds": time.monotonic() - began})
            time.sleep(0.05)
    finally:
        link.close()
    raise ArdourError(f"Ardour did not answer the landing within {timeout_s:.0f} s: is {session_dir} the session "
                      f"open in Ardour, and is '{ACTION_NAME}' bound to action {slot} (songbridge daw setup ardour)?")
