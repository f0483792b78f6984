"""Drums, bass and keys parts from the arrangement.

Grooves are 16-step grids per 4/4 bar (other meters get a pattern built from their beats); the section's
intensity picks how busy each part is, the last bar of a section gets a fill, a new section opens with a crash,
and the final bar rings out.
"""

from __future__ import annotations

import numpy as np

from .arrangement import Arrangement, Bar
from .instruments import add, drum, play

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


def render_drums(arr: Arrangement, buf: np.ndarray, rng: np.random.Generator) -> None:
    kit = arr.style.kit
    for bar in arr.bars:
        if bar.last:
            add(buf, bar.start_s, drum("kick"), 0.55)
            add(buf, bar.start_s, drum("crash"), 0.22, 0.3)
            continue
        level = bar.intensity
        if level < 0.4 and kit not in ("four_floor",):
            # Intros and breaks: time only, on the hats.
            for step in range(0, _steps(bar), 4):
                add(buf, _time(bar, step, _steps(bar), 0), drum(HAT.get(kit, "hat")), 0.10, 0.35)
            continue
        steps = _steps(bar)
        kick, snare, hat = (_pattern(kit, p, bar) for p in ("kick", "snare", "hat"))
        hat_name = "open_hat" if level >= 0.95 and kit in ("pop", "rock") else HAT.get(kit, "hat")
        if bar.first and level >= 0.6:
            add(buf, bar.start_s, drum("crash"), 0.18, 0.3)
        fill_from = steps - steps // 4 if bar.fill else steps
        for step in range(steps):
            t = _time(bar, step, steps, arr.style.swing)
            if step >= fill_from:
                # The fill: snare (or toms) building over the last beat.
                k = step - fill_from
                name = "snare" if kit in ("pop", "rock", "boombap", "four_floor") else ("tom_hi" if k < 2 else "tom_lo")
                add(buf, t, drum(name if name != "snare" else SNARE.get(kit, "snare")), 0.22 + 0.06 * k, 0.1 - 0.1 * k)
                continue
            if kick[step] == "x":
                add(buf, t, drum("kick"), 0.62 if level >= 0.6 else 0.5)
            if snare[step] == "x":
                add(buf, t, drum(SNARE.get(kit, "snare")), 0.42 if level >= 0.6 else 0.32, -0.05)
            if hat[step] == "x" and (level >= 0.6 or step % 4 == 0):
                accent = 1.0 if step % 4 == 0 else 0.7
                vel = 0.14 * accent * (0.9 + 0.2 * rng.random())
                if hat_name == "open_hat":
                    name = "open_hat" if step % 8 == 6 else "hat"
                else:
                    name = hat_name
                add(buf, t, drum(name), vel, 0.35)


def render_bass(arr: Arrangement, buf: np.ndarray) -> None:
    style = arr.style
    voice = style.bass
    for bar in arr.bars:
        chord = bar.chords[0]
        if bar.last:
            add(buf, bar.start_s, play(voice, chord.root, min(3.0, bar.length_s * 1.5), 4.0, 0.4), 0.5)
            continue
        if bar.intensity < 0.4:
            add(buf, bar.start_s, play(voice, chord.root, bar.length_s * 0.95, 4.0, 0.1), 0.38)
            continue
        beat = bar.beat_s
        pat = style.bass_pattern if bar.intensity >= 0.6 else "whole"
        notes: list[tuple[float, int, float]] = []  # (time, midi, duration)
        if pat == "whole":
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
            fifth = chord.root + 7 if chord.root + 7 <= 50 else chord.root - 5
            notes = [(i * beat, chord.root if i % 2 == 0 else fifth, beat * 0.9) for i in range(bar.beats)]
        elif pat == "walking":
            tones = sorted({chord.root + ((n - chord.root) % 12) for n in chord.notes})
            line = [chord.root, *tones[1:3], chord.root + 7]
            notes = [(i * beat, line[i % len(line)], beat * 0.9) for i in range(bar.beats)]
        if bar.fill and pat != "whole":
            notes = [n for n in notes if n[0] < bar.length_s - beat] + [
                (bar.length_s - beat, chord.root + 12 if chord.root + 12 <= 52 else chord.root, beat * 0.45),
                (bar.length_s - beat / 2, chord.root + 7 if chord.root + 7 <= 52 else chord.root - 5, beat * 0.45)]
        swing = style.swing * beat / 2
        for dt, midi, dur in notes:
            if swing and abs((dt / (beat / 2)) % 2 - 1) < 1e-6:
                dt += swing
            add(buf, bar.start_s + dt, play(voice, midi, dur, 4.0, 0.03), 0.5 if bar.intensity >= 0.6 else 0.4)


def render_keys(arr: Arrangement, buf: np.ndarray) -> None:
    style = arr.style
    voice = style.keys
    for bar in arr.bars:
        for ci, chord in enumerate(bar.chords):
            span = bar.length_s / len(bar.chords)
            t0 = bar.start_s + ci * span
            if bar.last:
                for j, n in enumerate(chord.notes):
                    add(buf, t0 + 0.012 * j, play(voice, n, min(3.5, span * 2), 4.0, 0.6), 0.16, -0.3 + 0.2 * j)
                continue
            level = bar.intensity
            pat = style.keys_pattern if level >= 0.6 else "sustain"
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
                hits = [(g * beat / 2, beat * 0.5 * 0.95, 0.11 if g % 2 == 0 else 0.08) for g in grid
                        if g * beat / 2 < span]
            if pat == "arpeggio":
                order = [*chord.notes, chord.notes[1] + 12 if len(chord.notes) > 1 else chord.notes[0] + 12]
                for i in range(int(round(span / beat * 2))):
                    n = order[i % len(order)]
                    add(buf, t0 + i * beat / 2, play(voice, n, beat * 1.4, 4.0, 0.1), 0.16, -0.2 + 0.1 * (i % 4))
                continue
            for off, dur, gain in hits:
                strum_gap = 0.012 if voice == "guitar" else 0.0
                for j, n in enumerate(chord.notes):
                    add(buf, t0 + off + strum_gap * j, play(voice, n, dur, 4.0, 0.05), gain * (0.9 + 0.05 * level),
                        -0.35 + 0.23 * j)
