from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import run_cli


def test_help_lists_commands() -> None:
    out = run_cli("--help")
    assert out.returncode == 0
    assert "lyrics" in out.stdout and "doctor" in out.stdout


def test_bad_arguments_are_one_line_exit_2(tmp_path: Path) -> None:
    for args in (["lyrics", "lint"], ["--nope"], ["lyrics", "format", "x.lrc", "--bpm", "fast"]):
        out = run_cli(*args)
        assert out.returncode == 2, args
        assert len(out.stderr.strip().splitlines()) <= 2 and "Traceback" not in out.stderr


def test_malformed_lrc_is_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.lrc"
    bad.write_text("[00:01.00]fine\n[00:02.xx]broken\n")
    out = run_cli("lyrics", "lint", str(bad))
    assert out.returncode == 2
    assert out.stderr.strip() == (f"songbridge: error: {bad}:2:1: timestamp '00:02.xx' is not [mm:ss.xx], "
                                  "[mm:ss], [mm:ss.xxx] or [hh:mm:ss.xx]")
    debug = run_cli("--debug", "lyrics", "lint", str(bad))
    assert "Traceback" in debug.stderr


@pytest.mark.slow
def test_format_auto_time_and_lint(tmp_path: Path) -> None:
    txt = tmp_path / "song.txt"
    txt.write_text("[verse]\nHello darkness my old friend\nI've come to talk with you again\n"
                   "[chorus]\nLeft its seeds while I was sleeping\n")
    out_file = tmp_path / "song.lrc"
    out = run_cli("lyrics", "format", str(txt), "--auto-time", "--bpm", "90", "--sections",
                  "intro:4,verse:8,chorus:8", "-o", str(out_file))
    assert out.returncode == 0, out.stderr
    text = out_file.read_text()
    assert "[00:10.667]Hello darkness my old friend" in text  # bar 5 at 90 bpm
    assert "[Chorus]\n[00:32.00]Left its seeds" in text
    lint = run_cli("lyrics", "lint", str(out_file), "--json", "--all")
    findings = json.loads(lint.stdout)
    # Two lines in an eight-bar verse: the second one spans 16 s with 8 syllables before the chorus.
    assert [(f["line_id"], f["source_line"]) for f in findings if f["kind"] == "sparse"] == [("l002", 3)]
    assert {f["kind"] for f in findings} == {"quantised", "sparse"}
    assert lint.returncode == 1


def test_lint_flags_crowded_lines_with_exit_1(tmp_path: Path) -> None:
    f = tmp_path / "tight.lrc"
    f.write_text("[00:01.00]Supercalifragilistic expialidocious everybody\n[00:01.50]next line\n")
    out = run_cli("lyrics", "lint", str(f))
    assert out.returncode == 1
    assert f"{f}:1: [00:01.00] crowded:" in out.stdout


@pytest.mark.slow
def test_doctor_reports_every_item() -> None:
    out = run_cli("doctor")
    names = [re.match(r"\[\s*\w+\] (\w+)", line).group(1) for line in out.stdout.splitlines()
             if line.startswith("[")]
    assert names == ["python", "torch", "precision", "attention", "audio", "midi", "g2p", "espeak", "models"]
    assert out.returncode in (0, 1)
    assert out.stdout.strip().splitlines()[-1].startswith("songbridge doctor:")
