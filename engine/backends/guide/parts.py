"""Drums, bass and keys parts from the arrangement, as hits (:mod:`.score`).

Grooves are 16-step grids per 4/4 bar (other meters get a pattern built from their beats). Each bar's texture
and energy (:mod:`.arrangement`) pick how each part plays and how loud:

- sparse: a kick on the downbeat, quarter hats, held chords, a whole-note bass;
- groove: the style's groove, bass and keys patterns (a verse: lighter hats and snare);
- build: the groove with the hats doubling up as the section rises;
- full: the groove with accents, open hats, keys voiced wider with an added pad an octave up, the bass doubled;
- half: half time (kick on 1, snare on 3, quarter hats), arpeggiated keys, half-note bass.

The last bar of a section gets a fill (two beats into a chorus), a new section opens with a crash, and the final
bar rings out.
"""

from __future__ import annotations

import numpy as np

from .arrangement import Arrangement, Bar
from .score import Hit, drum_hit

# kit -> intensity level -> instrument -> 16 steps ("x" hit, "o" accent-less ghost)
GROOVES: dict[str, dict[str, str]] = {
    "pop": {"kick": "x.....x.x.......", "snare": "....x.......x...", "hat": "x.x.x.x.x.x.x.x."},
    "rock": {"kick": "x.....x.x.x.....", "snare": "....x.......x...", "hat": "x.x.x.x.x.x.x.x."},
    "brush": {"kick": "x.......x.......", "snare": "....x.......x...", "hat": "x...x...x...x..."},
    "boombap": {"kick": "x.........x.x...", "snare": "....x.......x...", "hat": "x.x.x.x.x.x.x.x."},
    "four_floor": {"kick": "x...x...x...x...", "snare": "....x.......x...", "hat": "..x...x...x...x."},
    "folk": {"kick": "x.......x.......", "snare": "....x.......x...", "hat": "x.xxx.xxx.xxx.xx"},
    "jazz": {"kick": "x.......x.......", "snare": "......x.......x.", "hat": "x...x.x.x...x.x."},
}
SNARE = {"brush": "brush", "four_floor": "clap", "jazz": "brush", "folk": "rim"}
HAT = {"jazz": "ride", "folk": "shaker", "brush": "brush"}


def _steps(bar: Bar) -> int:
    return 16 if bar.beats == 4 else bar.beats * 4 if bar.beat_s > 0.3 else bar.beats * 2


def _pattern(kit: str, part: str, bar: Bar) -> str:
    if bar.beats == 4:
        return GROOVES[kit][part]
    steps = _steps(bar)
    per_beat = steps // bar.beats
    s = ["."] * steps
    if part == "kick":
        s[0] = "x"
        if bar.beats >= 5:
            s[per_beat * (bar.beats // 2)] = "x"
    elif part == "snare":
        for b in range(1, bar.beats, 2 if bar.beats % 3 else 3):
            s[b * per_beat] = "x"
    else:
        for i in range(0, steps, max(1, per_beat // 2)):
            s[i] = "x"
    return "".join(s)


def _time(bar: Bar, step: int, steps: int, swing: float) -> float:
    dt = bar.length_s / steps
    t = bar.start_s + step * dt
    if swing and step % 2 == 1:
        t += swing * dt
    return t


def _level(bar: Bar) -> float:
    """A part's gain factor for the bar's energy: 0.4 for the sparsest (0.25) .. 1.0 fullest; 3.7 dB between a
    first verse (0.5) and a first chorus (0.9)."""
    return 0.2 + 0.8 * bar.intensity


def drum_hits(arr: Arrangement, rng: np.random.Generator) -> list[Hit]:
    kit = arr.style.kit
    snare_name, hat_default = SNARE.get(kit, "snare"), HAT.get(kit, "hat")
    out: list[Hit] = []
    for bar in arr.bars:
        g = _level(bar)
        steps = _steps(bar)
        if bar.last:
            out += [drum_hit(bar.start_s, "kick", 0.55), drum_hit(bar.start_s, "crash", 0.22, 0.3)]
            continue
        if bar.first and bar.index > 0 and not bar.breakdown:
            out.append(drum_hit(bar.start_s, "crash", (0.2 if bar.texture == "full" else 0.14) * g, 0.3))
        fill_from = steps - (steps // bar.beats) * bar.fill_beats if bar.fill else steps
        per_beat = steps // bar.beats
        if bar.texture == "sparse":
            # Intros, outros and breakdowns: time only: the downbeat's kick and quarter hats.
            for step in range(0, steps, per_beat):
                t = _time(bar, step, steps, 0)
                if step >= fill_from:
                    out.append(drum_hit(t, snare_name, (0.16 + 0.05 * (step - fill_from) / per_beat) * g, -0.05))
                    continue
                if step == 0:
                    out.append(drum_hit(t, "kick", 0.5 * g))
                out.append(drum_hit(t, hat_default, 0.09 * g, 0.35))
            continue
        kick, snare, hat = (_pattern(kit, p, bar) for p in ("kick", "snare", "hat"))
        if bar.texture == "half":
            kick = "x" + "." * (steps - 1)
            snare = "." * steps
            snare = snare[: steps // 2] + "x" + snare[steps // 2 + 1:]
            hat = "".join("x" if i % per_beat == 0 else "." for i in range(steps))
        elif bar.texture == "build" and bar.build >= 0.5:
            hat = "".join("x" if i % max(1, per_beat // 4) == 0 else "." for i in range(steps))  # hats double up
        full = bar.texture == "full"
        hat_name = "open_hat" if full and kit in ("pop", "rock") else hat_default
        for step in range(steps):
            t = _time(bar, step, steps, arr.style.swing)
            if step >= fill_from:
                # The fill: snare (or toms) rising over the bar's last beats.
                k = (step - fill_from) / max(1, steps - fill_from)
                name = snare_name if kit in ("pop", "rock", "boombap", "four_floor") else (
                    "tom_hi" if k < 0.5 else "tom_lo")
                if step == fill_from or step % max(1, per_beat // 4) == 0:
                    out.append(drum_hit(t, name, (0.2 + 0.14 * k) * g, 0.1 - 0.2 * k))
                continue
            if kick[step] == "x":
                out.append(drum_hit(t, "kick", (0.62 if full else 0.55) * g))
            if snare[step] == "x":
                out.append(drum_hit(t, snare_name, (0.44 if full else 0.34) * g, -0.05))
            if hat[step] == "x":
                accent = 1.0 if step % per_beat == 0 else 0.7
                vel = (0.15 if full else 0.11) * accent * (0.9 + 0.2 * rng.random()) * g
                name = ("open_hat" if step % 8 == 6 else "hat") if hat_name == "open_hat" else hat_name
                out.append(drum_hit(t, name, vel, 0.35))
            if full and step % per_beat == per_beat // 2 and kit not in ("jazz", "brush"):
                out.append(drum_hit(t, "shaker", 0.07 * g, -0.4))  # the chorus's added layer on the off-beats
    return out


def bass_hits(arr: Arrangement) -> list[Hit]:
    style = arr.style
    voice = style.bass
    out: list[Hit] = []
    for bar in arr.bars:
        chord = bar.chords[0]
        g = _level(bar)
        if bar.last:
            out.append(Hit("bass", bar.start_s, min(3.0, bar.length_s * 1.5), chord.root, 0.5, voice, 0.0, 4.0, 0.4))
            continue
        beat = bar.beat_s
        if bar.texture == "sparse":
            out.append(Hit("bass", bar.start_s, bar.length_s * 0.95, chord.root, 0.42 * g, voice, 0.0, 4.0, 0.1))
            continue
        pat = "half" if bar.texture == "half" else style.bass_pattern
        notes: list[tuple[float, int, float]] = []  # (time, midi, duration)
        fifth = chord.root + 7 if chord.root + 7 <= 50 else chord.root - 5
        if pat == "half":
            half = bar.length_s / 2
            notes = [(0.0, chord.root, half * 0.95), (half, fifth, half * 0.9)]
        elif pat == "whole":
            notes = [(0.0, chord.root, bar.length_s * 0.95)]
        elif pat == "roots":
            notes = [(i * beat, chord.root, beat * 0.9) for i in range(bar.beats)]
        elif pat == "eighths":
            notes = [(i * beat / 2, chord.root, beat * 0.45) for i in range(bar.beats * 2)]
        elif pat == "offbeat":
            notes = [(i * beat + beat / 2, chord.root, beat * 0.4) for i in range(bar.beats)]
        elif pat == "syncopated":
            notes = [(0.0, chord.root, beat * 1.4), (beat * 1.5, chord.root, beat * 0.4),
                     (beat * 2.5, chord.root + 7 if chord.root + 7 < 52 else chord.root - 5, beat * 1.2)]
        elif pat == "root_fifth":
            notes = [(i * beat, chord.root if i % 2 == 0 else fifth, beat * 0.9) for i in range(bar.beats)]
        elif pat == "walking":
            tones = sorted({chord.root + ((n - chord.root) % 12) for n in chord.notes})
            line = [chord.root, *tones[1:3], chord.root + 7]
            notes = [(i * beat, line[i % len(line)], beat * 0.9) for i in range(bar.beats)]
        if bar.fill and pat not in ("whole", "half"):
            notes = [n for n in notes if n[0] < bar.length_s - beat] + [
                (bar.length_s - beat, chord.root + 12 if chord.root + 12 <= 52 else chord.root, beat * 0.45),
                (bar.length_s - beat / 2, chord.root + 7 if chord.root + 7 <= 52 else chord.root - 5, beat * 0.45)]
        swing = style.swing * beat / 2
        for dt, midi, dur in notes:
            if swing and abs((dt / (beat / 2)) % 2 - 1) < 1e-6:
                dt += swing
            out.append(Hit("bass", bar.start_s + dt, dur, midi, 0.5 * g, voice, 0.0, 4.0, 0.03))
            if bar.texture == "full" and dt == 0.0:  # the chorus bass doubled an octave up on the downbeat
                out.append(Hit("bass", bar.start_s, min(dur, beat) * 0.9, midi + 12, 0.22 * g, voice, 0.0, 4.0,
                               0.03, "octave"))
    return out


def keys_hits(arr: Arrangement) -> list[Hit]:
    style = arr.style
    voice = style.keys
    out: list[Hit] = []
    for bar in arr.bars:
        g = _level(bar)
        for ci, chord in enumerate(bar.chords):
            span = bar.length_s / len(bar.chords)
            t0 = bar.start_s + ci * span
            if bar.last:
                for j, n in enumerate(chord.notes):
                    out.append(Hit("keys", t0 + 0.012 * j, min(3.5, span * 2), n, 0.16, voice, -0.3 + 0.2 * j,
                                   4.0, 0.6))
                continue
            full = bar.texture == "full"
            notes = list(chord.notes)
            if full:  # wider: the root an octave down and the top note an octave up
                notes = [notes[0] - 12, *notes, notes[-1] + 12]
            width = 0.8 if full else 0.5
            pans = [-width / 2 + width * j / max(1, len(notes) - 1) for j in range(len(notes))]
            pat = {"sparse": "sustain", "half": "arpeggio" if style.keys_pattern != "arpeggio" else "sustain"}.get(
                bar.texture, style.keys_pattern)
            beat = bar.beat_s
            hits: list[tuple[float, float, float]] = []  # (offset, duration, gain)
            if pat == "sustain":
                hits = [(0.0, span, 0.15)]  # legato: the release overlaps the next chord
            elif pat == "stabs":
                hits = [(i * beat, beat * 0.8, 0.13 if i % 2 == 0 else 0.10) for i in range(int(round(span / beat)))]
            elif pat == "pulse":
                hits = [(i * beat / 2, beat * 0.4, 0.09) for i in range(int(round(span / beat * 2)))]
                hits.append((0.0, span * 0.97, 0.07))
            elif pat == "comp":
                hits = [(beat * 0.0, beat * 0.6, 0.13), (beat * 1.5 + style.swing * beat / 2, beat * 0.4, 0.11)]
                if span >= 3.5 * beat:
                    hits.append((beat * 2.5 + style.swing * beat / 2, beat * 0.8, 0.11))
            elif pat == "strum":
                grid = [0, 2, 3, 5, 6, 7] if bar.beats == 4 else list(range(0, int(round(span / beat * 2)), 1))
                hits = [(x * beat / 2, beat * 0.5 * 0.95, 0.11 if x % 2 == 0 else 0.08) for x in grid
                        if x * beat / 2 < span]
            if pat == "arpeggio":
                order = [*chord.notes, chord.notes[1] + 12 if len(chord.notes) > 1 else chord.notes[0] + 12]
                for i in range(int(round(span / beat * 2))):
                    n = order[i % len(order)]
                    out.append(Hit("keys", t0 + i * beat / 2, beat * 1.4, n, 0.16 * g, voice, -0.2 + 0.1 * (i % 4),
                                   4.0, 0.1))
            else:
                strum_gap = 0.012 if voice == "guitar" else 0.0
                for off, dur, gain in hits:
                    for j, n in enumerate(notes):
                        out.append(Hit("keys", t0 + off + strum_gap * j, dur, n, gain * g, voice, pans[j], 4.0, 0.05))
            if full:  # the added layer: a pad holding the chord an octave up
                for j, n in enumerate(chord.notes):
                    out.append(Hit("keys", t0, span, n + 12, 0.07 * g, "pad", -0.6 + 1.2 * j / max(1, len(chord.notes) - 1),
                                   4.0, 0.25, "pad"))
    return out
