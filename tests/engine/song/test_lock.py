"""The project lock under contention and in a hostile project."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.song.lock import LOCK_FILE, ProjectBusy, ProjectLock, read_holder

ROOT = Path(__file__).resolve().parents[3]

# Each program takes the lock, proves it is alone by creating a marker with O_EXCL, lets go of the marker and the
# lock, and counts the times the marker was already there (a second holder at the same moment).
_CONTENDER = r"""
import os, sys, time
from engine.song.lock import ProjectBusy, ProjectLock
folder, seconds = sys.argv[1], float(sys.argv[2])
marker = os.path.join(folder, "holding")
holds = doubles = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    try:
        lock = ProjectLock.acquire(folder, "contender")
    except ProjectBusy:
        continue
    holds += 1
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        doubles += 1
    else:
        os.close(fd)
        os.unlink(marker)
    lock.release()
print(holds, doubles)
"""


@pytest.mark.slow
def test_three_programs_taking_and_releasing_the_lock_never_both_hold_it(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", _CONTENDER, str(tmp_path), "4"], stdout=subprocess.PIPE,
                              text=True, env=env) for _ in range(3)]
    results = [tuple(map(int, p.communicate(timeout=60)[0].split())) for p in procs]
    holds = sum(h for h, _ in results)
    doubles = sum(d for _, d in results)
    assert holds > 100, f"the contenders barely got the lock ({results})"
    assert doubles == 0, f"{doubles} double holders in {holds} holds"


def test_a_symlinked_lock_file_changes_nothing_outside_the_project(tmp_path: Path) -> None:
    project = tmp_path / "song.songbridge"
    project.mkdir()
    victim = tmp_path / "notes.txt"
    victim.write_text("my precious notes\n")
    (project / LOCK_FILE).symlink_to(victim)
    with ProjectLock.acquire(project, "songbridge render") as lock:
        assert lock.holder.program == "songbridge render"
        assert not (project / LOCK_FILE).is_symlink()
        assert read_holder(project) is not None
    assert victim.read_text() == "my precious notes\n"


def test_the_holder_is_not_read_through_a_symlink_or_whole(tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    outside.write_text('{"pid": 1, "host": "h", "program": "p"}')
    project = tmp_path / "p"
    project.mkdir()
    (project / LOCK_FILE).symlink_to(outside)
    assert read_holder(project) is None
    (project / LOCK_FILE).unlink()
    (project / LOCK_FILE).write_text('{"pid": 1, "host": "h", "program": "' + "x" * 100_000 + '"}')
    assert read_holder(project) is None


def test_a_second_holder_in_the_same_process_is_refused(tmp_path: Path) -> None:
    with ProjectLock.acquire(tmp_path, "a"), pytest.raises(ProjectBusy, match="open in a"):
        ProjectLock.acquire(tmp_path, "b")
