from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.song import BarBeatTick, Grid, TempoMap, TempoSegment, TimeSignature


def test_constant_tempo_conversions() -> None:
    tm = TempoMap.constant(120, "4/4", bar1_s=0.5)
    assert tm.bars_to_seconds(1) == 0.5
    assert tm.bars_to_seconds(3) == pytest.approx(4.5)
    assert tm.seconds_to_bbt(2.75) == BarBeatTick(2, 1, 480)
    assert tm.bbt_to_seconds(2, 3, 0) == pytest.approx(3.5)
    assert tm.seconds_to_bars(0.0) == pytest.approx(0.75)  # the pickup before bar 1


def test_segments_change_tempo_and_meter_on_bar_lines() -> None:
    tm = TempoMap((TempoSegment(1, 120.0), TempoSegment(5, 60.0, TimeSignature(3, 4))))
    assert tm.bars_to_seconds(5) == pytest.approx(8.0)
    assert tm.bars_to_seconds(6) == pytest.approx(11.0)
    assert tm.seconds_to_bbt(9.0) == BarBeatTick(5, 2, 0)
    assert tm.meter_at(9.0) == TimeSignature(3, 4)
    assert tm.grid_lines(7, 12, Grid.BAR) == pytest.approx([8.0, 11.0])


def test_six_eight_beats_are_eighths() -> None:
    tm = TempoMap.constant(120, "6/8")
    assert tm.bar_length_s(1) == pytest.approx(1.5)
    assert tm.seconds_to_bbt(0.25) == BarBeatTick(1, 2, 0)


@pytest.mark.parametrize("grid,expected", [
    (Grid.BAR, 2.0), (Grid.BEAT, 1.0), (Grid.EIGHTH, 1.25), (Grid.SIXTEENTH, 1.125),
    (Grid.EIGHTH_TRIPLET, 7 / 6), (Grid.SIXTEENTH_TRIPLET, 1 + 1 / 6), (Grid.QUARTER_TRIPLET, 1.0),
])
def test_snap(grid: Grid, expected: float) -> None:
    tm = TempoMap.constant(120, "4/4")  # quarter = 0.5 s
    assert tm.snap(1.13, grid) == pytest.approx(expected)


def test_snap_does_not_cross_into_next_segment() -> None:
    tm = TempoMap((TempoSegment(1, 120.0, TimeSignature(3, 4)), TempoSegment(2, 60.0)))
    # Bar 1 is 1.5 s long; 1.4 s snapped to a 4/4-length bar grid must not land past bar 2's start.
    assert tm.snap(1.4, Grid.BAR) == pytest.approx(1.5)


@pytest.mark.parametrize("bad", [dict(segments=()), dict(segments=(TempoSegment(2, 120.0),)),
                                 dict(segments=(TempoSegment(1, 120.0), TempoSegment(1, 90.0)))])
def test_invalid_maps_are_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        TempoMap(**bad)


@pytest.mark.parametrize("bpm", [10.0, 1000.0, float("nan")])
def test_invalid_tempo(bpm: float) -> None:
    with pytest.raises(ValueError, match="bpm"):
        TempoSegment(1, bpm)


segments = st.lists(
    st.tuples(st.integers(1, 8), st.floats(40, 240), st.sampled_from([(4, 4), (3, 4), (6, 8), (7, 8), (5, 4)])),
    min_size=1, max_size=4,
)


def build(segs, bar1):
    bar, out = 1, []
    for gap, bpm, (n, d) in segs:
        out.append(TempoSegment(bar, bpm, TimeSignature(n, d)))
        bar += gap
    return TempoMap(tuple(out), bar1)


@given(segments, st.floats(0, 4), st.floats(0, 600))
def test_seconds_bars_round_trip(segs, bar1, t) -> None:
    tm = build(segs, bar1)
    assert tm.bars_to_seconds(tm.seconds_to_bars(t)) == pytest.approx(t, abs=1e-6)
    bbt = tm.seconds_to_bbt(t)
    assert abs(tm.bbt_to_seconds(bbt.bar, bbt.beat, bbt.tick) - t) <= 60 / 40 / 960 + 1e-9


@given(segments, st.floats(0, 300), st.sampled_from(list(Grid)))
def test_snap_is_idempotent_and_close(segs, t, grid) -> None:
    tm = build(segs, 0.0)
    s = tm.snap(t, grid)
    assert tm.snap(s, grid) == pytest.approx(s, abs=1e-6)
    assert abs(s - t) <= 4 * 60 / 40 * 7 / 8 + 1e-6  # never further than a bar
