"""Untimed lyrics with section headers land in the song's sections: by kind, in order, never moved silently."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.lyrics import auto_time, lines_from_lrc, parse
from engine.lyrics.convert import split_header
from engine.song import TempoMap
from engine.song.sections import parse_sections

README_SECTIONS = "intro:4,verse:16,chorus:8,verse:16,chorus:8,outro:4"


def syl(text: str) -> int:
    return len(text.split())


def place(lrc: str, spec: str, bpm: float = 92) -> tuple[list, list[str], tuple]:
    tm = TempoMap.constant(bpm, "4/4")
    sections = parse_sections(spec, tm)
    warnings: list[str] = []
    lines = lines_from_lrc(parse(lrc), sections, warnings)
    out = auto_time(lines, tm, sections, syllables=syl, warnings=warnings)
    return out, warnings, sections


def block(header: str | None, words: str, n: int) -> str:
    head = f"[{header}]\n" if header else ""
    return head + "".join(f"{words} {i} la la\n" for i in range(n)) + "\n"


def section_of(line, sections):
    return next(s for s in sections if s.start_s <= line.start_s < s.end_s)


def test_repeated_unnumbered_headers_take_the_sections_of_their_kind_in_order() -> None:
    lrc = block("verse", "v1", 4) + block("chorus", "c1", 2) + block("verse", "v2", 4) + block("chorus", "c2", 2)
    out, warnings, sections = place(lrc, README_SECTIONS)
    got = [section_of(ln, sections).name for ln in out]
    assert got == ["Verse 1"] * 4 + ["Chorus 1"] * 2 + ["Verse 2"] * 4 + ["Chorus 2"] * 2
    assert [ln.section_id for ln in out] == [section_of(ln, sections).id for ln in out]
    assert not warnings
    starts = [ln.start_s for ln in out]
    assert starts == sorted(starts)


def test_numbered_headers_name_their_section() -> None:
    lrc = block("Verse 2", "late", 2) + block("Chorus 1", "early", 2)
    out, warnings, sections = place(lrc, README_SECTIONS)
    assert [section_of(ln, sections).name for ln in out] == ["Verse 2"] * 2 + ["Chorus 1"] * 2
    assert not warnings


def test_one_chorus_sung_twice_goes_to_the_next_chorus_after_the_second_verse() -> None:
    lrc = block("verse", "v1", 3) + block("chorus", "c", 2) + block("verse", "v2", 3) + block("chorus", "c", 2)
    out, _, sections = place(lrc, "verse:8,chorus:8,verse:8,chorus:8")
    assert [section_of(ln, sections).name for ln in out] == (
        ["Verse 1"] * 3 + ["Chorus 1"] * 2 + ["Verse 2"] * 3 + ["Chorus 2"] * 2)


def test_a_song_with_one_chorus_keeps_the_second_verse_after_it() -> None:
    lrc = block("verse", "v1", 3) + block("chorus", "c", 2) + block("verse", "v2", 3)
    out, warnings, sections = place(lrc, "verse:8,chorus:8,verse:8")
    names = [section_of(ln, sections).name for ln in out]
    assert names == ["Verse 1"] * 3 + ["Chorus"] * 2 + ["Verse 2"] * 3
    assert not warnings


def test_an_intro_ad_lib_stays_in_the_intro() -> None:
    lrc = "[intro]\n(mm, oh)\n\n" + block("verse", "v", 4) + block("chorus", "c", 2)
    out, _, sections = place(lrc, README_SECTIONS)
    assert section_of(out[0], sections).name == "Intro"
    assert out[0].start_s < min(ln.start_s for ln in out[1:])


def test_a_header_that_matches_no_section_is_reported_and_its_lines_keep_their_place() -> None:
    lrc = block("verse", "v1", 2) + block("bridge", "b", 2) + block("chorus", "c", 2)
    out, warnings, sections = place(lrc, "verse:8,chorus:8")
    assert any("[bridge]" in w and "no bridge section" in w and "line 6" in w for w in warnings)
    starts = [ln.start_s for ln in out]
    assert starts == sorted(starts)  # the bridge lines stay between the verse and the chorus
    assert section_of(out[-1], sections).name == "Chorus"


def test_too_many_verses_are_reported() -> None:
    lrc = block("verse", "a", 2) + block("verse", "b", 2) + block("verse", "c", 2)
    _, warnings, _ = place(lrc, "verse:8,chorus:8,verse:8")
    assert any("[verse]" in w and "no verse section is left after Verse 2" in w for w in warnings)
    _, warnings, _ = place(block("Verse 3", "x", 2), "verse:8,verse:8")
    assert any("[Verse 3]" in w and "2 verse section(s)" in w for w in warnings)


def test_a_crowded_section_is_squeezed_in_place_with_a_warning_naming_it() -> None:
    lrc = block("verse", "v", 2) + block("chorus", "c", 12) + block("verse", "w", 2)
    out, warnings, sections = place(lrc, "verse:8,chorus:4,verse:8")
    chorus = [ln for ln in out if ln.text.startswith("c ")]
    assert all(section_of(ln, sections).name == "Chorus" for ln in chorus)
    assert any(w.startswith("Chorus (4 bars) has 12 lines") for w in warnings)


def test_headerless_lyrics_fill_vocal_sections_in_order() -> None:
    out, warnings, sections = place(block(None, "x", 12), README_SECTIONS)
    names = [section_of(ln, sections).name for ln in out]
    assert "Intro" not in names and "Outro" not in names
    assert [ln.start_s for ln in out] == sorted(ln.start_s for ln in out)
    assert names[0] == "Verse 1" and not warnings


def test_header_spellings() -> None:
    assert split_header("Verse 2") == ("verse", 2)
    assert split_header("pre-chorus") == ("prechorus", None)
    assert split_header("Chorus") == ("chorus", None)
    assert split_header("verse2") == ("verse", 2)


def test_hook_and_refrain_find_a_chorus() -> None:
    out, warnings, sections = place(block("hook", "h", 2), "verse:8,chorus:8")
    assert {section_of(ln, sections).name for ln in out} == {"Chorus"} and not warnings


KINDS = ("verse", "chorus", "bridge", "prechorus")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(KINDS), st.integers(1, 16)), min_size=1, max_size=8),
       st.lists(st.tuples(st.sampled_from(KINDS), st.integers(1, 5)), min_size=1, max_size=8),
       st.integers(0, 2**16))
def test_any_song_any_headers(spec_items, blocks, seed) -> None:
    """Headed lines land in a section of their kind or are reported; lines keep their order in time; nothing
    starts outside the section it was given."""
    rnd = random.Random(seed)
    spec = ",".join(f"{k}:{n}" for k, n in spec_items)
    lrc = "".join(block(k, f"{k}{i}", n) for i, (k, n) in enumerate(blocks))
    out, warnings, sections = place(lrc, spec, bpm=rnd.choice([70, 92, 128]))
    by_id = {s.id: s for s in sections}
    kind_of_line = [k for k, n in blocks for _ in range(n)]
    for ln in out:
        assert ln.start_s is not None
        if ln.section_id is not None:
            s = by_id[ln.section_id]
            assert s.start_s - 1e-9 <= ln.start_s < s.end_s
    reported = " ".join(warnings)
    for ln, kind in zip(out, kind_of_line, strict=True):
        s = by_id.get(ln.section_id or "")
        if s is not None and s.kind.replace("-", "") != kind:
            # the line went elsewhere: its header must have been reported as unmatched
            assert f"[{kind}]" in reported
    starts = [ln.start_s for ln in out]
    crowded = "shares a beat" in reported or "no free vocal section" in reported
    if not crowded:
        assert starts == sorted(starts)


@pytest.mark.parametrize("order", [("chorus", "verse", "chorus"), ("verse", "chorus", "chorus"),
                                   ("intro", "chorus", "outro")])
def test_orders_that_skip_ahead(order) -> None:
    """A header takes the next section of its kind after the previous header's section."""
    lrc = "".join(block(k, f"{k}{i}", 2) for i, k in enumerate(order))
    out, warnings, sections = place(lrc, README_SECTIONS)
    seen = [section_of(ln, sections) for ln in out[::2]]
    idx = [sections.index(s) for s in seen]
    assert idx == sorted(idx) and not warnings
    assert [s.kind for s in seen] == list(order)


def test_no_section_of_that_kind_left_is_reported_and_the_lines_stay_in_order() -> None:
    lrc = "".join(block(k, f"{k}{i}", 2) for i, k in enumerate(("chorus", "chorus", "verse")))
    out, warnings, _ = place(lrc, README_SECTIONS)
    assert any("[verse]" in w and "no verse section is left after Chorus 2" in w for w in warnings)
    assert [ln.start_s for ln in out] == sorted(ln.start_s for ln in out)
