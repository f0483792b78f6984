"""The guide's MIDI landed into a closed Ardour session: one ``SB <part> (MIDI)`` track per part, a region at the
section's bar, the section's notes in it; Ardour (``ardour7-lua``, headless) loads the session, reads the notes,
saves, and the regions are still there. A later take of the section replaces them; a take without MIDI lands audio
only and says so."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from daw_bridge.adapters.ardour import _lua, _lua_str, create_session
from tests.daw_bridge.guide_take import (
    PARTS,
    assert_landed,
    expected_parts,
    guide_project,
    land,
    notes,
    saved_midi_regions,
)
from tests.daw_bridge.test_ardour import need_ardour


def ardour_reads_and_saves(session: Path) -> dict[str, tuple[int, int, int]]:
    """Ardour loads the session, and saves it; returns MIDI track -> (regions, position sample, notes Ardour
    read from the first region's source)."""
    out = _lua(f"""
local s = load_session({_lua_str(str(session))}, {_lua_str(session.name)}); assert(s)
for t in s:get_tracks():iter() do
  local tr = t:to_track()
  if tr:playlist():data_type():to_string() == "midi" then
    local n, pos, count = 0, -1, -1
    for r in tr:playlist():region_list():iter() do
      n = n + 1
      if pos < 0 then
        pos = r:position():samples()
        count = 0
        for _ in ARDOUR.LuaAPI.note_list(r:to_midiregion():midi_source(0):model()):iter() do count = count + 1 end
      end
    end
    print(string.format("MIDI\\t%s\\t%d\\t%d\\t%d", t:name(), n, pos, count))
  end
end
s:save_state("", false, false, false, false, false); close_session()
""")
    found = {}
    for line in out.splitlines():
        m = re.match(r"MIDI\t(.+)\t(\d+)\t(-?\d+)\t(-?\d+)$", line)
        if m:
            found[m.group(1)] = (int(m.group(2)), int(m.group(3)), int(m.group(4)))
    return found


@pytest.mark.integration
@pytest.mark.slow
def test_guide_midi_lands_in_a_closed_ardour_session(tmp_path: Path) -> None:
    need_ardour()
    project, take = guide_project(tmp_path)
    song = project.song
    chorus = next(s for s in song.sections if s.kind == "chorus")
    session = create_session(tmp_path / "Closed", song.tempo.bpm, song.tempo.meter.numerator)

    detail = land(project, take, chorus, session)
    assert "closed session file" in detail and f"{len(PARTS)} of them the guide's MIDI" in detail, detail
    assert_landed(session, project, take, chorus)

    # Ardour itself loads it: every part's region on its track at the chorus's sample, holding the section's notes
    start = round(chorus.start_s * 44100)
    expected = expected_parts(project, take, chorus)
    seen = ardour_reads_and_saves(session)
    assert {t: v for t, v in seen.items()} == {
        f"SB {part} (MIDI)": (1, start, len(notes(mid))) for part, mid in expected.items()}
    # ... and its own save keeps them: regions, positions, notes (Ardour 7 rewrites a MIDI file it loaded when it
    # saves, and its MIDI model holds no lyric events: the lyrics stay in the exported file only)
    assert_landed(session, project, take, chorus, with_lyrics=False)

    # the same take again: the regions are replaced, not stacked, and the files reused
    files = sorted((session / "interchange" / "Closed" / "midifiles").iterdir())
    assert "reused" not in detail
    land(project, take, chorus, session)
    assert_landed(session, project, take, chorus)
    assert sorted((session / "interchange" / "Closed" / "midifiles").iterdir()) == files

    # the verse lands beside it, on the same tracks; the chorus's regions stay
    verse = next(s for s in song.sections if s.kind == "verse")
    land(project, take, verse, session)
    regions = saved_midi_regions(session)
    assert all(len(regions[f"SB {p} (MIDI)"]) == 2 for p in PARTS), regions

    # a take without MIDI (a neural take) lands its audio only, and says so; the chorus's earlier notes, which no
    # longer match its audio, leave the MIDI tracks; the verse's stay
    (project.take_dir(take.id) / "guide.mid").unlink()
    detail = land(project, take, chorus, session)
    assert "audio only" in detail and "no guide MIDI" in detail and "guide's MIDI)" not in detail, detail
    assert f"the section's earlier MIDI left {len(PARTS)} tracks" in detail, detail
    regions = saved_midi_regions(session)
    assert all([r["name"].startswith("sb-verse-") for r in regions[f"SB {p} (MIDI)"]] == [True] for p in PARTS)
    assert ardour_reads_and_saves(session)["SB vocal (MIDI)"][:2] == (1, round(verse.start_s * 44100))


def test_a_part_file_holds_one_part_with_the_tempo(tmp_path: Path) -> None:
    """Each part's file: format 0, the part's name, the song's tempo and the section's marker, its notes only."""
    project, take = guide_project(tmp_path)
    chorus = next(s for s in project.song.sections if s.kind == "chorus")
    parts = expected_parts(project, take, chorus)
    for part, mid in parts.items():
        assert mid.type == 0 and len(mid.tracks) == 1
        kinds = [m.type for m in mid.tracks[0]]
        assert "set_tempo" in kinds and "end_of_track" == kinds[-1]
        assert [m.text for m in mid.tracks[0] if m.type == "marker"] == [chorus.name]
        channels = {m.channel for m in mid.tracks[0] if m.type == "note_on"}
        assert channels == ({9} if part == "drums" else channels) and len(channels) == 1


def test_only_the_guides_parts_become_tracks() -> None:
    """A guide file edited by hand (extra tracks, odd names, a part twice) makes no Ardour track beyond the four."""
    import mido

    from daw_bridge.adapters.ardour_midi import split_parts

    mid = mido.MidiFile(type=1, ticks_per_beat=960)
    mid.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000)]))
    for name in ("Vocal", "Bass", "Bass", "Evil\ttrack\nname", *(f"junk {i}" for i in range(50)), "Drums"):
        mid.tracks.append(mido.MidiTrack([mido.MetaMessage("track_name", name=name),
                                          mido.Message("note_on", note=60, velocity=90),
                                          mido.Message("note_off", note=60, velocity=0, time=480)]))
    mid.tracks.append(mido.MidiTrack([mido.MetaMessage("track_name", name="Chords")]))  # no notes: no track
    assert sorted(split_parts(mid)) == ["bass", "drums", "vocal"]


@pytest.mark.integration
@pytest.mark.slow
def test_a_midi_track_name_taken_by_an_audio_track_changes_nothing(tmp_path: Path) -> None:
    need_ardour()
    from daw_bridge.adapters.ardour import ArdourError
    from daw_bridge.adapters.ardour_closed import ensure_tracks

    project, take = guide_project(tmp_path)
    chorus = next(s for s in project.song.sections if s.kind == "chorus")
    session = create_session(tmp_path / "Taken", project.song.tempo.bpm, 4)
    ensure_tracks(session, "Taken", ["SB bass (MIDI)"])  # the producer's audio track, named as ours would be
    before = (session / "Taken.ardour").read_bytes()
    with pytest.raises(ArdourError) as err:
        land(project, take, chorus, session)
    assert "no MIDI track 'SB bass (MIDI)'" in str(err.value)
    assert (session / "Taken.ardour").read_bytes() == before  # refused before any track was made
