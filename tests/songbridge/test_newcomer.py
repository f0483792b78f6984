"""A newcomer's mistakes: each gets one line naming the option and what it allows, exit code 2, nothing written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli

LRC = "\n".join(f"[{int(t // 60):02d}:{t % 60:05.2f}]line number {i} of the song"
                for i, t in enumerate(b * 4 * 60 / 92 for b in (0, 2, 4, 6, 9, 11, 13, 16, 18, 20)))


@pytest.fixture()
def lyrics(tmp_path: Path) -> Path:
    p = tmp_path / "timed.lrc"
    p.write_text(LRC + "\n")
    return p


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("p")
    (tmp / "l.txt").write_text("hello there\nsecond line\n")
    out = run_cli("generate", str(tmp / "l.txt"), "--duration", "8", "--seed", "1", "-o", str(tmp / "song"))
    assert out.returncode == 0, out.stderr
    return tmp / "song.songbridge"


def refused(out: subprocess.CompletedProcess, *words: str) -> None:
    assert out.returncode == 2, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, out.stderr
    assert "Traceback" not in out.stderr and "internal error" not in out.stderr
    for w in words:
        assert w in lines[0], lines[0]


@pytest.mark.parametrize(("args", "words"), [
    (["--takes", "0"], ["--takes", "1..16"]),
    (["--takes", "-2"], ["--takes", "1..16"]),
    (["--bpm", "0"], ["--bpm", "20..400"]),
    (["--seed", "-5"], ["--seed", "0.."]),
    (["--duration", "-1"], ["--duration"]),
    (["--param", "bogus=1"], ["--param bogus", "guide"]),
    (["--param", "solver=rk99"], ["--param solver"]),
    (["--steps", "8"], ["--steps", "guide"]),
    (["--param", "nonsense"], ["--param", "KEY=VALUE"]),
])
def test_generate_refuses_bad_options_before_writing(tmp_path: Path, lyrics: Path, args, words) -> None:
    out = run_cli("generate", str(lyrics), "-o", str(tmp_path / "new"), *args)
    refused(out, *words)
    assert not (tmp_path / "new.songbridge").exists()


def test_backend_parameters_are_checked_against_what_the_backend_takes(tmp_path: Path, lyrics: Path) -> None:
    from engine.backends.diffrhythm.tiny import create_tiny_model

    models = create_tiny_model(tmp_path / "models")
    for args, words in ((["--param", "solver=rk99"], ["--param solver", "euler, midpoint, heun", "rk99"]),
                        (["--param", "grid=wobbly"], ["--param grid", "linear"]),
                        (["--steps", "1"], ["--steps", "2..512"]),
                        (["--param", "bogus=1"], ["bogus", "steps, cfg, solver, grid, g2p"])):
        out = run_cli("generate", str(lyrics), "--backend", "diffrhythm", "--models", str(models),
                      "-o", str(tmp_path / "n"), *args)
        refused(out, *words)
        assert not (tmp_path / "n.songbridge").exists()


def test_param_names_match_the_sampler_tables() -> None:
    from engine.backends.diffrhythm.backend import PARAMS
    from engine.sampling import GRIDS, SOLVERS

    assert set(PARAMS["solver"].choices) == set(SOLVERS)
    assert set(PARAMS["grid"].choices) == set(GRIDS)


def test_play_and_render_name_the_bad_option(project: Path) -> None:
    before = (project / "song.json").read_bytes()
    refused(run_cli("play", str(project), "--take", "take-999"), "--take take-999", "take-001")
    refused(run_cli("play", str(project), "--ab", "take-999"), "--ab take-999")
    refused(run_cli("render", str(project), "--loudness", "loud"), "--loudness", "-60..0", "off")
    refused(run_cli("render", str(project), "--take", "take-999"), "--take take-999")
    refused(run_cli("render", str(project), "--ceiling", "3"), "--ceiling")
    assert (project / "song.json").read_bytes() == before
    assert not (project / "renders").exists()


def test_list_devices_without_any_device_says_so(monkeypatch, capsys) -> None:
    import engine.audio.player as player
    from songbridge.cli import main

    monkeypatch.setattr(player, "list_devices", lambda: [])  # what PortAudio reports on a machine with no output
    assert main(["play", "--list-devices"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--list-devices" in err[0] and "no audio output device" in err[0]


@pytest.mark.slow
def test_lint_json_into_a_closed_pipe_stops_quietly(lyrics: Path) -> None:
    cmd = f"{sys.executable} -m songbridge lyrics lint {lyrics} --json --all | head -c 5 >/dev/null"
    out = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert "Traceback" not in out.stderr and "BrokenPipe" not in out.stderr, out.stderr


@pytest.mark.slow
def test_tempo_is_read_off_the_lyrics_and_a_conflict_is_reported(tmp_path: Path, lyrics: Path) -> None:
    out = run_cli("generate", str(lyrics), "--style", "dreamy synth pop", "-o", str(tmp_path / "a"))
    assert out.returncode == 0, out.stderr
    assert "tempo 92 bpm, read off the lyrics" in out.stderr
    song = json.loads((tmp_path / "a.songbridge/song.json").read_text())
    assert song["tempo"]["segments"][0]["bpm"] == 92
    out = run_cli("generate", str(lyrics), "--bpm", "120", "-o", str(tmp_path / "b"))
    assert out.returncode == 0, out.stderr
    assert "92 bpm grid, not on --bpm 120" in out.stderr
    song = json.loads((tmp_path / "b.songbridge/song.json").read_text())
    assert song["tempo"]["segments"][0]["bpm"] == 120


@pytest.mark.slow
def test_repeated_headers_from_the_command_line(tmp_path: Path) -> None:
    text = "[verse]\n" + "a verse line\n" * 4 + "\n[chorus]\nthe chorus line\nthe chorus again\n\n" \
        "[verse]\n" + "second verse line\n" * 4 + "\n[chorus]\nthe chorus line\nthe chorus again\n"
    (tmp_path / "l.txt").write_text(text)
    out = run_cli("generate", str(tmp_path / "l.txt"), "--bpm", "100", "--sections",
                  "intro:4,verse:16,chorus:8,verse:16,chorus:8,outro:4", "-o", str(tmp_path / "h"))
    assert out.returncode == 0, out.stderr
    song = json.loads((tmp_path / "h.songbridge/song.json").read_text())
    ids = [ln["section_id"] for ln in song["lyrics"]]
    assert ids == ["verse-1"] * 4 + ["chorus-1"] * 2 + ["verse-2"] * 4 + ["chorus-2"] * 2


def broken_models(tmp: Path, how: str) -> Path:
    from engine.backends.diffrhythm.tiny import create_tiny_model

    root = create_tiny_model(tmp / how)
    cfm = next((root / "DiffRhythm-1_2-full").glob("cfm_model*"))
    if how == "empty":
        cfm.write_bytes(b"")
    else:
        cfm.write_bytes(cfm.read_bytes()[: cfm.stat().st_size // 2])
    return root


@pytest.mark.parametrize("how", ["empty", "truncated"])
@pytest.mark.slow
def test_a_broken_checkpoint_is_reported_and_generate_drafts_with_the_guide(tmp_path: Path, lyrics: Path,
                                                                             how: str) -> None:
    models = broken_models(tmp_path, how)
    status = run_cli("models", "status", "--models", str(models))
    assert status.returncode == 1 and "[broken]" in status.stdout and "cfm_model" in status.stdout, status.stdout
    assert ("empty file" if how == "empty" else "truncated") in status.stdout
    doctor = run_cli("doctor", "--models", str(models))
    assert "FAIL" in doctor.stdout and "broken" in doctor.stdout
    out = run_cli("generate", str(lyrics), "--models", str(models), "-o", str(tmp_path / "g"))
    assert out.returncode == 0, out.stderr
    assert "diffrhythm backend was skipped" in out.stderr and "broken" in out.stderr
    song = json.loads((tmp_path / "g.songbridge/song.json").read_text())
    assert [t["backend"] for t in song["takes"]] == ["guide"]


def test_choosing_the_backend_does_not_import_torch(tmp_path: Path) -> None:
    from engine.backends.diffrhythm.tiny import create_tiny_model

    models = create_tiny_model(tmp_path / "models")
    code = ("import sys; from engine.backends import registry; b = registry.best_available(models_dir=sys.argv[1]); "
            "print(b.name, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(models)], capture_output=True, text=True, cwd=REPO,
                         timeout=120)
    assert out.stdout.split() == ["diffrhythm", "False"], out.stderr


def test_estimates_learn_from_finished_jobs(tmp_path: Path) -> None:
    from engine.estimates import estimate_seconds, learned_rate, record_job

    book = tmp_path / "estimates.json"
    assert estimate_seconds("guide", 100.0, 1.5, book) == 1.5
    record_job("guide", 100.0, 4.0, book)
    assert learned_rate("guide", book) == pytest.approx(0.04)
    assert estimate_seconds("guide", 50.0, 1.5, book) == pytest.approx(2.0)
    record_job("guide", 100.0, 2.0, book)
    assert 0.02 < learned_rate("guide", book) < 0.04
    book.write_text("{not json")
    assert estimate_seconds("guide", 50.0, 1.5, book) == 1.5  # a damaged book is ignored
    record_job("guide", 10.0, 1.0, book)
    assert learned_rate("guide", book) == pytest.approx(0.1)


@pytest.mark.slow
def test_audition_plays_the_chains_the_take_was_rendered_with(project: Path) -> None:
    from engine.render import audition_chains
    from engine.song.project import Project

    p = Project.open(project)
    stems = p.song.takes[0].stems
    before = audition_chains(p, "take-001", stems)
    assert before.source == "song" and before.presets.get("vocal") is None
    out = run_cli("render", str(project), "--fx", "vocal=vocal-space", "--fx", "master=master-gentle")
    assert out.returncode == 0, out.stderr
    after = audition_chains(Project.open(project), "take-001", stems)
    assert after.source == "render"
    assert after.presets["vocal"] == "vocal-space" and after.presets["master"] == "master-gentle"
    assert "vocal=vocal-space" in after.describe()


@pytest.mark.slow
def test_a_take_folder_left_on_disk_does_not_block_the_next_take(tmp_path: Path) -> None:
    (tmp_path / "l.txt").write_text("one line\nanother line\n")
    args = ["generate", str(tmp_path / "l.txt"), "--duration", "6", "-o", str(tmp_path / "s")]
    assert run_cli(*args).returncode == 0
    (tmp_path / "s.songbridge/takes/take-002").mkdir()  # left by a killed job, or written by another program
    out = run_cli(*args)
    assert out.returncode == 0, out.stderr
    song = json.loads((tmp_path / "s.songbridge/song.json").read_text())
    # the session that opens the project tidies the empty folder a killed job left, so its id is free again
    assert [t["id"] for t in song["takes"]] == ["take-001", "take-002"]
    assert (tmp_path / "s.songbridge/takes/take-002/mix.wav").is_file()
