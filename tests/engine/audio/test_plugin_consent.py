"""A plugin named by a project or a chain file is native code: it is never loaded unless the producer allowed that
exact file on this machine (issue 27, part 3). The plugin here is a real shared object whose constructor writes a
marker file, in a VST3 bundle's layout, so the test sees whether its code ran, not whether a check was called."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from engine.audio import consent
from engine.audio.consent import ConsentError, PluginNotAllowed
from engine.backends.guide.backend import GuideBackend
from engine.errors import PresetError
from engine.generation import SongChoices, plan_takes, prepare_song, run_take
from engine.lyrics import parse
from engine.render import RenderSettings, render_take
from engine.song import EffectSlot, Project, Song
from engine.song.document import save_song
from tests.native_plugin import build_plugin


@pytest.fixture(autouse=True)
def own_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SONGBRIDGE_CONFIG", str(tmp_path / "config"))
    return tmp_path / "config"


@pytest.fixture(scope="module")
def take_project(tmp_path_factory) -> Project:
    folder = tmp_path_factory.mktemp("p") / "shared.songbridge"
    project = Project(folder, Song())
    project.song = prepare_song(project.song, parse("la la la\n"),
                                SongChoices(title="Shared", style="rock", bpm=120, sections="verse:2"), first_time=True)
    run_take(project, GuideBackend(), plan_takes(project, 1, 3)[0], lambda d, t: None, lambda: False)
    save_song(project.song, project.folder)
    return project


def with_evil_chain(project: Project, marker: Path) -> Path:
    """The project as a stranger would send it: fx/warm.toml naming fx/evil.vst3 beside it, on the vocal slot."""
    fx = project.folder / "fx"
    shutil.rmtree(fx, ignore_errors=True)
    fx.mkdir()
    bundle = build_plugin(fx / "evil.vst3", marker)
    (fx / "warm.toml").write_text('schema_version = 1\n[[plugin]]\ntype = "Gain"\ngain_db = -1.0\n'
                                  '[[plugin]]\ntype = "external"\npath = "evil.vst3"\n')
    project.song = project.song.replace(effects={"vocal": EffectSlot(str(fx / "warm.toml"))})
    return bundle


def test_a_project_chain_never_runs_a_plugin_until_that_exact_file_is_allowed(take_project: Project,
                                                                              tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    bundle = with_evil_chain(take_project, marker)
    take = take_project.song.takes[0].id
    with pytest.raises(PluginNotAllowed) as info:
        render_take(take_project, take, RenderSettings())
    message = str(info.value)
    assert f"vocal: {take_project.folder / 'fx' / 'warm.toml'}: plugin[1]" in message
    assert f"plugin {bundle} is not allowed on this machine" in message
    assert f"songbridge fx allow {bundle}" in message and "\n" not in message
    assert not marker.exists()  # its constructor never ran
    assert not (take_project.folder / "renders").exists()  # refused before any work

    entry = consent.allow(bundle)
    assert entry.path == str(bundle.resolve()) and consent.check(bundle).allowed
    with pytest.raises(PresetError, match="cannot load .* as a VST3/AU plugin"):  # not a real VST3, but tried
        render_take(take_project, take, RenderSettings())
    assert marker.read_text() == "the plugin's code ran\n"

    marker.unlink()
    build_plugin(bundle, marker, version=2)  # new bytes in the same place: the consent no longer holds
    verdict = consent.check(bundle)
    assert not verdict.allowed and verdict.reason().startswith("changed since it was allowed on")
    with pytest.raises(PluginNotAllowed, match="changed since it was allowed"):
        render_take(take_project, take, RenderSettings())
    assert not marker.exists()


def test_a_bypassed_or_overridden_off_plugin_needs_no_consent_and_builtins_never_do(take_project: Project,
                                                                                   tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    with_evil_chain(take_project, marker)
    slot = take_project.song.effects["vocal"]
    take_project.song = take_project.song.replace(effects={"vocal": EffectSlot(slot.preset, overrides={"1.bypass": True})})
    take = take_project.song.takes[0].id
    result = render_take(take_project, take, RenderSettings(fx={"master": "master-gentle"}))
    assert result.files["mix"].exists() and not marker.exists()
    assert consent.allowed() == []  # nothing was asked of the store but a lookup


def test_an_absolute_path_from_anywhere_is_refused_alike(tmp_path: Path) -> None:
    from engine.audio.fx import load_board

    marker = tmp_path / "marker"
    bundle = build_plugin(tmp_path / "elsewhere" / "evil.vst3", marker)
    chain = tmp_path / "chain.toml"
    chain.write_text(f'schema_version = 1\n[[plugin]]\ntype = "external"\npath = "{bundle}"\n')
    with pytest.raises(PluginNotAllowed, match="songbridge fx allow"):
        load_board(str(chain))
    assert not marker.exists()


def test_the_digest_covers_every_byte_a_loader_could_reach(tmp_path: Path) -> None:
    bundle = tmp_path / "b.vst3"
    (bundle / "Contents").mkdir(parents=True)
    (bundle / "Contents" / "a.so").write_bytes(b"one")
    outside = tmp_path / "outside.so"
    outside.write_bytes(b"two")
    (bundle / "Contents" / "link.so").symlink_to(outside)
    first = consent.plugin_digest(bundle)
    assert consent.plugin_digest(bundle) == first
    outside.write_bytes(b"TWO")  # a link out of the bundle: its target's bytes count too
    assert consent.plugin_digest(bundle) != first
    (bundle / "Contents" / "loop").symlink_to(bundle)
    with pytest.raises(ConsentError, match="link loop"):
        consent.plugin_digest(bundle)
    (bundle / "Contents" / "loop").unlink()
    os.mkfifo(bundle / "Contents" / "pipe")  # would hang a naive hash
    with pytest.raises(ConsentError, match="neither a file nor a folder"):
        consent.plugin_digest(bundle)
    single = tmp_path / "one.so"
    single.write_bytes(b"abc")  # a plain file's digest is its sha256, as sha256sum prints it
    assert consent.plugin_digest(single) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_the_store_is_written_atomically_and_a_damaged_one_is_named(own_config: Path, tmp_path: Path) -> None:
    plugin = tmp_path / "p.so"
    plugin.write_bytes(b"x")
    consent.allow(plugin)
    consent.allow(plugin)  # again: one entry, not two
    assert [e.path for e in consent.allowed()] == [str(plugin)]
    assert [p.name for p in own_config.iterdir()] == [consent.STORE_NAME]  # no temporary file left behind
    assert [e.path for e in consent.revoke(plugin)] == [str(plugin)] and consent.allowed() == []
    assert consent.revoke(plugin) == []
    (own_config / consent.STORE_NAME).write_text("{not json")
    with pytest.raises(ConsentError, match=f"{consent.STORE_NAME}: the allowed-plugins list is damaged"):
        consent.check(plugin)
