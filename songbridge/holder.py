"""Asking the program that holds a project (the app or ``songbridge serve``) to do something, instead of telling the
producer what to type: its bridge's OSC address is in the project's lock (:class:`engine.song.lock.Holder`). The
command proves its reply address (docs/osc.md, "Proving your address"), sends the request, and follows the job's
pushes (``/songbridge/job/progress``, ``done``, ``failed``, ``cancelled``) until it ends; Ctrl-C cancels it there."""

from __future__ import annotations

import json
import socket
import sys
import time
from typing import Any

from engine.errors import SongBridgeError
from engine.song.lock import gone

ROOT = "/songbridge"
QUIET_S = 5.0  # ask for the job's state after this long without a push (a lost datagram must not hang us)
MISSED = 3  # unanswered status requests in a row before the holder is taken for gone


def edit_message(req: Any) -> tuple[str, str]:
    """``/songbridge/job/edit``'s two arguments (take, JSON) for a :class:`engine.session.Regenerate`."""
    data: dict[str, Any] = {}
    for key, value in (("sections", list(req.sections)), ("bars", [list(b) for b in req.bars]),
                       ("ranges", [list(s) for s in req.seconds]), ("lines", list(req.lines)),
                       ("lyrics", dict(req.lyrics))):
        if value:
            data[key] = value
    data["takes"] = req.takes
    if req.seed is not None:
        data["seed"] = req.seed
    if req.backend:
        data["backend"] = req.backend
    if req.params:
        data["params"] = dict(req.params)
    if req.extend_s:
        data["extend"] = req.extend_s
    if req.extend_bars:
        data["extend_bars"] = req.extend_bars
    if req.style is not None:
        raise SongBridgeError("a new style cannot be sent to the program holding the project")
    return req.take or "", json.dumps(data)


def address_of(busy: Any) -> tuple[str, int]:
    holder = busy.holder or {}
    osc = str(holder.get("osc") or "")
    host, _, port = osc.rpartition(":")
    if not host or not port.isdigit():
        raise SongBridgeError(f"{busy}; it serves no OSC bridge to send the command to: close it there first")
    if holder.get("host") not in (None, "", socket.gethostname()) and host in ("127.0.0.1", "localhost", "::1"):
        raise SongBridgeError(f"{busy}; its bridge listens on {osc} on {holder['host']}, not reachable from here")
    return host, int(port)


def regenerate_there(busy: Any, req: Any) -> int:
    """Send ``req`` (a Regenerate) to the program named by ``busy`` (a ProjectBusy) and follow its job."""
    return run_there(busy, "the edit", f"{ROOT}/job/edit", *edit_message(req))


def ask_there(busy: Any, address: str, answer: str, *args: Any, timeout_s: float = 10.0) -> list[Any]:
    """One request to the program named by ``busy`` (a ProjectBusy) that is answered when done (not a job): the
    arguments of its ``answer`` message within ``timeout_s``, or a SongBridgeError with its refusal."""
    from pythonosc.osc_message import OscMessage

    from daw_bridge.osc.client import prove
    from daw_bridge.osc.replies import message

    server = address_of(busy)
    family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        local = server[0] in ("127.0.0.1", "::1", "localhost")
        sock.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0) if local else ("", 0))
        try:
            prove(sock, server)
        except TimeoutError:
            raise SongBridgeError(f"the bridge at {server[0]}:{server[1]} does not answer (is "
                                  f"{busy.holder.get('program')} still running?)") from None
        sock.settimeout(0.5)
        sock.sendto(message(address, *args), server)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                m = OscMessage(sock.recv(65535))
            except (TimeoutError, BlockingIOError):
                continue
            except Exception:  # noqa: BLE001 - a malformed datagram is skipped
                continue
            values = list(m.params)
            if m.address == f"{ROOT}/error" and values[:1] == [address]:
                raise SongBridgeError(str(values[-1]))
            if m.address == answer:
                return values
    raise SongBridgeError(f"the bridge at {server[0]}:{server[1]} did not answer {address} in {timeout_s:g} s")


def generate_message(takes: int, seed: int | None, backend: str | None) -> str:
    """``/songbridge/job/generate``'s JSON for whole-song takes."""
    data: dict[str, Any] = {"takes": takes}
    if seed is not None:
        data["seed"] = seed
    if backend:
        data["backend"] = backend
    return json.dumps(data)


def run_there(busy: Any, what: str, address: str, *args: Any) -> int:
    """Send one job request (``address`` with ``args``) to the program named by ``busy`` (a ProjectBusy), print
    where it was queued, and follow the job with a progress bar until it ends; 0 once it is done, a
    SongBridgeError naming why when it is refused, fails or is cancelled there. Ctrl-C cancels it there."""
    from pythonosc.osc_message import OscMessage

    from daw_bridge.osc.client import prove
    from daw_bridge.osc.replies import message
    from songbridge.progress import ProgressBar

    server = address_of(busy)
    print(f"{busy.holder.get('program', 'another program')} has the project open: sending {what} to its bridge "
          f"at {server[0]}:{server[1]}", file=sys.stderr)
    family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0) if server[0] in ("127.0.0.1", "::1",
                                                                                              "localhost")
                  else ("", 0))
        try:
            prove(sock, server)
        except TimeoutError:
            raise SongBridgeError(f"the bridge at {server[0]}:{server[1]} does not answer (is {busy.holder.get('program')} "
                                  "still running?)") from None
        sock.settimeout(0.5)
        sock.sendto(message(address, *args), server)

        def recv() -> tuple[str, list[Any]] | None:
            try:
                m = OscMessage(sock.recv(65535))
            except (TimeoutError, BlockingIOError):
                return None
            except Exception:  # noqa: BLE001 - a malformed datagram is skipped
                return None
            return m.address, list(m.params)

        job = ""
        deadline = time.monotonic() + 10.0
        while not job:
            got = recv()
            if got is None:
                if time.monotonic() > deadline:
                    raise SongBridgeError(f"the bridge at {server[0]}:{server[1]} did not answer {what}")
                continue
            reply, values = got
            if reply == f"{ROOT}/error" and values[:1] == [address]:
                raise SongBridgeError(str(values[-1]))
            if reply == f"{ROOT}/job/queued":
                job, label = str(values[0]), str(values[1]) if len(values) > 1 else what
        print(f"queued as {job} there: {label}", file=sys.stderr)
        bar = ProgressBar(label)
        try:
            return _follow(sock, server, job, recv, bar, message, lambda: gone(busy.holder or {}))
        except KeyboardInterrupt:
            sock.sendto(message(f"{ROOT}/job/cancel", job), server)
            raise
        finally:
            bar.close()


def _follow(sock: socket.socket, server: tuple[str, int], job: str, recv: Any, bar: Any, message: Any,
            holder_gone: Any = lambda: False) -> int:
    quiet_since = time.monotonic()
    asked = 0
    while True:
        got = recv()
        now = time.monotonic()
        if got is None:
            if holder_gone():  # killed (kill -9, a crash): said at once, not after the status requests time out
                raise SongBridgeError(f"the program that held the project ended while {job} ran there; what it "
                                      "finished is in the project: run the command again")
            if now - quiet_since > QUIET_S * (asked + 1):
                if asked >= MISSED:
                    raise SongBridgeError(f"the bridge at {server[0]}:{server[1]} stopped answering about {job}")
                sock.sendto(message(f"{ROOT}/job/get/status", job), server)
                asked += 1
            continue
        address, args = got
        if not args or str(args[0]) != job:
            continue
        quiet_since, asked = now, 0
        if address == f"{ROOT}/job/progress" and len(args) >= 3:
            bar(int(args[1]), int(args[2]))
        elif address == f"{ROOT}/job/done":
            pairs = [(str(args[i]), str(args[i + 1])) for i in range(1, len(args) - 1, 2) if args[i]]
            for take, mix in pairs:
                print(f"{take}: {mix}")
            return 0
        elif address == f"{ROOT}/job/failed":
            raise SongBridgeError(f"{job} failed: {args[1] if len(args) > 1 else ''}")
        elif address == f"{ROOT}/job/cancelled":
            raise SongBridgeError(f"{job} was cancelled")
        elif address == f"{ROOT}/job/get/status" and len(args) >= 2 and args[1] in ("failed", "cancelled"):
            raise SongBridgeError(f"{job} {args[1]}")
        elif address == f"{ROOT}/job/get/status" and len(args) >= 2 and args[1] == "finished":
            print(f"{job} finished (its takes are in the project)")
            return 0
