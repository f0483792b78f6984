"""The lyric sheet text (engine.lyrics.sheet): rows with headers, reading an edit back keeps ids and times, new rows
are untimed lines, headers move lines between sections, reading the same text again changes nothing; LRC out and
back keeps [ti:], [ar:] and word stamps."""

from __future__ import annotations

from engine.lyrics import parse
from engine.lyrics.sheet import read_sheet, sheet_text, song_lrc, song_with_lrc
from engine.song import LyricLine, Song, SongInfo, TempoMap, WordTime
from engine.song.sections import parse_sections


def song() -> Song:
    tempo = TempoMap.constant(120)
    lines = (LyricLine("a", "first line", 1.0, section_id="verse"), LyricLine("b", "second line", 4.0),
             LyricLine("br", "", 6.0), LyricLine("c", "hook line", 9.0, section_id="chorus"))
    return Song(info=SongInfo("Neon", "Me"), tempo=tempo, sections=parse_sections("verse:4,chorus:4", tempo),
                lyrics=lines)


def test_the_sheet_shows_headers_and_reading_it_back_changes_nothing() -> None:
    s = song()
    text = sheet_text(s)
    assert text == "[Verse]\nfirst line\nsecond line\n\n[Chorus]\nhook line"
    again = read_sheet(s, text)
    assert again.song == s and again.row_ids == [None, "a", "b", None, None, "c"]


def test_typing_edits_adds_untimed_lines_and_moves_lines_between_sections() -> None:
    s = song()
    text = "[Verse]\nfirst line!\nsecond line\nbrand new line\n\n[Chorus]\nhook line"
    read = read_sheet(s, text)
    by = {ln.id: ln for ln in read.song.lyrics}
    assert by["a"].text == "first line!" and by["a"].start_s == 1.0  # same line, new words
    new = next(ln for ln in read.song.lyrics if ln.text == "brand new line")
    assert new.start_s is None and new.section_id == "verse"
    assert [ln.text for ln in read.song.lyrics] == ["first line!", "second line", "brand new line", "", "hook line"]
    assert read_sheet(read.song, text).song == read.song  # idempotent: nothing more to do
    moved = read_sheet(s, "[Verse]\nfirst line\n\n[Chorus]\nsecond line\nhook line").song
    assert {ln.id: ln.section_id for ln in moved.lyrics}["b"] == "chorus"
    gone = read_sheet(s, "[Verse]\nfirst line\n[Chorus]\nhook line").song
    assert [ln.id for ln in gone.lyrics] == ["a", "br", "c"]  # the break stays
    odd = read_sheet(s, "[Bridgee]\nfirst line\nsecond line\nhook line")
    assert odd.warnings and "Bridgee" in odd.warnings[0]


def test_lrc_out_and_back_keeps_meta_sections_and_words() -> None:
    s = song().replace(lyrics=(LyricLine("a", "one two", 1.0, words=(WordTime(1.0, "one"), WordTime(1.5, "two")),
                                         section_id="verse"), LyricLine("c", "hook", 9.0, section_id="chorus")))
    text = song_lrc(s)
    assert text.startswith("[ti:Neon]\n[ar:Me]\n") and "<00:01.50>two" in text and "[Chorus]" in text
    back = song_with_lrc(Song(tempo=s.tempo, sections=s.sections), parse(text))
    assert back.info.title == "Neon" and back.info.artist == "Me"
    assert back.lyrics[0].words == s.lyrics[0].words and back.lyrics[1].section_id == "chorus"
