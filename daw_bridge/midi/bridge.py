"""MIDI in: the port callback only translates (map lookup, clock follower) and enqueues commands."""

from __future__ import annotations

import queue
from typing import Any, Protocol

from daw_bridge import protocol as p
from presets.midi_maps import Binding, MidiMap

from .clock import ClockFollower

LEARN_KEEP = 64


def command_for(b: Binding) -> p.Command:
    o = b.options
    takes = int(o.get("takes", 1))
    c = b.command
    if c == "generate_song":
        return p.Generate(takes=takes)
    if c == "generate_section":
        return p.Generate(section=str(o.get("section", "")), takes=takes)
    if c == "generate_bars":
        a, e = o.get("bars", (1, 9))
        return p.Generate(bars=(float(a), float(e)), takes=takes)
    if c == "generate_bars_at_playhead":
        return p.GenerateHere(bars=float(o.get("bars", 8)), takes=takes)
    if c == "loop_at_playhead":
        return p.MakeLoop(str(o.get("prompt", "")), bars=float(o.get("bars", 4)), takes=takes)
    if c == "cancel_all":
        return p.Cancel("*")
    if c == "land":
        return p.Land()
    if c == "accept_newest":
        return p.Accept("")
    if c in ("play", "pause", "stop", "ab"):
        return p.Audition(c)
    return p.FollowTransport(c == "follow_on")


class Commands(Protocol):
    """Where MIDI's commands go: the bridge (``Bridge.put``) or a plain queue."""

    def put(self, env: p.Envelope) -> object: ...


class MidiInput:
    """Turns incoming MIDI into envelopes on ``commands``; keeps the last message for ``midi learn``."""

    def __init__(self, commands: Commands, mapping: MidiMap, follower: ClockFollower | None = None):
        self.commands = commands
        self.mapping = mapping
        self.follower = follower or ClockFollower(self._from_clock)
        self.follow = True
        # The last messages for ``midi learn``: bounded, the oldest dropped (a flood of pitch-bends must not grow it).
        self.learned: queue.Queue[Any] = queue.Queue(maxsize=LEARN_KEEP)

    def _from_clock(self, cmd: p.Command) -> None:
        self.commands.put(p.Envelope(cmd, "midi:clock", None, "midi"))

    def __call__(self, msg: Any) -> None:
        kind = msg.type
        if kind in ("clock", "start", "continue", "stop", "songpos", "sysex"):
            if self.follow:
                self.follower.feed(msg)
            return
        try:
            self.learned.put_nowait(msg)
        except queue.Full:
            try:
                self.learned.get_nowait()
                self.learned.put_nowait(msg)
            except (queue.Empty, queue.Full):
                pass
        if kind == "note_on" and msg.velocity > 0:
            b = self.mapping.find("note", msg.note, msg.channel + 1)
        elif kind == "control_change" and msg.value > 63:
            b = self.mapping.find("cc", msg.control, msg.channel + 1)
        else:
            return
        if b is not None:
            self.commands.put(p.Envelope(command_for(b), f"midi:{b.kind}{b.number}", None, "midi"))
