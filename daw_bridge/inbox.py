"""The bridge's inbox: what the OSC thread and the MIDI callback hand to the control thread.

Three lanes, so that cheap commands never wait behind heavy work and a flood costs what its last message costs:
- quick: listen, job status, follow on/off, transport reads; answered before anything else;
- sets: repeated sets of one song property from one client coalesce (the last value wins; the superseded sets are
  counted, never applied, never answered), and so do transport updates from the DAW's clock;
- ordered: everything else (generate, edit, accept, land, audition, sets between them) in arrival order. A set keeps
  its place relative to the ordered commands around it: sets coalesce only with sets that no command separates.

``put`` never blocks and never raises: it refuses (returns False) when the sender's host has ``per_host`` commands
waiting, or everyone together ``total`` (a flood waits in the kernel's buffer or is refused, never grows this without
bound). ``get`` blocks up to a timeout.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import replace
from typing import Any

from daw_bridge import protocol as p

QUICK = (p.Listen, p.JobStatus, p.FollowTransport)


class _Sets:
    """Consecutive sets, one per (property, client), in first-arrival order."""

    def __init__(self) -> None:
        self.items: dict[Any, p.Envelope] = {}


def _host(env: p.Envelope) -> str:
    return env.reply_to[0] if env.reply_to else env.source


class Inbox:
    def __init__(self, per_host: int = 1024, total: int = 4096) -> None:
        self.per_host = per_host
        self.total = total
        self._waiting: collections.Counter[str] = collections.Counter()  # host -> commands waiting
        self._count = 0  # commands waiting (transport updates aside)
        self._cond = threading.Condition()
        self._quick: collections.deque[p.Envelope] = collections.deque()
        self._ordered: collections.deque[p.Envelope | _Sets] = collections.deque()
        self._transport: p.Envelope | None = None
        self._unsettled: collections.Counter[str] = collections.Counter()
        self.received = 0
        self.coalesced = 0
        self.refused = 0

    def put(self, env: p.Envelope) -> bool:
        """Queue ``env``; False when it was refused (its host, or everyone, has too much waiting)."""
        cmd = env.command
        host = _host(env)
        with self._cond:
            self.received += 1
            if not isinstance(cmd, p.TransportUpdate):  # the DAW's clock coalesces into one: never refused
                if self._waiting[host] >= self.per_host or self._count >= self.total:
                    self.refused += 1
                    return False
                self._waiting[host] += 1
                self._count += 1
            if isinstance(cmd, QUICK):
                self._quick.append(env)
            elif isinstance(cmd, p.TransportUpdate):
                if self._transport is not None:
                    old = self._transport.command
                    merged = p.TransportUpdate(**{
                        f: getattr(cmd, f) if getattr(cmd, f) is not None else getattr(old, f)
                        for f in ("playing", "bpm", "position_beats", "position_samples", "tempo_known")})
                    if cmd.tempo_known is False:  # a restart after a tempo reading: the old reading is void
                        merged = replace(merged, bpm=cmd.bpm)
                    self._transport = replace(env, command=merged)
                    self.coalesced += 1
                else:
                    self._transport = env
            elif isinstance(cmd, p.SetProperty):
                last = self._ordered[-1] if self._ordered else None
                if not isinstance(last, _Sets):
                    last = _Sets()
                    self._ordered.append(last)
                key = (cmd.prop, env.reply_to)
                if key in last.items:
                    self.coalesced += 1
                    self._waiting[host] -= 1  # it takes the place of the one it supersedes
                    self._count -= 1
                else:
                    self._unsettled[cmd.prop] += 1
                last.items[key] = env
            else:
                self._ordered.append(env)
            self._cond.notify()
        return True

    def get(self, timeout: float | None = None) -> p.Envelope | None:
        with self._cond:
            if not self._cond.wait_for(self._ready, timeout):
                return None
            if self._transport is not None and not self._quick:
                env, self._transport = self._transport, None
                return env
            if self._quick:
                env = self._quick.popleft()
            elif isinstance(head := self._ordered[0], _Sets):
                env = head.items.pop(next(iter(head.items)))
                if not head.items:
                    self._ordered.popleft()
            else:
                env = self._ordered.popleft()  # type: ignore[assignment]
            host = _host(env)
            self._waiting[host] -= 1
            self._count -= 1
            if self._waiting[host] <= 0:
                del self._waiting[host]
            return env

    def _ready(self) -> bool:
        return bool(self._quick or self._transport is not None or self._ordered)

    def settled(self, env: p.Envelope) -> None:
        """The control thread has applied (or refused) a set: reads of its property are current again."""
        if isinstance(env.command, p.SetProperty):
            with self._cond:
                self._unsettled[env.command.prop] -= 1
                if self._unsettled[env.command.prop] <= 0:
                    del self._unsettled[env.command.prop]

    def unsettled(self, prop: str) -> bool:
        """A set of ``prop`` is waiting or being applied (a read of it must wait its turn)."""
        return self._unsettled.get(prop, 0) > 0

    def waiting(self) -> int:
        with self._cond:
            return len(self._quick) + sum(len(x.items) if isinstance(x, _Sets) else 1 for x in self._ordered) + (
                self._transport is not None)
