"""The generic link's folder: where landings go, written under our names only, never through a planted link."""

from __future__ import annotations

from pathlib import Path

import pytest

from daw_bridge.adapters.generic import file_name, land_files
from daw_bridge.landing import linked_folder
from engine.errors import SongBridgeError
from engine.song import DawLink, Song


def rendered(tmp_path: Path) -> dict[str, str]:
    src = tmp_path / "rendered"
    src.mkdir()
    (src / "mix.wav").write_bytes(b"RIFF-new-mix")
    return {"mix": str(src / "mix.wav")}


def test_a_link_planted_under_our_name_is_refused_and_what_it_points_at_is_untouched(tmp_path: Path) -> None:
    folder, outside = tmp_path / "imports", tmp_path / "precious.txt"
    folder.mkdir()
    outside.write_text("keep me")
    (folder / file_name("Song", "Chorus", "mix", 3, 120)).symlink_to(outside)
    with pytest.raises(SongBridgeError, match="symbolic link"):
        land_files(rendered(tmp_path), folder, "Song", "Chorus", 3, 120)
    assert outside.read_text() == "keep me"


def test_an_old_take_of_the_section_is_replaced_but_a_link_with_its_prefix_is_left_alone(tmp_path: Path) -> None:
    folder, outside = tmp_path / "imports", tmp_path / "other.wav"
    folder.mkdir()
    outside.write_text("not ours")
    (folder / file_name("Song", "Chorus", "vocal", 3, 120)).write_bytes(b"old take")
    (folder / "song_chorus_zzz.wav").symlink_to(outside)
    landed = land_files(rendered(tmp_path), folder, "Song", "Chorus", 3, 120)
    assert [p.name for p in landed.files] == [file_name("Song", "Chorus", "mix", 3, 120)]
    assert not (folder / file_name("Song", "Chorus", "vocal", 3, 120)).exists()  # the old take's stem went
    assert (folder / "song_chorus_zzz.wav").is_symlink() and outside.read_text() == "not ours"


def test_the_linked_folder_is_where_landings_go_and_a_file_in_its_place_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "daw-imports"
    song = Song(daw=DawLink(adapter="generic", render_folder=str(folder)))
    assert linked_folder(song) == folder
    assert linked_folder(Song()) is None  # no folder named: the project's renders/daw
    folder.write_text("a file")
    with pytest.raises(SongBridgeError, match="not a folder here"):
        linked_folder(song)
    with pytest.raises(SongBridgeError, match="not a folder here"):
        linked_folder(Song(daw=DawLink(adapter="generic", render_folder="relative/imports")))
