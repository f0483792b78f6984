"""Does the guide arrange? RMS (dB) and onsets per bar for each stem and each section of the example song.

Method: build the song exactly as ``songbridge generate examples/neon-rain.txt --settings examples/neon-rain.toml``
does (its tempo, key, style, sections and auto-timed lyrics; seed 42), render the guide's four dry stems in memory,
and measure every section of every stem and of the mix:

- RMS in dBFS over the section's samples (the stems as written: one common gain gives the mix -3 dBFS peak);
- onsets per bar: positive jumps of at least 6 dB in the 5 ms-frame energy envelope (50 ms apart at least),
  counted over the section and divided by its bars: how busy the part is.

The issue's figures: the chorus mix at least 3 dB above the verse mix, and the intro below both (means over the
sections of each kind). The script prints the table and the figures, exits 1 when a figure is missed, and with
``--json FILE`` writes everything for a test to read.

Run: ``python benchmarks/guide_arrangement.py [--seed 42] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SR = 44100
FRAME = int(0.005 * SR)


def rms_db(x: np.ndarray) -> float:
    """RMS of ``x`` [n, ch] in dBFS (-120 for silence)."""
    r = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0
    return 20 * np.log10(r) if r > 1e-6 else -120.0


def onsets(x: np.ndarray, *, jump_db: float = 6.0, gap_s: float = 0.05) -> int:
    """Onsets in ``x`` [n, ch]: the 5 ms energy envelope rising ``jump_db`` over its level 10 ms before."""
    mono = x.mean(axis=1) if x.ndim == 2 else x
    n = len(mono) // FRAME
    if n < 3:
        return 0
    e = np.square(mono[: n * FRAME].reshape(n, FRAME), dtype=np.float64).mean(axis=1)
    db = 10 * np.log10(e + 1e-10)
    rise = db[2:] - db[:-2]
    hits = np.flatnonzero((rise >= jump_db) & (db[2:] > -60.0)) + 2
    count, last = 0, -10**9
    for h in hits:
        if (h - last) * FRAME >= gap_s * SR:
            count += 1
            last = h
    return count


def render_example(seed: int) -> tuple[object, dict[str, np.ndarray]]:
    from engine.backends.guide.backend import GuideBackend
    from engine.generation import SongChoices, plan_takes, prepare_song
    from engine.lyrics import parse_file
    from engine.song.model import Song
    from engine.song.project import Project
    from engine.song.settings_file import read_settings, settings_lyrics

    toml = REPO / "examples" / "neon-rain.toml"
    settings = read_settings(str(toml))
    lyrics = parse_file(settings_lyrics(str(toml), settings))
    project = Project(Path("/nonexistent/neon-rain.songbridge"), Song())  # never saved: only planned
    project.song = prepare_song(project.song, lyrics, SongChoices.from_settings(settings), first_time=True)
    request = plan_takes(project, 1, seed)[0]
    stems = GuideBackend().render(request, lambda d, t: None, lambda: False)
    return project.song, stems


def measure(song, stems: dict[str, np.ndarray]) -> list[dict]:  # a Song
    rows = []
    parts = {**stems, "mix": sum(stems.values())}
    for s in song.sections:
        a, b = int(round(s.start_s * SR)), int(round(s.end_s * SR))
        bars = song.tempo.seconds_to_bars(s.end_s) - song.tempo.seconds_to_bars(s.start_s)
        row = {"section": s.name, "kind": s.kind, "bars": round(bars, 3)}
        for name, audio in parts.items():
            seg = audio[a:b]
            row[name] = {"rms_db": round(rms_db(seg), 2), "onsets_per_bar": round(onsets(seg) / bars, 2)}
        rows.append(row)
    return rows


def figures(rows: list[dict]) -> dict[str, float]:
    def mean_mix(kind: str) -> float:
        vals = [r["mix"]["rms_db"] for r in rows if r["kind"] == kind]
        return float(np.mean(vals)) if vals else float("nan")

    chorus, verse, intro = mean_mix("chorus"), mean_mix("verse"), mean_mix("intro")
    return {"chorus_db": round(chorus, 2), "verse_db": round(verse, 2), "intro_db": round(intro, 2),
            "chorus_over_verse_db": round(chorus - verse, 2), "intro_under_verse_db": round(verse - intro, 2),
            "intro_under_chorus_db": round(chorus - intro, 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--json", metavar="FILE", help="also write the table and figures as JSON")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))
    song, stems = render_example(args.seed)
    rows = measure(song, stems)
    names = ["drums", "bass", "keys", "vocal", "mix"]
    print(f"{song.info.title}: {song.tempo.bpm:g} bpm, {song.key}, seed {args.seed}")
    print("RMS dBFS / onsets per bar")
    print(f"{'section':<10}{'bars':>5}  " + "".join(f"{n:>15}" for n in names))
    for r in rows:
        cells = "".join(f"{r[n]['rms_db']:>8.1f} /{r[n]['onsets_per_bar']:>5.1f}" for n in names)
        print(f"{r['section']:<10}{r['bars']:>5g}  {cells}")
    f = figures(rows)
    ok = f["chorus_over_verse_db"] >= 3.0 and f["intro_under_verse_db"] > 0 and f["intro_under_chorus_db"] > 0
    print(f"chorus mix {f['chorus_over_verse_db']:+.1f} dB over the verse (goal >= +3); intro "
          f"{f['intro_under_verse_db']:.1f} dB under the verse and {f['intro_under_chorus_db']:.1f} dB under the "
          f"chorus (goal > 0): {'ok' if ok else 'MISSED'}")
    if args.json:
        Path(args.json).write_text(json.dumps({"seed": args.seed, "sections": rows, "figures": f}, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
