"""The DSP beat tracker and tempo lock on a guide take warped by a known time map: beats found where the map put
them, and after locking the drums' bar lines back on the grid, every stem the same length."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from engine.grid import dsp, lock
from engine.grid.timemap import TimeMap, varispeed
from tests.conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
from tempo_lock import bar_errors, render, warp_map  # noqa: E402


@pytest.fixture(scope="module")
def take():
    return render(112.0, 10, 3)


@pytest.mark.parametrize("warp", ["steady:3", "jump:-4:0.5"])
def test_tracker_finds_the_warped_beats_and_lock_puts_bars_back(take, warp: str) -> None:
    stems, sr, dur = take
    beat_s = 60 / 112.0
    bars = np.arange(0, dur + 10, 4 * beat_s)
    w = warp_map(warp, dur)
    n = int(round(float(w.to_dst(dur)) * sr))
    warped = {k: varispeed(v, sr, w, n) for k, v in stems.items()}
    beats, downs = dsp.track(sum(warped.values()), sr, bpm=112.0, meter=4, bars_s=bars)
    truth = w.to_dst(np.arange(0, dur - 0.05, beat_s))
    near = np.array([np.min(np.abs(beats - t)) for t in truth])
    assert np.mean(near < 0.02) >= 0.95
    assert np.allclose(downs[:3], truth[:12:4], atol=0.02)  # the bar phase, from the song's own grid
    plan = lock.plan(downs, bars, sr, frames=int(round(dur * sr)))
    locked = {k: lock.apply(plan, v) for k, v in warped.items()}
    assert {len(v) for v in locked.values()} == {plan.frames}  # every stem exactly as long
    errs = bar_errors(locked["drums"], stems["drums"], sr, bars[bars < dur])
    assert len(errs) >= 6 and max(abs(e) for e in errs) < 0.006
    before = bar_errors(warped["drums"][: len(stems["drums"])], stems["drums"], sr, bars[bars < dur])
    assert max(abs(e) for e in before) > 0.02  # the warp had moved them


def test_plan_refuses_what_cannot_be_locked() -> None:
    with pytest.raises(lock.LockError, match="at least two bars"):
        lock.plan(np.array([1.0]), np.arange(0, 20, 2.0), 44100, frames=44100)
    with pytest.raises(lock.LockError, match="beyond the"):
        lock.plan(np.arange(0, 40, 2.0), np.arange(0, 20, 2.0), 44100, frames=44100)
    steady = lock.plan(np.arange(0.0, 20, 2.06), np.arange(0, 40, 2.0), 44100, source_s=20.0)
    assert steady.mode == "whole" and abs(steady.ratio - 2 / 2.06) < 1e-9
    wobbly = lock.plan(np.array([0.0, 2.1, 4.0, 6.2]), np.arange(0, 40, 2.0), 44100, source_s=7.0)
    assert wobbly.mode == "bars" and wobbly.drift_pct == pytest.approx(10.0, abs=0.01)


def test_time_map_round_trips_and_extrapolates() -> None:
    m = TimeMap((1.0, 3.0, 5.0), (1.0, 2.0, 4.0))
    t = np.array([0.0, 1.0, 2.0, 3.0, 4.5, 7.0])
    assert np.allclose(m.to_src(m.to_dst(t)), t)
    assert m.to_dst(0.0) == pytest.approx(0.5) and m.to_dst(7.0) == pytest.approx(6.0)
    with pytest.raises(ValueError, match="increase"):
        TimeMap((0.0, 1.0, 1.0), (0.0, 1.0, 2.0))
    tone = np.sin(2 * np.pi * 441 * np.arange(44100) / 44100).astype(np.float32)
    sped = varispeed(tone, 44100, TimeMap.linear(0.5), 22050)  # twice as fast: the same cycles in half the time
    crossings = np.count_nonzero(np.diff(np.signbit(sped[:, 0])))
    assert abs(crossings - 882) <= 2
