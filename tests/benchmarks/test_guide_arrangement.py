"""The issue's figures from ``benchmarks/guide_arrangement.py``: on the example song the chorus mix is at least
3 dB above the verse and the intro below both; every stem and section is measured."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_the_chorus_lifts_and_the_intro_sits_below(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    r = subprocess.run([sys.executable, str(REPO / "benchmarks" / "guide_arrangement.py"), "--json", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    data = json.loads(out.read_text())
    f = data["figures"]
    assert f["chorus_over_verse_db"] >= 3.0 and f["intro_under_verse_db"] > 0 and f["intro_under_chorus_db"] > 0
    rows = data["sections"]
    assert [r["section"] for r in rows] == ["Intro", "Verse 1", "Chorus 1", "Verse 2", "Chorus 2", "Outro"]
    for row in rows:
        for stem in ("drums", "bass", "keys", "vocal", "mix"):
            assert set(row[stem]) == {"rms_db", "onsets_per_bar"}
    verse, chorus = rows[1], rows[2]
    for stem in ("drums", "bass", "keys"):  # every part lifts, not just the sum
        assert chorus[stem]["rms_db"] > verse[stem]["rms_db"] + 1.0, stem
    assert "RMS dBFS / onsets per bar" in r.stdout and "ok" in r.stdout.splitlines()[-1]
