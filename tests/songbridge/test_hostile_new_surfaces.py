"""What an attack on this session's new surfaces found, each now refused or held: a planted folder link in the
project (a landing's folder, a take's grid folder) is never written through; a refused DAW link changes nothing; an
ACE-Step config with a non-finite number or JSON nested too deep is one clear error naming the file or field; an
extend too short to be one is refused as a bad value."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.engine.session.test_session import make_project


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_grid_writes_nothing_through_a_planted_grid_folder_link(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    take = project.song.takes[-1]
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "beats.csv").write_text("mine")
    (project.folder / "takes" / take.id / "grid").symlink_to(victim, target_is_directory=True)
    r = run_cli("grid", str(project.folder), "--models", str(tmp_path / "no-models"))
    assert _tree(victim) == {"beats.csv": b"mine"}, r.stdout + r.stderr


@pytest.mark.slow
def test_land_writes_and_deletes_nothing_through_a_planted_land_folder_link(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "session_song_precious.wav").write_text("mine")  # <song>_<section>_*.wav: what a landing replaces
    (project.folder / "renders").mkdir()
    (project.folder / "renders" / "daw").symlink_to(victim, target_is_directory=True)
    r = run_cli("daw", "land", str(project.folder))
    assert _tree(victim) == {"session_song_precious.wav": b"mine"}, r.stdout + r.stderr
    assert "symbolic link" in r.stderr


def test_a_refused_daw_link_changes_nothing(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", take=False)
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    before = (project.folder / "song.json").read_bytes()
    r = run_cli("daw", "link", str(project.folder), "generic", str(a_file))
    assert r.returncode != 0
    assert (project.folder / "song.json").read_bytes() == before


def test_an_ace_step_config_with_a_nan_is_refused_naming_the_field(tmp_path: Path) -> None:
    from engine.nn.ace_step.config import AceStepConfigError, read_acestep

    r = run_cli("models", "create-tiny", "--kind", "ace-step", str(tmp_path / "m"))
    assert r.returncode == 0, r.stderr
    path = tmp_path / "m" / "acestep-v15-turbo" / "config.json"
    cfg = json.loads(path.read_text())
    cfg["rms_norm_eps"] = math.nan
    path.write_text(json.dumps(cfg))  # json writes NaN, which Python's json reads back
    with pytest.raises(AceStepConfigError, match="rms_norm_eps"):
        read_acestep(path)


def test_a_deeply_nested_model_config_is_one_clear_error(tmp_path: Path) -> None:
    r = run_cli("models", "create-tiny", "--kind", "ace-step", str(tmp_path / "m"))
    assert r.returncode == 0, r.stderr
    path = tmp_path / "m" / "acestep-v15-turbo" / "config.json"
    path.write_text("[" * 200_000 + "]" * 200_000)
    r = run_cli("models", "status", "--models", str(tmp_path / "m"))
    assert "internal error" not in r.stderr
    assert str(path) in r.stdout + r.stderr


@pytest.mark.slow
def test_a_vanishing_extend_is_refused_as_a_bad_value(tmp_path: Path) -> None:
    models = tmp_path / "m"
    assert run_cli("models", "create-tiny", "--kind", "ace-step", str(models)).returncode == 0
    lyrics = tmp_path / "short.txt"
    lyrics.write_text("[Verse 1]\nshort test line here\n")
    out = tmp_path / "song"
    r = run_cli("generate", str(lyrics), "--backend", "ace-step", "--models", str(models), "-o", str(out))
    assert r.returncode == 0, r.stderr
    folder = out.with_suffix(".songbridge")
    before = (folder / "song.json").read_bytes()
    r = run_cli("edit", str(folder), "--extend", "1e-300", "--models", str(models))
    assert r.returncode == 2
    assert "internal error" not in r.stderr and "extend" in r.stderr, r.stderr
    assert (folder / "song.json").read_bytes() == before
