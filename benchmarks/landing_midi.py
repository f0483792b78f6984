"""What landing the guide's MIDI adds to a landing into a closed Ardour session: a guide take's chorus (its four
stems) landed with and without its MIDI (four parts on ``SB <part> (MIDI)`` tracks), alternately, after a first
landing made the tracks; and how long splitting the section's MIDI into its part files takes. Needs Debian's
Ardour 7 (``ardour7-lua``); prints the medians.

    python benchmarks/landing_midi.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--live", action="store_true", help="also through the Ardour GUI under Xvfb (needs jackd, Xvfb)")
    args = ap.parse_args()

    import soundfile as sf

    from daw_bridge.adapters.ardour import create_session
    from daw_bridge.adapters.ardour_midi import write_parts
    from daw_bridge.adapters.ardour_route import land_stems
    from engine.song.take_midi import take_midi
    from tests.daw_bridge.guide_take import guide_project

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        project, take = guide_project(root)
        song = project.song
        chorus = next(s for s in song.sections if s.kind == "chorus")
        stems = {}
        for label in take.stems:
            audio, rate = sf.read(str(project.take_dir(take.id) / "stems" / f"{label}.wav"), always_2d=True)
            stems[f"SB {label}"] = root / f"{label}.wav"
            sf.write(str(stems[f"SB {label}"]), audio[round(chorus.start_s * rate):round(chorus.end_s * rate)], rate)
        split = []
        for _ in range(args.repeat):
            began = time.perf_counter()
            mid = take_midi(project.take_dir(take.id), song, take, chorus)
            parts = write_parts(mid, root / "parts", "sb-chorus-", take.id)
            split.append(time.perf_counter() - began)
        session = create_session(root / "Bench", song.tempo.bpm, song.tempo.meter.numerator)

        def land(midi: dict | None) -> float:
            return land_stems(session, stems, chorus.start_s, chorus.end_s, "sb-chorus-", take.id, song.tempo.bpm,
                              song.tempo.meter.numerator, 2.0, midi=midi).seconds

        first = land(parts)
        with_midi, without = [], []
        for _ in range(args.repeat):
            with_midi.append(land(parts))
            without.append(land(None))
        print(f"section MIDI split into {len(parts)} part files: {statistics.median(split) * 1000:.1f} ms (median)")
        print(f"first landing (makes 4 audio + {len(parts)} MIDI tracks with ardour7-lua): {first:.2f} s")
        print(f"closed landing, 4 stems + {len(parts)} MIDI parts: {statistics.median(with_midi) * 1000:.0f} ms; "
              f"4 stems only: {statistics.median(without) * 1000:.0f} ms (medians of {args.repeat})")
        if args.live:
            live_figures(root, session, land, parts, args.repeat)
    return 0


def live_figures(root: Path, closed: Path, land: Any, parts: dict, repeat: int) -> None:
    """The same landings through the running Ardour (the session open in the GUI, the action over OSC)."""
    import os

    from daw_bridge.adapters import ardour_live as live
    from daw_bridge.adapters.ardour import enable_osc
    from tests.daw_bridge.ardour_gui import ArdourGui

    os.environ["XDG_CONFIG_HOME"] = str(root / "config")
    gui = ArdourGui(root / "config")
    try:
        live.install(root / "config" / "ardour7")
        enable_osc(closed, closed.name)
        gui.open(closed)
        with_midi, without = [], []
        for _ in range(repeat):
            with_midi.append(land(parts))
            without.append(land(None))
        print(f"live landing, 4 stems + {len(parts)} MIDI parts: {statistics.median(with_midi) * 1000:.0f} ms; "
              f"4 stems only: {statistics.median(without) * 1000:.0f} ms (medians of {repeat})")
    finally:
        gui.close()


if __name__ == "__main__":
    raise SystemExit(main())
