from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.errors import LyricsError
from engine.lyrics import lrc


@pytest.mark.parametrize("stamp,ms", [
    ("00:05.00", 5000), ("00:05", 5000), ("01:02.5", 62500), ("00:45.678", 45678), ("1:02.50", 62500),
    ("01:02:03.04", 3723040), ("99:59.99", 5999990),
])
def test_time_formats(stamp: str, ms: int) -> None:
    doc = lrc.parse(f"[{stamp}]line")
    assert doc.lines[0].time_ms == ms


def test_full_featured_file() -> None:
    text = (
        "\ufeff[ti:Night Drive]\r\n[ar:Me]\r\n[length:03:10]\r\n[offset:+250]\r\n\r\n[Verse 1]\r\n"
        "[00:12.00][00:45.50]City <00:12.60>lights\r\n[00:05.00]First\r\n[00:20.00]\r\n[chorus]\r\n"
        "[00:30.00]<00:30.00>Drive <00:30.50>on<00:31.00>\r\n"
    )
    doc = lrc.parse(text, "song.lrc")
    assert doc.meta == {"ti": "Night Drive", "ar": "Me", "length": "03:10"}
    times = [ln.time_ms for ln in doc.lines]
    assert times == [4750, 11750, 19750, 29750, 45250]  # offset applied (+ = earlier), sorted
    assert [ln.text for ln in doc.lines] == ["First", "City lights", "", "Drive on", "City lights"]
    assert doc.lines[0].section == "Verse 1" and doc.lines[3].section == "chorus"
    # The repeated line's word stamps move with its stamp.
    assert [w.start_ms for w in doc.lines[4].words] == [45250, 45850]
    assert doc.lines[3].words[-1].end_ms == 30750
    assert any("out of time order" in w for w in doc.warnings)


def test_plain_text_is_untimed() -> None:
    doc = lrc.parse("Hello there\n\nGeneral Kenobi\n")
    assert [(ln.time_ms, ln.text) for ln in doc.lines] == [(None, "Hello there"), (None, "General Kenobi")]
    assert not doc.timed and doc.warnings == []


def test_untimed_line_in_timed_file_warns() -> None:
    doc = lrc.parse("[00:01.00]a\nb\n", "x.lrc")
    assert doc.lines[-1].time_ms is None
    assert doc.warnings == ["x.lrc:2: line has no timestamp; it will be auto-timed"]


@pytest.mark.parametrize("text,where", [
    ("[00:1a.00]oops", "x.lrc:1:1"),
    ("ok\n[00:75.00]x", "x.lrc:2:1"),
    ("[00:10.00]a <00:1b>b", "x.lrc:1:13"),
    ("[00:01.00", "x.lrc:1:1"),
    ("[offset:soon]\n[00:01.00]a", "x.lrc:1:1"),
    ("[offset:+5000]\n[00:01.00]a", "x.lrc:2"),
    ("[foo bar]\n[00:01.00]a", "x.lrc:1:1"),
    ("[00:01.00][01:99]a", "x.lrc:1:11"),
])
def test_malformed_input_names_line_and_column(text: str, where: str) -> None:
    with pytest.raises(LyricsError) as info:
        lrc.parse(text, "x.lrc")
    assert str(info.value).startswith(where + ":")


def test_format_normalises() -> None:
    doc = lrc.parse("[ar:B]\n[ti:A]\n[0:05.5]x\n[00:01.123]y\n")
    assert lrc.format(doc) == "[ti:A]\n[ar:B]\n[00:01.123]y\n[00:05.50]x\n"


def test_parse_file_errors(tmp_path) -> None:
    p = tmp_path / "bad.lrc"
    p.write_bytes(b"[00:01.00]\xff\xfe bad")
    with pytest.raises(LyricsError, match="not UTF-8"):
        lrc.parse_file(str(p))
    with pytest.raises(LyricsError, match="not found"):
        lrc.parse_file(str(tmp_path / "missing.lrc"))


words = st.text(alphabet=st.characters(whitelist_categories=("Ll", "Lu", "Nd"), max_codepoint=0x24F),
                min_size=1, max_size=8)
line_text = st.lists(words, min_size=0, max_size=6).map(" ".join)
stamp = st.integers(0, 6_000_000)


@st.composite
def lrc_files(draw) -> str:
    out = []
    if draw(st.booleans()):
        out.append(f"[ti:{draw(line_text)}]")
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["line", "multi", "words", "section", "blank"]))
        if kind == "section":
            out.append(f"[{draw(st.sampled_from(['verse', 'Chorus', 'bridge 2', 'Pre-Chorus']))}]")
        elif kind == "blank":
            out.append("")
        elif kind == "multi":
            out.append("".join(f"[{lrc.format_time(draw(stamp))}]" for _ in range(draw(st.integers(2, 3))))
                       + draw(line_text))
        elif kind == "words":
            t0 = draw(stamp)
            ws = draw(st.lists(words, min_size=1, max_size=4))
            body = " ".join(f"<{lrc.format_time(t0 + 300 * i)}>{w}" for i, w in enumerate(ws))
            out.append(f"[{lrc.format_time(t0)}]{body}")
        else:
            out.append(f"[{lrc.format_time(draw(stamp))}]{draw(line_text)}")
    return draw(st.sampled_from(["\n", "\r\n"])).join(out)


@given(lrc_files())
def test_format_parse_is_stable(text: str) -> None:
    once = lrc.format(lrc.parse(text))
    assert lrc.format(lrc.parse(once)) == once
    assert [(ln.time_ms, ln.text) for ln in lrc.parse(once).lines] == [
        (ln.time_ms, ln.text) for ln in lrc.parse(text).lines
    ]


@given(st.integers(0, 10 * 3600 * 1000))
def test_time_round_trip(ms: int) -> None:
    assert lrc.parse_time(lrc.format_time(ms)) == ms
