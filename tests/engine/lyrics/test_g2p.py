from __future__ import annotations

import json
import subprocess
import sys

import pytest

from engine.lyrics.g2p import default_g2p, syllable_count

OFFLINE = r"""
import json, sys
attempts = []
def audit(event, args):
    if event.startswith(("socket.", "urllib.", "http.")) or event == "subprocess.Popen":
        attempts.append(event)
        raise RuntimeError("network is unreachable in this test: " + event)
sys.addaudithook(audit)
from engine.lyrics.g2p import default_g2p
from engine.lyrics import estimate_tokens
g = default_g2p()
out = {"hello": [t.phonemes for t in g.tokens("hello")], "syl": g.syllables("I have 25 dollars, ok?"),
       "oov": g.word("zorblaxian"), "tokens": estimate_tokens("the city lights")}
print(json.dumps({"out": out, "attempts": attempts, "nltk_imported": "nltk" in sys.modules}))
"""


@pytest.mark.slow
def test_g2p_works_with_the_network_unreachable(tmp_path) -> None:
    env = {"NLTK_DATA": str(tmp_path), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", OFFLINE], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["attempts"] == []
    assert result["out"]["hello"] == [["HH", "AH0", "L", "OW1"]]
    assert result["out"]["syl"] == 9  # i have twen-ty five dol-lars o-kay
    assert len(result["out"]["oov"]) >= 6
    assert not result["nltk_imported"]


def test_syllables_and_homographs() -> None:
    g = default_g2p()
    assert syllable_count("Hello darkness my old friend") == 7
    assert g.syllables("well-known café") == 4
    refuse = [t.phonemes for t in g.tokens("I refuse the refuse") if t.text == "refuse"]
    assert refuse[0] != refuse[1]  # verb after "I", noun after "the"
    assert [t.text for t in g.tokens("Stop, go!")] == ["stop", ",", "go", "!"]
