"""Which Ardour programs run on this machine and what they hold: the process list (command lines, scripts handed to
``ardour7-lua``, open files) and the UDP ports their OSC surfaces listen on. Split from ``ardour_live`` (which
re-exports these names)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ArdourProcess:
    pid: int
    kind: str  # "gui", "headless" (hardour) or "lua" (ardour7-lua)
    cmdline: tuple[str, ...]
    paths: frozenset[str] = field(default_factory=frozenset)  # files it names or has open
    sockets: frozenset[int] = field(default_factory=frozenset)  # inodes of its open sockets

    def holds(self, session_dir: Path) -> bool:
        folder = os.path.realpath(session_dir)
        return any(p == folder or p.startswith(folder + os.sep) for p in self.paths)

    def named_session(self) -> str | None:
        """The session folder its command line opens (``ardour /path/Session``), if it names one: an Ardour GUI
        started that way holds that session and no other (one session per program)."""
        for arg in self.cmdline[1:]:
            if arg.startswith("-"):
                continue
            path = Path(arg)
            if path.suffix == ".ardour" and path.is_file():
                return os.path.realpath(path.parent)
            if path.is_dir() and (path / f"{path.name}.ardour").is_file():
                return os.path.realpath(path)
        return None

    def osc_ports(self) -> list[int]:
        """The UDP ports it listens on (Ardour's OSC surface takes 3819, or the next free one up to 3838)."""
        return sorted(port for port, inode in udp_ports().items() if inode in self.sockets)

    def describe(self) -> str:
        return {"gui": "Ardour", "headless": "headless Ardour", "lua": "ardour7-lua"}[self.kind] + f" (pid {self.pid})"


def _kind(exe: str, comm: str) -> str | None:
    name = os.path.basename(exe)
    if name == "luasession" or comm == "luasession":
        return "lua"
    if name.startswith("hardour-"):
        return "headless"
    if name.startswith("ardour-") and name[7:8].isdigit() or comm in ("ArdourGUI", "Ardour"):
        return "gui"
    return None


def processes() -> list[ArdourProcess]:
    """Every Ardour program this user can see, with the paths it names on its command line, in the scripts it was
    given (ardour7-lua) and among its open files."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        proc = f"/proc/{entry}"
        try:
            exe = os.readlink(f"{proc}/exe")
        except OSError:
            exe = ""
        try:
            with open(f"{proc}/comm") as fh:
                comm = fh.read().strip()
            with open(f"{proc}/cmdline", "rb") as fh:
                argv = tuple(a.decode(errors="replace") for a in fh.read().split(b"\0") if a)
        except OSError:
            continue
        kind = _kind(exe, comm)
        if kind is None:
            continue
        paths: set[str] = set()
        sockets: set[int] = set()
        for arg in argv[1:]:
            if arg.startswith("-"):
                continue
            paths.add(os.path.realpath(arg))
            if kind == "lua" and arg.endswith(".lua"):
                try:
                    text = Path(arg).read_text(errors="replace")[:200_000]
                except OSError:
                    paths.add("?")  # a script we cannot read: it may hold anything
                    continue
                paths.update(os.path.realpath(s) for s in re.findall(r"[\"'](/[^\"'\n]+)[\"']", text))
        try:
            for fd in os.listdir(f"{proc}/fd"):
                try:
                    target = os.readlink(f"{proc}/fd/{fd}")
                except OSError:
                    continue
                if target.startswith("/"):
                    paths.add(target)
                elif target.startswith("socket:["):
                    sockets.add(int(target[8:-1]))
        except OSError:
            pass
        found.append(ArdourProcess(int(entry), kind, argv, frozenset(paths), frozenset(sockets)))
    return found


def alive(pid: int) -> bool:
    """The process runs (not gone, not a zombie waiting for its parent)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2:stat.rfind(")") + 3] not in ("Z", "X")


def holders(session_dir: Path) -> list[ArdourProcess]:
    return [p for p in processes() if p.holds(session_dir)]


def udp_ports() -> dict[int, int]:
    """Local UDP port -> socket inode, for every socket bound on this machine (/proc/net/udp and udp6)."""
    out: dict[int, int] = {}
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) > 9:
                try:
                    out.setdefault(int(cols[1].rsplit(":", 1)[1], 16), int(cols[9]))
                except ValueError:
                    continue
    return out


def osc_listeners() -> list[tuple[ArdourProcess, int]]:
    """(Ardour GUI, UDP port) for every Ardour whose OSC surface listens (ports 3819..3838)."""
    return [(p, port) for p in processes() if p.kind == "gui" for port in p.osc_ports() if 3819 <= port <= 3838]
