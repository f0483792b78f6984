"""The GPU song benchmark checked at a tiny size on the CPU (the script runs; its decode gives the song's exact
length; its FLOP count is the issue's figure at full size), so it is ready the day a GPU is lent."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_gpu_song_runs_at_a_tiny_size_and_counts_flops(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    r = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_song.py"), "--size", "tiny", "--device", "cpu",
                        "--variants", "fp32", "fp32-math", "--out", str(tmp_path / "wav"), "--json", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    rows = json.loads(out.read_text())["song"]
    assert [row["variant"] for row in rows] == ["fp32", "fp32-math"]
    for row in rows:
        assert "error" not in row, row
        assert row["audio_samples"] == row["frames"] * 2048 and row["finite"] and len(row["step_s"]) == 31
    sys.path.insert(0, str(REPO / "benchmarks"))
    from gpu_song import dit_flops_per_step

    assert 29e12 < dit_flops_per_step(2048, 16, 4, 6144) < 31e12  # "about 30 TFLOP per guided step"
