"""The guide vocal: every syllable of every timed lyric line, sung on a simple melody with formant synthesis.

Phrasing (what the guide is for): each line starts at its timestamp with its first consonant; syllables follow
the word stamps when the line has them, otherwise they fall on eighth notes (squeezed when the line is short)
with the last one held until shortly before the next line. Pitch: a phrase arch in the key, stressed syllables on
chord tones, the line ending on the chord's root or third. Sound: vowels from the ARPAbet phonemes as a glottal
wavetable shaped by formants (so "see" and "saw" differ), diphthongs gliding between two vowel targets, short
filtered-noise consonants, and a light vibrato on held notes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from engine.lyrics.g2p import G2P
from engine.song.model import LyricLine

from .arrangement import Arrangement
from .instruments import SR, _shaped_noise, midi_hz

Formants = tuple[float, float, float]
VOWELS: dict[str, tuple[Formants, Formants | None]] = {
    "AA": ((780, 1200, 2700), None), "AE": ((720, 1850, 2650), None), "AH": ((680, 1300, 2750), None),
    "AO": ((620, 950, 2650), None), "EH": ((600, 2000, 2700), None), "ER": ((520, 1450, 1850), None),
    "IH": ((430, 2150, 2800), None), "IY": ((300, 2500, 3200), None), "UH": ((480, 1100, 2500), None),
    "UW": ((330, 950, 2450), None),
    "AW": ((780, 1200, 2700), (480, 1100, 2500)), "AY": ((780, 1200, 2700), (430, 2150, 2800)),
    "EY": ((600, 2000, 2700), (300, 2500, 3200)), "OW": ((620, 950, 2650), (480, 1100, 2500)),
    "OY": ((620, 950, 2650), (430, 2150, 2800)),
}
#: Voiced consonants sung as short formant segments: formants and level.
VOICED: dict[str, tuple[Formants, float]] = {
    "M": ((280, 1100, 2300), 0.35), "N": ((280, 1600, 2600), 0.35), "NG": ((280, 2100, 2700), 0.35),
    "L": ((380, 1300, 2800), 0.55), "R": ((340, 1100, 1500), 0.55), "W": ((320, 650, 2300), 0.5),
    "Y": ((290, 2200, 3100), 0.5), "V": ((300, 1200, 2400), 0.25), "DH": ((300, 1400, 2500), 0.25),
    "Z": ((300, 1600, 2600), 0.2), "ZH": ((300, 1700, 2600), 0.2), "B": ((300, 900, 2300), 0.2),
    "D": ((300, 1700, 2600), 0.2), "G": ((300, 1900, 2600), 0.2), "JH": ((300, 1800, 2600), 0.2),
}
#: Noise parts of consonants: band (Hz), length (s), level.
NOISE: dict[str, tuple[float, float, float, float]] = {
    "S": (4500, 11000, 0.085, 0.30), "Z": (4500, 11000, 0.07, 0.18), "SH": (2200, 6500, 0.09, 0.30),
    "ZH": (2200, 6500, 0.07, 0.18), "CH": (2200, 6500, 0.07, 0.32), "JH": (2200, 6500, 0.06, 0.2),
    "F": (1500, 9000, 0.075, 0.12), "V": (1500, 9000, 0.05, 0.06), "TH": (1500, 9000, 0.07, 0.10),
    "DH": (1500, 9000, 0.04, 0.05), "HH": (600, 4500, 0.06, 0.10), "P": (300, 2500, 0.025, 0.25),
    "B": (200, 1800, 0.02, 0.15), "T": (3000, 8000, 0.03, 0.28), "D": (2500, 7000, 0.022, 0.18),
    "K": (1500, 4000, 0.035, 0.25), "G": (1200, 3500, 0.028, 0.16),
}
TABLE = 2048
LINE_GAP_S = 0.12  # silence kept before the next line starts
CHORUS_LEVEL = 1.26  # +2 dB: the chorus is sung out
FIRST_ONSET_S = 0.04  # a line's first consonants fit in this, so the line is heard at its stamp


@dataclass(frozen=True)
class Syllable:
    onset: tuple[str, ...]
    vowel: str
    coda: tuple[str, ...]
    stress: int


@dataclass(frozen=True)
class SungNote:
    start_s: float
    dur_s: float
    midi: int
    syllable: Syllable
    line_start: bool
    level: float = 1.0  # relative to the vocal's gain: a chorus is sung out a little
    text: str = ""  # the syllable as written (``"Ne-"``, ``"on"``), for the MIDI file's lyric events
    line_id: str = ""


def syllabify(phonemes: tuple[str, ...]) -> list[Syllable]:
    """Split ARPAbet into syllables: a vowel with its onset and coda (one consonant of a cluster goes to the
    previous syllable's coda)."""
    vowels = [i for i, p in enumerate(phonemes) if p[-1].isdigit()]
    if not vowels:
        return [Syllable(tuple(phonemes), "AH", (), 0)] if phonemes else []
    out = []
    bounds = []
    for j, v in enumerate(vowels):
        prev = vowels[j - 1] if j else -1
        cons = list(range(prev + 1, v))
        split = (prev + 2 if len(cons) >= 2 else prev + 1) if j else 0
        bounds.append(split)
    for j, v in enumerate(vowels):
        start = bounds[j]
        end = bounds[j + 1] if j + 1 < len(vowels) else len(phonemes)
        p = phonemes
        out.append(Syllable(tuple(x for x in p[start:v]), p[v][:-1], tuple(p[v + 1:end]), int(p[v][-1])))
    return out


def _line_syllables(g2p: G2P, line: LyricLine) -> list[tuple[int, Syllable, str]]:
    """(word index, syllable, its spelling) for the sung words of a line."""
    out = []
    tokens = [t for t in g2p.tokens(line.text) if t.is_word]
    written = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)*'?", line.text)
    if len(written) != len(tokens):  # numbers read out, odd spellings: the spoken form
        written = [t.text for t in tokens]
    for wi, (tok, word) in enumerate(zip(tokens, written, strict=True)):
        sylls = syllabify(tok.phonemes)
        for syl, text in zip(sylls, spell_syllables(word, len(sylls)), strict=True):
            out.append((wi, syl, text))
    return out


_VOWEL_GROUP = re.compile(r"[aeiouy]+", re.IGNORECASE)


def spell_syllables(word: str, n: int) -> list[str]:
    """``word`` cut into ``n`` written syllables, every one but the last ending in "-" (the karaoke MIDI
    convention): cuts fall between vowel groups, one consonant of a cluster going with the next syllable
    (``"neon"`` -> ``["ne-", "on"]``, ``"window"`` -> ``["win-", "dow"]``); a word whose vowel groups do not match
    ``n`` is cut into ``n`` equal pieces."""
    if n <= 1 or len(word) < n:  # a held word ("I" sung on two notes): the later notes carry "-"
        return [word + "-"] + ["-"] * (n - 2) + ["-"] if n > 1 else [word]
    groups = [m.span() for m in _VOWEL_GROUP.finditer(word)]
    if word.lower().endswith("e") and len(groups) > n and groups[-1] == (len(word) - 1, len(word)):
        groups = groups[:-1]  # a silent final e ("store")
    cuts: list[int] = []
    if len(groups) >= n:
        if len(groups) > n:  # merge the closest groups (diphthongs written apart, "ne-on" read as one)
            while len(groups) > n:
                k = min(range(len(groups) - 1), key=lambda i: groups[i + 1][0] - groups[i][1])
                groups[k:k + 2] = [(groups[k][0], groups[k + 1][1])]
        for (_, end), (start, _) in zip(groups, groups[1:], strict=False):
            cuts.append(end + max(0, start - end - 1))  # "shi-ver", "win-dow", "heart-beat"
    else:  # fewer written vowels than sung syllables: cut between the groups, then halve the longest pieces
        cuts = [end + max(0, start - end - 1) for (_, end), (start, _) in zip(groups, groups[1:], strict=False)]
        while len(cuts) < n - 1:
            bounds = [0, *sorted(set(cuts)), len(word)]
            a, b = max(zip(bounds, bounds[1:], strict=False), key=lambda ab: ab[1] - ab[0])
            if b - a < 2:
                break
            cuts.append((a + b) // 2)
    cuts = sorted({min(max(c, 1), len(word) - 1) for c in cuts})
    while len(cuts) < n - 1:  # collisions: spread the rest evenly
        cuts = sorted(set(cuts) | {round(len(word) * k / n) for k in range(1, n)})[: n - 1]
    pieces = [word[a:b] for a, b in zip([0, *cuts], [*cuts, len(word)], strict=True)]
    return [p + "-" for p in pieces[:-1]] + [pieces[-1]]


def sung_spans(lines: list[LyricLine], syllables: Callable[[str], int], quarter_s: float) -> list[tuple[float, float]]:
    """(start, end) seconds each timed line is sung: its syllables on eighths and a held beat
    (:mod:`engine.lyrics.phrasing`), cut at the next line."""
    from engine.lyrics.phrasing import line_quarters

    timed = sorted((ln.start_s, ln.text) for ln in lines if ln.start_s is not None and ln.text.strip())
    out = []
    for i, (start, text) in enumerate(timed):
        end = start + line_quarters(syllables(text)) * quarter_s
        if i + 1 < len(timed):
            end = min(end, timed[i + 1][0])
        out.append((start, max(end, start + 0.05)))
    return out


def plan_notes(arr: Arrangement, lines: list[LyricLine], g2p: G2P, rng: np.random.Generator,
               duration_s: float, quarter_s: float) -> list[SungNote]:
    timed = sorted((ln for ln in lines if ln.start_s is not None and ln.text.strip()), key=lambda ln: ln.start_s)
    stamps = sorted(ln.start_s for ln in lines if ln.start_s is not None)
    tonic_mid = 57 + (arr.tonic - 57) % 12  # A3..G#4
    lo, hi = tonic_mid - 3, tonic_mid + 12
    scale_notes = [n for n in range(lo, hi + 1) if n % 12 in arr.scale]
    notes: list[SungNote] = []
    # Phrase shapes (semitones over the line, 0..1): arch, rise, fall, valley; the seed picks their order.
    shapes = [lambda x: 4.0 * math.sin(math.pi * x), lambda x: 5.0 * x - 1.0, lambda x: 4.0 - 5.0 * x,
              lambda x: 3.0 - 3.0 * math.sin(math.pi * x)]
    order = rng.permutation(len(shapes))
    contours = [shapes[i] for i in order[:2]] * 2
    for li, line in enumerate(timed):
        start = float(line.start_s)
        later = [s for s in stamps if s > start + 1e-6]
        end = min(later[0] if later else duration_s, duration_s) - LINE_GAP_S
        syls = _line_syllables(g2p, line)
        if not syls or end <= start + 0.05:
            continue
        n = len(syls)
        times: list[tuple[float, float]] = []
        if line.words and len(line.words) >= 1:
            words = [w for w in line.words if w.text.strip()]
            per_word: dict[int, list[int]] = {}
            for k, (wi, _, _) in enumerate(syls):
                per_word.setdefault(wi, []).append(k)
            for wi, idx in sorted(per_word.items()):
                if wi < len(words):
                    w0 = words[wi].start_s
                    w1 = words[wi].end_s or (words[wi + 1].start_s if wi + 1 < len(words) else min(end, w0 + 0.4 * len(idx)))
                else:  # more words in the text than stamps: follow on at eighths
                    w0 = times[-1][0] + times[-1][1] if times else start
                    w1 = w0 + quarter_s / 2 * len(idx)
                w1 = max(w0 + 0.06, min(w1, end))
                step = (w1 - w0) / len(idx)
                times += [(w0 + k * step, step) for k in range(len(idx))]
        else:
            step = quarter_s / 2
            if n * step > end - start:
                step = max((end - start) / n, 0.06)
            times = [(start + k * step, step) for k in range(n)]
            last_start = times[-1][0]
            times[-1] = (last_start, max(step, min(end - last_start, 4 * quarter_s)))
        # The phrase: an arch around a base that moves between lines; choruses sit higher.
        bar = arr.bar_at(start)
        full = bar is not None and bar.texture == "full"
        lift = 3 if full else 0
        base = tonic_mid + lift + (2 if li % 2 else 0) + int(rng.integers(-2, 3))
        shape = contours[li % len(contours)]
        for k, ((_wi, syl, text), (t, d)) in enumerate(zip(syls, times, strict=False)):
            if t >= end or t >= duration_s:
                break
            d = min(d, end - t)
            b = arr.bar_at(t)
            chord_tones = b.chord_at(t).tones if b else frozenset(arr.scale[:1])
            target = base + shape((k + 0.5) / n) - (1.5 if k == n - 1 else 0.0)
            if k == n - 1:
                pool = [x for x in scale_notes if x % 12 in chord_tones] or scale_notes
            elif syl.stress == 1:
                pool = [x for x in scale_notes if x % 12 in chord_tones] or scale_notes
            else:
                pool = scale_notes
            pitch = min(pool, key=lambda x: (abs(x - target), x))
            if syl.stress != 1 and k not in (0, n - 1) and rng.random() < 0.2:
                i = scale_notes.index(pitch) if pitch in scale_notes else 0
                pitch = scale_notes[min(len(scale_notes) - 1, max(0, i + (1 if rng.random() < 0.5 else -1)))]
            notes.append(SungNote(t, max(0.05, d), int(pitch), syl, k == 0, CHORUS_LEVEL if full else 1.0, text,
                                  line.id))
    return notes


@lru_cache(maxsize=2048)
def _table(midi: int, formants: Formants, bright: float = 1.0) -> np.ndarray:
    """One period of a glottal pulse at ``midi`` filtered by ``formants`` (additive, so it is exact)."""
    f0 = midi_hz(midi)
    k = np.arange(1, int(5500 // f0) + 1)
    f = k * f0
    env = np.zeros_like(f, dtype=np.float64)
    for fc, bw, g in zip(formants, (90.0, 110.0, 160.0), (1.0, 0.6, 0.3), strict=True):
        env += g / (1.0 + ((f - fc) / (bw / 2)) ** 2)
    amps = env * k ** (-1.0 * bright) + 0.002 / k
    spec = np.zeros(TABLE // 2 + 1, dtype=np.complex128)
    spec[k] = amps * np.exp(-1j * np.pi / 2)  # sines
    x = np.fft.irfft(spec, TABLE) * TABLE / 2
    return (x / (np.abs(x).max() + 1e-12)).astype(np.float32)


@lru_cache(maxsize=64)
def _noise(cons: str) -> np.ndarray:
    lo, hi, length, _ = NOISE[cons]
    n = int(length * SR)
    x = _shaped_noise(n, lo, hi, 100 + sorted(NOISE).index(cons))
    ramp = np.minimum(1.0, np.arange(n) / (0.008 * SR)) * np.minimum(1.0, (n - np.arange(n)) / (0.012 * SR))
    return (x * ramp).astype(np.float32)


def _voice(f0_hz: np.ndarray, phase0: float, table_a: np.ndarray, table_b: np.ndarray | None,
           w: np.ndarray | None) -> tuple[np.ndarray, float]:
    """Wavetable playback along an f0 curve; crossfades to ``table_b`` by weights ``w``."""
    ph = np.cumsum(f0_hz * np.float32(TABLE / SR), dtype=np.float64) + phase0 * TABLE
    i0 = ph.astype(np.int64)
    frac = (ph - i0).astype(np.float32)
    i0 &= TABLE - 1
    i1 = (i0 + 1) & (TABLE - 1)
    out = table_a[i0] + (table_a[i1] - table_a[i0]) * frac  # linear interpolation keeps aliasing down
    if table_b is not None and w is not None:
        out_b = table_b[i0] + (table_b[i1] - table_b[i0]) * frac
        out = out + (out_b - out) * w
    return out.astype(np.float32, copy=False), float(ph[-1] / TABLE % 1.0) if len(ph) else phase0


def render_vocal(notes: list[SungNote], n_samples: int, gain: float = 0.32) -> np.ndarray:
    """Mono vocal, ``n_samples`` long."""
    out = np.zeros(n_samples, dtype=np.float32)
    prev_midi: int | None = None
    prev_end = -1.0
    phase = 0.0
    for note in notes:
        syl = note.syllable
        t0, d = note.start_s, note.dur_s
        onset_total = sum(NOISE.get(c, (0, 0, 0.05, 0))[2] if c not in VOICED else 0.05 for c in syl.onset)
        cap = FIRST_ONSET_S if note.line_start else min(0.09, 0.35 * d)
        scale = min(1.0, cap / onset_total) if onset_total > 0 else 1.0
        t = t0
        level = gain * note.level * (1.0 if syl.stress == 1 else 0.82)
        for c in syl.onset:
            t = _consonant(out, c, t, scale, note.midi, level)
        coda_total = sum(min(0.05, NOISE.get(c, (0, 0, 0.05, 0))[2]) for c in syl.coda)
        coda_total = min(coda_total, 0.3 * d)
        v_end = max(t + 0.03, t0 + d - coda_total)
        _vowel(out, syl.vowel, t, v_end, note.midi, prev_midi if abs(t0 - prev_end) < 0.05 else None, level, phase)
        prev_midi, prev_end = note.midi, t0 + d
        t = v_end
        for c in syl.coda:
            t = _consonant(out, c, t, min(1.0, coda_total / max(1e-3, 0.05 * len(syl.coda))), note.midi, level * 0.8)
    return out


def _f0_curve(n: int, midi: int, prev: int | None, t_rel0: float) -> np.ndarray:
    """f0 in Hz per sample: a 35 ms glide from the previous note, then vibrato fading in after 180 ms."""
    t = np.arange(n, dtype=np.float32) * np.float32(1 / SR) + np.float32(t_rel0)
    if prev is not None and prev != midi:
        semis = np.float32(prev - 69) + np.float32(midi - prev) * np.minimum(t * np.float32(1 / 0.035), 1)
    else:
        semis = np.full(n, np.float32(midi - 69), dtype=np.float32)
    k = int(0.18 * SR)
    if n > k:
        depth = np.minimum((t[k:] - np.float32(0.18)) * np.float32(0.25 / 0.15), np.float32(0.25))
        semis[k:] += depth * np.sin(np.float32(2 * np.pi * 5.5) * t[k:])
    return np.float32(440.0) * np.exp2(semis * np.float32(1 / 12))


def _vowel(out: np.ndarray, vowel: str, t0: float, t1: float, midi: int, prev: int | None, level: float,
           phase: float) -> None:
    a, b = int(t0 * SR), min(len(out), int(t1 * SR))
    n = b - a
    if n <= 16:
        return
    fa, fb = VOWELS.get(vowel, VOWELS["AH"])
    ta = _table(midi, fa)
    tb = _table(midi, fb) if fb else None
    w = None
    if tb is not None:
        x = np.arange(n, dtype=np.float32) / n
        w = np.clip((x - 0.35) / 0.5, 0.0, 1.0)
    sig, _ = _voice(_f0_curve(n, midi, prev, 0.0), phase, ta, tb, w)
    att, rel = min(n // 3, int(0.012 * SR)), min(n // 3, int(0.04 * SR))
    env = np.ones(n, dtype=np.float32)
    env[:att] = np.linspace(0.0, 1.0, att, dtype=np.float32)
    env[n - rel:] = np.linspace(1.0, 0.0, rel, dtype=np.float32)
    out[a:b] += sig * env * level


def _consonant(out: np.ndarray, c: str, t: float, scale: float, midi: int, level: float) -> float:
    """Render consonant ``c`` at ``t`` (length scaled by ``scale``); returns where the next sound starts."""
    length = 0.0
    a = int(t * SR)
    if c in NOISE:
        x = _noise(c)
        n = max(16, int(len(x) * scale))
        x = x[:n].copy()
        x[-min(n, int(0.006 * SR)):] *= np.linspace(1.0, 0.0, min(n, int(0.006 * SR)), dtype=np.float32)
        b = min(len(out), a + n)
        out[a:b] += x[: b - a] * (NOISE[c][3] * level / 0.32)
        length = n / SR
    if c in VOICED:
        formants, vol = VOICED[c]
        n = int(length * SR) if c in NOISE else max(16, int(0.05 * scale * SR))
        b = min(len(out), a + n)
        if b - a > 16:
            sig, _ = _voice(_f0_curve(b - a, midi, None, 0.0), 0.0, _table(midi, formants), None, None)
            env = np.minimum(1.0, np.arange(b - a) / (0.006 * SR)).astype(np.float32)
            env *= np.minimum(1.0, (b - a - np.arange(b - a)) / (0.006 * SR)).astype(np.float32)
            out[a:b] += sig * env * vol * level
        length = max(length, n / SR)
    if length == 0.0:
        length = 0.02
    return t + length
