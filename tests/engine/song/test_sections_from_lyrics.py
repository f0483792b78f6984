"""Sections from the lyrics' headers: for timed and untimed lyrics, named and sized so every line lands in its own
header's section, on whole bars, and never squeezed when the section was sized for its lines."""

from __future__ import annotations

import random

import pytest

from engine.lyrics import auto_time, lines_from_lrc, parse
from engine.lyrics.convert import split_header
from engine.lyrics.g2p import syllable_count
from engine.lyrics.phrasing import line_bars
from engine.song import TempoMap
from engine.song.sections import sections_from_lyrics

UNTIMED = """[verse]
Streetlights shiver on the wet black road
Every window holds a story never told
I keep your number like a secret in my coat
Counting every heartbeat that you never wrote

[chorus]
Neon rain, falling down on me
Washing out the colors of the memory
Neon rain, I can hear you call
Dancing in the glow before the fall

[verse]
Taxi headlights paint the alley gold
Midnight whispers that the night is getting old

[chorus]
Neon rain, falling down on me
Washing out the colors of the memory

[bridge]
Hold on, hold on
Let the morning wait

[chorus]
Neon rain, falling down on me
Dancing in the glow before the fall
"""

# 92 bpm: a bar is 60/92*4 = 2.6087 s. Lines two bars apart, the first at bar 3 (5.217 s), the chorus at bar 11.
BAR = 240 / 92
TIMED = "[ti:Neon Rain]\n[verse]\n" + "".join(
    f"[{_m:02d}:{_s:05.2f}]{text}\n" for _m, _s, text in (
        (int((2 + 2 * i) * BAR) // 60, (2 + 2 * i) * BAR % 60, t) for i, t in enumerate(
            ["Streetlights shiver on the wet black road", "Every window holds a story never told",
             "I keep your number like a secret in my coat", "Counting every heartbeat that you never wrote"]))
) + "[chorus]\n" + "".join(
    f"[{int(t) // 60:02d}:{t % 60:05.2f}][{int(t2) // 60:02d}:{t2 % 60:05.2f}]{text}\n" for t, t2, text in (
        ((10 + 2 * i) * BAR, (26 + 2 * i) * BAR, x) for i, x in enumerate(
            ["Neon rain, falling down on me", "Washing out the colors of the memory",
             "Neon rain, I can hear you call", "Dancing in the glow before the fall"]))
) + "[verse]\n" + "".join(
    f"[{int(t) // 60:02d}:{t % 60:05.2f}]{text}\n" for t, text in (
        ((18 + 2 * i) * BAR, x) for i, x in enumerate(
            ["Taxi headlights paint the alley gold", "Midnight whispers that the night is getting old",
             "I trace your name across the foggy glass", "Hoping that the morning never comes too fast"]))
)


def bars(sections, tm):
    return [(s.name, round(tm.seconds_to_bars(s.start_s), 6), round(tm.seconds_to_bars(s.end_s)
                                                                    - tm.seconds_to_bars(s.start_s), 6))
            for s in sections]


def test_untimed_lyrics_make_their_sections_sized_from_the_syllables() -> None:
    tm = TempoMap.constant(92)
    sections, warnings = sections_from_lyrics(UNTIMED, tm)
    assert [n for n, _, _ in bars(sections, tm)] == ["Verse 1", "Chorus 1", "Verse 2", "Chorus 2", "Bridge",
                                                      "Chorus 3"]
    assert not warnings
    got = bars(sections, tm)
    assert got[0][1] == 1 and all(b[1] + b[2] == c[1] for b, c in zip(got, got[1:], strict=False))  # end to end
    assert [b for _, _, b in got] == [8, 8, 4, 4, 4, 4]  # 4 lines of 2 bars; 2 lines -> 4; rounded to 4/8/16
    doc = parse(UNTIMED)
    w: list[str] = []
    lines = auto_time(lines_from_lrc(doc, sections, w), tm, sections, warnings=w)
    assert not w  # every header found its own section, and nothing is squeezed
    by_id = {s.id: s for s in sections}
    kinds = [split_header(ln.section)[0] for ln in doc.lines]
    for ln, kind in zip(lines, kinds, strict=True):
        s = by_id[ln.section_id]
        assert split_header(s.kind)[0] == kind and s.start_s <= ln.start_s < s.end_s


def test_timed_lyrics_take_their_lengths_from_the_stamps() -> None:
    tm = TempoMap.constant(92)
    doc = parse(TIMED)
    sections, warnings = sections_from_lyrics(doc, tm)
    got = bars(sections, tm)
    # The stamps: verse at bar 3, chorus at 11, verse at 19, the chorus again (second stamps) at 27 to bar 33.
    assert got == [("Intro", 1, 2), ("Verse 1", 3, 8), ("Chorus 1", 11, 8), ("Verse 2", 19, 8),
                   ("Chorus 2", 27, 8)], got
    assert not warnings
    lines = lines_from_lrc(doc, sections)
    by_id = {s.id: s for s in sections}
    for ln in lines:  # every line in its header's section where it is sung, the repeated chorus too
        s = by_id[ln.section_id]
        assert s.start_s - 1e-6 <= ln.start_s < s.end_s
    assert {by_id[ln.section_id].name for ln in lines if ln.text.startswith("Neon")} == {"Chorus 1", "Chorus 2"}


def test_pickups_numbers_empty_headers_and_no_headers() -> None:
    tm = TempoMap.constant(120)  # 2 s bars, 0.5 s beats
    # A line half a beat before bar 5 is a pickup into the chorus at bar 5, not a bar of its own.
    lrc = "[verse 1]\n[00:00.00]one two three four\n[chorus]\n[00:07.75]la la la la\n[00:10.00]la la la\n"
    sections, _ = sections_from_lyrics(lrc, tm)
    assert bars(sections, tm) == [("Verse 1", 1, 4), ("Chorus", 5, 4)]  # the header's own number is kept
    # [solo] with no lines under it gets 8 bars, [outro] 4; [Chorus 1] written twice is the chorus sung again.
    text = "[Verse 1]\na b c\n[Chorus 1]\nd e f\n[solo]\n[Verse 2]\ng h i\n[Chorus 1]\nd e f\n[outro]\n"
    sections, warnings = sections_from_lyrics(text, tm)
    assert [(n, b) for n, _, b in bars(sections, tm)] == [("Verse 1", 4), ("Chorus 1", 4), ("Solo", 8),
                                                           ("Verse 2", 4), ("Chorus 2", 4), ("Outro", 4)]
    assert not warnings
    ids = {s.name: s.id for s in sections}
    lines = lines_from_lrc(parse(text), sections)
    assert [ln.section_id for ln in lines] == [ids[n] for n in ("Verse 1", "Chorus 1", "Verse 2", "Chorus 2")]
    assert sections_from_lyrics("just words\nno headers\n", tm) == ([], [])
    # Numbers as the headers give them, even out of order; each header still finds its own section.
    text = "[Verse 2]\na b\n[verse]\nc d\n[Verse 5]\ne f\n"
    sections, warnings = sections_from_lyrics(text, tm)
    assert [s.name for s in sections] == ["Verse 2", "Verse 1", "Verse 5"] and not warnings
    assert [ln.section_id for ln in lines_from_lrc(parse(text), sections)] == [s.id for s in sections]
    # Lines before the first header are sung at the start of the first section.
    sections, _ = sections_from_lyrics("oh oh\n[verse]\na b c\n[chorus]\nd e\n", tm)
    assert [s.name for s in sections] == ["Verse", "Chorus"]


def test_a_known_length_adds_an_outro_or_says_what_is_not_heard() -> None:
    tm = TempoMap.constant(120)
    text = "[verse]\na b c\n[chorus]\nd e f\n"
    sections, warnings = sections_from_lyrics(text, tm, duration_s=24.0)
    assert bars(sections, tm)[-1] == ("Outro", 9, 4) and not warnings
    sections, warnings = sections_from_lyrics(text, tm, duration_s=10.0)
    assert [s.name for s in sections] == ["Verse", "Chorus"]
    assert len(warnings) == 1 and "past the song's end (10.0 s): Chorus is not heard whole" in warnings[0]
    with pytest.raises(ValueError, match="duration"):
        sections_from_lyrics(text, tm, duration_s=0)


KINDS = ["verse", "chorus", "pre-chorus", "bridge", "hook", "intro", "outro", "Verse", "CHORUS", "post-chorus"]
WORDS = "rain light night fire heart dancing memory window shadow river golden falling".split()


def _random_lyrics(rng: random.Random, timed: bool, bpm: float) -> str:
    out, t = [], rng.uniform(0, 12)
    for _ in range(rng.randint(1, 9)):
        out.append(f"[{rng.choice(KINDS)}{' ' + str(rng.randint(1, 3)) if rng.random() < 0.2 else ''}]")
        for _ in range(rng.choice([0, 1, 2, 4, 4, 6, 8])):
            words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 9)))
            if timed:
                out.append(f"[{int(t) // 60:02d}:{t % 60:05.2f}]{words}")
                t += rng.choice([0.5, 1, 2, 2, 4]) * 240 / bpm + rng.uniform(-0.2, 0.2)
            else:
                out.append(words)
        if timed and rng.random() < 0.3:
            t += rng.uniform(2, 12)  # an instrumental gap
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("timed", [False, True])
def test_any_lyrics_give_sections_on_whole_bars_that_hold_their_own_lines(timed: bool) -> None:
    rng = random.Random(29 + timed)
    for _ in range(60):
        bpm = rng.choice([72, 92, 104, 128, 150])
        tm = TempoMap.constant(bpm, rng.choice(["4/4", "4/4", "3/4", "6/8"]))
        text = _random_lyrics(rng, timed, bpm)
        doc = parse(text)
        sections, warnings = sections_from_lyrics(doc, tm)
        if not doc.headers:
            assert sections == []
            continue
        assert sections, text
        edges = [(tm.seconds_to_bars(s.start_s), tm.seconds_to_bars(s.end_s)) for s in sections]
        for (_a, b), (c, _) in zip(edges, edges[1:], strict=False):
            assert abs(b - c) < 1e-6, text  # end to end, no overlaps
        for a, b in edges:
            assert abs(a - round(a)) < 1e-6 and abs(b - round(b)) < 1e-6 and b - a >= 1 - 1e-6, text
        assert len({s.id for s in sections}) == len(sections)
        w: list[str] = []
        lines = lines_from_lrc(doc, sections, w)
        placed = auto_time(lines, tm, sections, syllables=syllable_count, warnings=w)
        by_id = {s.id: s for s in sections}
        for ln, src in zip(placed, doc.lines, strict=True):
            if src.section is None or ln.section_id is None:
                continue
            s = by_id[ln.section_id]
            assert split_header(s.kind)[0] == split_header(src.section)[0], (text, s.name, src.section)
            if not timed:
                assert s.start_s - 1e-6 <= ln.start_s < s.end_s, (text, s.name, ln.text)
        if not timed:  # sized for their lines: never squeezed, never a header without its section
            assert not [x for x in w if "squeezed" in x or "matches no section" in x], (text, w)
            for s in sections:
                inside = [ln for ln in placed if ln.section_id == s.id and ln.text.strip()]
                need = sum(line_bars(syllable_count(ln.text), tm) for ln in inside)
                assert need <= round(tm.seconds_to_bars(s.end_s) - tm.seconds_to_bars(s.start_s)), (text, s.name)
