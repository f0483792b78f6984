from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SONGBRIDGE_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.exists():
        pytest.fail(f"shared data folder {SHARED} is missing (set SONGBRIDGE_SHARED)")
    return SHARED


@pytest.fixture(scope="session")
def fixtures_dir(shared_dir: Path) -> Path:
    return shared_dir / "fixtures" / "diffrhythm"


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None):
    import subprocess

    return subprocess.run(
        [sys.executable, "-m", "songbridge", *args], capture_output=True, text=True, cwd=cwd,
        env={**os.environ, **(env or {})}, timeout=300,
    )
