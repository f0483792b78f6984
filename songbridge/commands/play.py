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


def _take(project, take_id: str | None, option: str):  # type: ignore[no-untyped-def]
    if take_id is None:
        return project.song.takes[-1]
    try:
        return project.song.take(take_id)
    except KeyError:
        have = ", ".join(t.id for t in project.song.takes)
        raise SongBridgeError(f"{option} {take_id}: no such take in {project.folder}; it has {have}") from None


def run(args: argparse.Namespace) -> int:
    from engine.audio.fx import load_board, user_preset_dirs
    from engine.audio.player import Player, list_devices
    from engine.render import audition_chains
    from engine.song.project import Project

    if args.list_devices:
        devices = list_devices()
        if not devices:
            raise SongBridgeError("--list-devices: no audio output device found (is a sound server such as JACK, "
                                  "PipeWire or PulseAudio running, and is libportaudio2 installed?)")
        for d in devices:
            print(f"{d.index:>3}  {d.name} ({d.hostapi}, {d.channels} ch, {d.default_samplerate:g} Hz)")
        return 0
    if not args.project:
        raise SongBridgeError("give a project to play (or --list-devices)")
    project = Project.open(args.project)
    if not project.song.takes:
        raise SongBridgeError(f"{project.folder}: no takes to play yet")
    take = _take(project, args.take, "--take")
    other = _take(project, args.ab, "--ab") if args.ab else None
    loop = _parse_loop(args.loop)

    def chains(take_id: str, stems: tuple[str, ...]) -> tuple[dict, object, str]:
        ac = audition_chains(project, take_id, stems)
        boards = {stem: load_board(p, 44100, user_preset_dirs(), ac.overrides.get(stem))
                  for stem, p in ac.presets.items() if p and stem in stems}
        m = ac.presets.get("master")
        master = load_board(m, 44100, user_preset_dirs(), ac.overrides.get("master")) if m else None
        return boards, master, ac.describe()

    boards, master, said = chains(take.id, take.stems)  # a broken preset is refused before the device opens
    player = Player(device=args.device).open()
    try:
        player.load(project.audio_dir(take.id), stems=list(take.stems), chains=boards, master=master)
        print(f"{take.id}: {said}", file=sys.stderr)
        if other is not None:
            b_boards, b_master, b_said = chains(other.id, other.stems)
            player.load(project.audio_dir(other.id), slot="B", stems=list(other.stems), chains=b_boards,
                        master=b_master)
            print(f"{other.id} (B): {b_said}", file=sys.stderr)
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
