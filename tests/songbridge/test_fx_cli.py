"""``songbridge render`` on a project that names a plugin, and ``songbridge fx allow|allowed|revoke`` (issue 27,
part 3): the plugin's code runs only after the producer allows that exact file here."""

from __future__ import annotations

from pathlib import Path

from engine.backends.guide.backend import GuideBackend
from engine.generation import SongChoices, plan_takes, prepare_song, run_take
from engine.lyrics import parse
from engine.song import EffectSlot, Project, Song
from engine.song.document import save_song
from tests.conftest import run_cli
from tests.native_plugin import build_plugin


def test_render_refuses_a_shared_projects_plugin_until_fx_allow(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    folder = tmp_path / "P.songbridge"
    project = Project(folder, Song())
    project.song = prepare_song(project.song, parse("la la la\n"),
                                SongChoices(title="P", style="rock", bpm=120, sections="verse:2"), first_time=True)
    run_take(project, GuideBackend(), plan_takes(project, 1, 3)[0], lambda d, t: None, lambda: False)
    (folder / "fx").mkdir()
    bundle = build_plugin(folder / "fx" / "evil.vst3", marker)
    (folder / "fx" / "warm.toml").write_text('schema_version = 1\n[[plugin]]\ntype = "external"\n'
                                             'path = "evil.vst3"\n')
    project.song = project.song.replace(effects={"vocal": EffectSlot("fx/warm.toml")})  # as the issue found it
    save_song(project.song, project.folder)
    env = {"SONGBRIDGE_CONFIG": str(tmp_path / "config")}

    out = run_cli("render", ".", "--engine", "thread", cwd=folder, env=env)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert f"plugin {bundle} is not allowed on this machine" in out.stderr
    assert f"songbridge fx allow {bundle}" in out.stderr and "--fx vocal=none" in out.stderr
    assert not marker.exists() and not (folder / "renders").exists()

    assert run_cli("fx", "allowed", env=env).stdout.startswith("no plugins are allowed")
    allowed = run_cli("fx", "allow", str(bundle), env=env)
    assert allowed.returncode == 0 and f"allowed {bundle}" in allowed.stdout
    listing = run_cli("fx", "allowed", env=env)
    assert f"[ok]      {bundle}" in listing.stdout

    out = run_cli("render", ".", "--engine", "thread", cwd=folder, env=env)
    assert out.returncode == 2 and "cannot load" in out.stderr  # tried: it is no real VST3
    assert marker.exists()

    marker.unlink()
    build_plugin(bundle, marker, version=2)
    assert f"[changed] {bundle}" in run_cli("fx", "allowed", env=env).stdout
    out = run_cli("render", ".", "--engine", "thread", cwd=folder, env=env)
    assert out.returncode == 2 and "changed since it was allowed" in out.stderr and not marker.exists()

    assert run_cli("fx", "revoke", str(bundle), env=env).returncode == 0
    again = run_cli("fx", "revoke", str(bundle), env=env)
    assert again.returncode == 2 and again.stderr.strip() == (f"songbridge: error: {bundle}: not in the allowed list "
                                                              "(songbridge fx allowed lists it)")
    missing = run_cli("fx", "allow", str(tmp_path / "nope.vst3"), env=env)
    assert missing.returncode == 2 and missing.stderr.strip() == f"songbridge: error: {tmp_path / 'nope.vst3'}: not found"
