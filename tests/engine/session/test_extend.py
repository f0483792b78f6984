"""Continue a take past its end (``Regenerate.extend_s`` / ``extend_bars``): checked whole before anything is
queued (a backend that cannot continue, a length out of range, both given), planned as one range from the take's end
with the new length."""

from __future__ import annotations

import pytest

from engine.errors import SongBridgeError
from engine.session import Regenerate, plan_regenerate
from tests.engine.session.test_regenerate import song

NAMES = ("guide", "diffrhythm", "ace-step")


def test_continuing_by_bars_is_one_range_from_the_takes_end_and_a_longer_take() -> None:
    from dataclasses import replace

    s = song()
    take = replace(s.takes[-1], backend="diffrhythm")  # a song take (a guide draft is not continued: below)
    s = s.with_take(take)
    p = plan_regenerate(s, Regenerate(take=take.id, extend_bars=2, backend="ace-step"), NAMES)
    end = take.duration_s
    more = s.tempo.bars_to_seconds(s.tempo.seconds_to_bars(end) + 2) - end
    assert [(r.start_s, r.end_s) for r in p.edit.ranges] == [(end, pytest.approx(end + more))]
    assert p.duration_s == pytest.approx(end + more) and "continue" in p.label
    p = plan_regenerate(s, Regenerate(take=take.id, seconds=((1.0, 2.0),), extend_s=3.0, backend="ace-step"), NAMES)
    assert [(r.start_s, r.end_s) for r in p.edit.ranges] == [(1.0, 2.0), (end, end + 3.0)]
    # no backend named: the take's own when it can continue, else one that can (the same from every front-end)
    assert plan_regenerate(s, Regenerate(take=take.id, extend_s=3.0), NAMES).backend == "ace-step"
    assert plan_regenerate(s, Regenerate(take=take.id, seconds=((1.0, 2.0),)), NAMES).backend == take.backend
    with pytest.raises(SongBridgeError, match="the diffrhythm backend cannot continue a take"):
        plan_regenerate(s, Regenerate(take=take.id, extend_s=3.0, backend="diffrhythm"), NAMES)


@pytest.mark.parametrize("req, says", [
    (Regenerate(extend_s=4.0, backend="guide"), "guide draft"),
    (Regenerate(extend_s=4.0), "make a take of it first"),
    (Regenerate(extend_s=-1.0, backend="ace-step"), "extend_s: must be 0..600"),
    (Regenerate(extend_bars=float("nan"), backend="ace-step"), "extend_bars: must be 0..600"),
    (Regenerate(extend_s=2.0, extend_bars=1.0, backend="ace-step"), "not both"),
    (Regenerate(extend_s=1e-300, backend="ace-step"), "extend: at least 0.5 s"),
    (Regenerate(extend_bars=0.01, backend="ace-step"), "extend: at least"),
])
def test_a_continuation_that_cannot_be_made_is_refused_naming_why(req: Regenerate, says: str) -> None:
    with pytest.raises(SongBridgeError, match=says):
        plan_regenerate(song(), req, NAMES)
