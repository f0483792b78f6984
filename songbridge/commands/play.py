"""``songbridge play``: audition a take in the terminal, with A/B, loop and seeking on single keys."""

from __future__ import annotations

import argparse
import select
import sys
import termios
import time
import tty

from engine.errors import SongBridgeError

KEYS = "space play/pause  a A/B  l loop on/off  ←/→ seek 5 s  0 start  m/s mute/solo vocal  q quit"


def _parse_loop(text: str | None) -> tuple[float, float] | None:
    if not text:
        return None
    a, sep, b = text.partition("-")
    try:
        start, end = float(a), float(b)
    except ValueError:
        raise SongBridgeError(f"--loop must be START-END in seconds, e.g. 30-45.5, got {text!r}") from None
    if not sep or end <= start:
        raise SongBridgeError(f"--loop must be START-END with END after START, got {text!r}")
    return start, end


def run(args: argparse.Namespace) -> int:
    from engine.audio.fx import load_board, user_preset_dirs
    from engine.audio.player import Player, list_devices
    from engine.song.project import Project

    if args.list_devices:
        for d in list_devices():
            print(f"{d.index:>3}  {d.name} ({d.hostapi}, {d.channels} ch, {d.default_samplerate:g} Hz)")
        return 0
    if not args.project:
        raise SongBridgeError("give a project to play (or --list-devices)")
    project = Project.open(args.project)
    if not project.song.takes:
        raise SongBridgeError(f"{project.folder}: no takes to play yet")
    take = project.song.take(args.take) if args.take else project.song.takes[-1]
    other = project.song.take(args.ab) if args.ab else None
    loop = _parse_loop(args.loop)

    def chains(stems: tuple[str, ...]) -> tuple[dict, object]:
        boards = {}
        for stem in stems:
            slot = project.song.effects.get(stem)
            if slot and slot.preset and not slot.bypass:
                boards[stem] = load_board(slot.preset, 44100, user_preset_dirs(), slot.overrides)
        m = project.song.effects.get("master")
        master = load_board(m.preset, 44100, user_preset_dirs(), m.overrides) if m and m.preset and not m.bypass else None
        return boards, master

    player = Player(device=args.device).open()
    try:
        boards, master = chains(take.stems)
        player.load(project.take_dir(take.id), stems=list(take.stems), chains=boards, master=master)
        if other is not None:
            b_boards, b_master = chains(other.stems)
            player.load(project.take_dir(other.id), slot="B", stems=list(other.stems), chains=b_boards,
                        master=b_master)
        if loop:
            player.set_loop(*loop)
        player.play()
        dev = player.device
        print(f"playing {take.id}" + (f" (B: {other.id})" if other else "") + f" on {dev.name} ({dev.hostapi}, "
              f"{player.samplerate} Hz)\n{KEYS}", file=sys.stderr)
        return _interact(player, take.duration_s, loop)
    finally:
        player.close()


def _interact(player, duration: float, loop: tuple[float, float] | None) -> int:  # type: ignore[no-untyped-def]
    interactive = sys.stdin.isatty()
    old = termios.tcgetattr(sys.stdin) if interactive else None
    looping = loop is not None
    solo = mute = False
    try:
        if interactive:
            tty.setcbreak(sys.stdin.fileno())
        while True:
            if player.state == "error":
                raise SongBridgeError(player.error)
            if player.state == "stopped" and not interactive:
                return 0
            pos = player.position_s
            if interactive:
                sys.stderr.write(f"\r{player.active} {player.state:<8} {pos:7.2f} / {duration:6.2f} s"
                                 f"  {'loop' if looping else '    '}  ")
                sys.stderr.flush()
                ready, _, _ = select.select([sys.stdin], [], [], 0.1)
                if not ready:
                    continue
                key = sys.stdin.read(1)
                if key == "\x1b":
                    key += sys.stdin.read(2)
                if key == "q":
                    sys.stderr.write("\n")
                    return 0
                if key == " ":
                    player.toggle()
                elif key == "a":
                    player.ab()
                elif key == "l" and loop:
                    looping = not looping
                    player.set_loop(*(loop if looping else (None, None)))
                elif key == "\x1b[C":
                    player.seek(pos + 5)
                elif key == "\x1b[D":
                    player.seek(max(0.0, pos - 5))
                elif key == "0":
                    player.seek(0)
                elif key == "m":
                    mute = not mute
                    player.mute("vocal", mute)
                elif key == "s":
                    solo = not solo
                    player.solo("vocal", solo)
            else:
                time.sleep(0.1)
    finally:
        if old is not None:
            termios.tcsetattr(sys.stdin, termios.TCSADRAIN, old)
