"""kill -9 of the program holding a project while a command follows a job there: the command says so at once
(not after its status requests time out) and exits non-zero; the project then opens, the finished takes kept and
the unfinished ones tidied."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.session import Session
from engine.song import load_song
from tests.conftest import REPO
from tests.engine.session.test_session import make_project


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "songbridge", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})


@pytest.mark.slow
def test_a_command_following_a_job_in_a_killed_app_says_so_and_the_project_opens(tmp_path: Path) -> None:
    project = make_project(tmp_path).folder
    before = {t.id for t in load_song(project).takes}
    serve = start("serve", str(project), "--osc", "127.0.0.1:0", "--midi", "off")
    cli = None
    try:
        while not re.search(r"OSC on [\d.]+:\d+", serve.stderr.readline() or "OSC on 0.0.0.0:0"):
            assert serve.poll() is None, "serve exited before listening"
        cli = start("edit", str(project), "--seconds", "1-7", "--takes", "16")
        said = ""
        while "queued as" not in said:
            line = cli.stderr.readline()
            assert line, f"the command ended before its job was queued: {said}"
            said += line
        serve.send_signal(signal.SIGKILL)
        serve.wait(10)
        t0 = time.monotonic()
        out, err = cli.communicate(timeout=60)
        waited = time.monotonic() - t0
    finally:
        for proc in (serve, cli):
            if proc is not None and proc.poll() is None:
                proc.kill()
    assert cli.returncode != 0 and "ended while" in err, (cli.returncode, err)
    assert waited < 10, f"the command took {waited:.1f} s to notice"
    session = Session.open(project, None, "check")  # takes over the dead program's lock, tidies takes/
    try:
        assert before <= {t.id for t in session.song.takes}
        for take in session.song.takes:
            assert (project / "takes" / take.id / "mix.wav").is_file(), take.id
        assert not [p for p in (project / "takes").iterdir() if p.name.startswith(".")]
    finally:
        session.close()
