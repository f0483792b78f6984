"""Make a loop, the session's one check for every front-end: each bad field is refused, naming it, before anything
is queued; a good request becomes the Stable Audio backend, its length and its parameters."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import SongBridgeError
from engine.session.loops import MakeLoop, plan
from engine.song.model import Song


@pytest.mark.parametrize(("req", "says"), [
    (MakeLoop("", 4, 120, 1), "needs a prompt"),
    (MakeLoop("x" * 501, 4, 120, 1), "at most 500 characters"),
    (MakeLoop("drums", 400, 120, 1), "bars must be 0.25..64, got 400"),
    (MakeLoop("drums", float("nan"), 120, 1), "bars must be 0.25..64"),
    (MakeLoop("drums", 4, 120, 1, takes=9), "takes must be 1..4, got 9"),
    (MakeLoop("drums", 4, 5000, 1), "bpm must be 20..400, got 5000"),
    (MakeLoop("drums", 4, 120, 0), "at_bar must be 1..100000, got 0"),
])
def test_refusals_name_the_field(req: MakeLoop, says: str, tmp_path: Path) -> None:
    with pytest.raises(SongBridgeError, match=says):
        plan(Song(), req, tmp_path)


def test_a_loop_too_long_for_the_installed_model_is_refused_and_a_good_one_planned(tmp_path: Path) -> None:
    from engine.backends.stable_audio.tiny import create_tiny_stable_audio

    create_tiny_stable_audio(tmp_path)
    with pytest.raises(SongBridgeError, match="makes at most"):
        plan(Song(), MakeLoop("drums", 16, 128, 1), tmp_path)
    p = plan(Song(), MakeLoop("  tech   house ", 4, 128, 9), tmp_path)
    assert p.seconds == pytest.approx(4 * 4 * 60 / 128) and p.label == "loop: tech house"
    assert p.params["prompt"] == "tech house" and p.params["at_bar"] == 9.0 and p.params["bpm"] == 128
