"""Words in time (engine.song.word_times): syllables by spelling, words spread over a line by syllables, and a word
moved between its neighbours (a line without stamps gets the estimate first; the first word moves the line)."""

from __future__ import annotations

import pytest

from engine.song import LyricLine, Song
from engine.song.word_times import estimated_words, move_word, syllables


def test_syllables_by_spelling() -> None:
    cases = {"shiver": ["shi", "ver"], "number": ["num", "ber"], "store": ["store"], "the": ["the"],
             "washing": ["wash", "ing"], "heartbeat": ["heart", "beat"], "table": ["ta", "ble"],
             "memory": ["me", "mo", "ry"], "rain,": ["rain,"]}
    for word, parts in cases.items():
        assert syllables(word) == parts, word


def test_words_spread_by_syllables_and_a_moved_word_stays_between_its_neighbours() -> None:
    line = LyricLine("x", "neon rain falling", 10.0)
    words = estimated_words(line, 13.0)
    assert [w.text for w in words] == ["neon", "rain", "falling"] and words[0].start_s == 10.0
    assert words[-1].end_s == pytest.approx(13.0)
    s = Song(lyrics=(line,))
    moved = move_word(s, "x", 1, 11.2, 13.0)
    got = moved.lyrics[0].words
    assert got[1].start_s == 11.2 and got[0].end_s == 11.2 and len(got) == 3
    first = move_word(moved, "x", 0, 10.5, 13.0).lyrics[0]
    assert first.start_s == 10.5 and first.words[0].start_s == 10.5
    assert move_word(moved, "x", 1, 99.0, 13.0).lyrics[0].words[1].start_s < got[2].start_s  # kept before the next
