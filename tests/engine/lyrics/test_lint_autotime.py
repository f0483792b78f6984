from __future__ import annotations

import pytest

from engine.lyrics import LintSettings, auto_time, estimate_tokens, lint_lines
from engine.lyrics.timing import FRAME_RATE, frame_of
from engine.song import Grid, LyricLine, TempoMap
from engine.song.sections import parse_sections


def count(text: str) -> int:
    return len(text.split()) * 4  # a predictable counter for exact thresholds


def syl(text: str) -> int:
    return len(text.split())


def kinds(issues, line_id):
    return sorted(i.kind for i in issues if i.line_id == line_id)


def test_crowded_line_pushes_the_next() -> None:
    frames_needed = 12  # three words x 4 tokens
    t2 = (frames_needed - 3) / FRAME_RATE + 0.001  # only 9 frames before the next line
    lines = [LyricLine("a", "one two three", 0.0), LyricLine("b", "next", t2)]
    issues = lint_lines(lines, song_end_s=10, count_tokens=count, count_syllables=syl)
    crowded = [i for i in issues if i.kind == "crowded"]
    assert [i.line_id for i in crowded] == ["a"]
    assert crowded[0].tokens == 12 and crowded[0].frames == frame_of(t2)
    assert "3 frames" in crowded[0].message


def test_room_is_not_crowded() -> None:
    lines = [LyricLine("a", "one two three", 0.0), LyricLine("b", "next", 12 / FRAME_RATE + 0.01)]
    assert "crowded" not in kinds(lint_lines(lines, count_tokens=count, count_syllables=syl), "a")


def test_sparse_and_break() -> None:
    lines = [LyricLine("a", "la la", 0.0), LyricLine("b", "la", 20.0), LyricLine("c", "", 22.0),
             LyricLine("d", "end", 60.0)]
    issues = lint_lines(lines, song_end_s=61, count_tokens=count, count_syllables=syl)
    assert kinds(issues, "a") == ["sparse"]
    assert "sparse" not in kinds(issues, "b")  # a short span before a break
    loose = lint_lines(lines, song_end_s=61, count_tokens=count, count_syllables=syl,
                       settings=LintSettings(sparse_min_span_s=30.0))
    assert "sparse" not in kinds(loose, "a")


def test_too_long_for_the_model() -> None:
    lines = [LyricLine("a", "early", 10.0), LyricLine("b", "late words here", 94.8), LyricLine("c", "gone", 96.0)]
    issues = lint_lines(lines, settings=LintSettings(max_duration_s=95.0), count_tokens=count, count_syllables=syl)
    assert kinds(issues, "c") == ["too_long"]
    assert "too_long" in kinds(issues, "b")  # its tokens run past 95 s
    assert "too_long" not in kinds(issues, "a")


def test_quantisation_is_reported_beyond_half_a_frame() -> None:
    f = 100
    exact = LyricLine("a", "x", f / FRAME_RATE)
    late = LyricLine("b", "y", (f + 0.8) / FRAME_RATE + 30)
    issues = lint_lines([exact, late], count_tokens=count, count_syllables=syl)
    assert "quantised" not in kinds(issues, "a")
    q = [i for i in issues if i.kind == "quantised"]
    assert [i.line_id for i in q] == ["b"] and q[0].severity == "info"


def test_token_estimate_counts_phonemes_separators_and_marker() -> None:
    # "the city": DH AH | S IH T IY -> 2 + 4 phonemes, 1 separator, 1 end marker
    assert estimate_tokens("the city") == 8
    assert estimate_tokens("the city.") == 9


def test_auto_time_without_sections_uses_bars() -> None:
    tm = TempoMap.constant(120, "4/4")  # 2 s bars
    lines = [LyricLine("a", "one two"), LyricLine("b", "three four"), LyricLine("c", "five six")]
    out = auto_time(lines, tm, syllables=syl)
    assert [ln.start_s for ln in out] == [0.0, 4.0, 8.0]


def test_auto_time_weights_by_syllables_and_keeps_timed_lines() -> None:
    tm = TempoMap.constant(120, "4/4")
    lines = [LyricLine("a", "x " * 8), LyricLine("b", "y " * 2), LyricLine("c", "z " * 4), LyricLine("t", "kept", 99.0)]
    out = auto_time(lines, tm, syllables=syl)
    # mean 4.67 syllables: 8 -> 3 bars, 2 -> 1 bar, 4 -> 2 bars
    assert [ln.start_s for ln in out] == [0.0, 6.0, 8.0, 99.0]


def test_auto_time_fills_vocal_sections_and_skips_intro() -> None:
    tm = TempoMap.constant(90, "4/4")
    sections = parse_sections("intro:4,verse:8,chorus:4", tm)
    lines = [LyricLine(f"l{i}", "la la la la") for i in range(6)]
    out = auto_time(lines, tm, sections, syllables=syl)
    bars = [round(tm.seconds_to_bars(ln.start_s), 3) for ln in out]
    assert bars[:4] == [5, 7, 9, 11]  # verse: 8 bars, 2 per line
    assert bars[4:6] == [13, 15]  # chorus: 4 bars
    assert out[0].section_id == "verse" and out[4].section_id == "chorus"


def test_more_lines_than_the_sections_hold_are_shared_out_and_reported() -> None:
    tm = TempoMap.constant(90, "4/4")
    sections = parse_sections("intro:4,verse:8,chorus:4,outro:4", tm)
    lines = [LyricLine(f"l{i}", "la la la la") for i in range(9)]
    warnings: list[str] = []
    out = auto_time(lines, tm, sections, syllables=syl, warnings=warnings)
    ends = {s.id: s.end_s for s in sections}
    starts = {s.id: s.start_s for s in sections}
    for ln in out:  # nothing spills past its section, nothing after the last vocal section
        assert ln.section_id in ("verse", "chorus")
        assert starts[ln.section_id] <= ln.start_s < ends[ln.section_id]
    assert [ln.start_s for ln in out] == sorted(ln.start_s for ln in out)
    assert sum(ln.section_id == "verse" for ln in out) == 6  # in proportion to 8 and 4 bars
    # A bar and a third for four syllables is closer than two bars a line, but not squeezed: no warning.
    assert not any("squeezed" in w for w in warnings)
    lines = [LyricLine(f"l{i}", "la la la la la la la la la la") for i in range(9)]  # ten syllables: 2 bars each
    warnings = []
    auto_time(lines, tm, sections, syllables=syl, warnings=warnings)
    assert any("squeezed onto beats" in w for w in warnings)


def test_auto_time_squeezes_onto_beats_when_a_section_is_full() -> None:
    tm = TempoMap.constant(120, "4/4")
    sections = parse_sections("verse:2", tm)
    lines = [LyricLine(f"l{i}", "la la", section_id="verse") for i in range(3)]
    out = auto_time(lines, tm, sections, syllables=syl)
    starts = [ln.start_s for ln in out]
    assert starts[0] == 0.0 and starts == sorted(starts) and starts[-1] < 4.0
    for s in starts:
        assert s == pytest.approx(tm.snap(s, Grid.BEAT))


def test_sections_spec_errors() -> None:
    tm = TempoMap.constant(120)
    with pytest.raises(ValueError, match="'verse' must be NAME:BARS"):
        parse_sections("intro:4,verse", tm)
    secs = parse_sections("verse:8,chorus:4,verse:8", tm)
    assert [s.name for s in secs] == ["Verse 1", "Chorus", "Verse 2"]
    assert secs[2].start_s == pytest.approx(24.0)
