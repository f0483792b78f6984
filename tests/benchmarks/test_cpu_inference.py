"""The CPU inference benchmark checked at a tiny size (the script runs both models through the product's code and
writes the summary the issue asks for), and its FLOP counts at the real size."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_cpu_inference_runs_at_a_tiny_size_and_writes_its_summary(tmp_path: Path) -> None:
    out = tmp_path / "cpu.json"
    r = subprocess.run([sys.executable, str(REPO / "benchmarks" / "cpu_inference.py"), "--size", "tiny",
                        "--drift-frames", "32", "--precision", "bf16", "--json", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    s = json.loads(out.read_text())
    assert set(s["sao_small"]) >= {"audio_s", "fp32_s", "chosen_s", "precision"}
    assert set(s["diffrhythm_95s"]) >= {"fp32_s", "fp32_how", "chosen_s", "preset", "precision"}
    assert set(s["drift"]) >= {"chosen", "fp16"}
    assert s["sao_small"]["precision"] == s["diffrhythm_95s"]["precision"] == "bf16"
    assert s["diffrhythm_95s"]["preset"] == "draft" and s["diffrhythm_95s"]["fp32_how"].startswith("extrapolated")
    assert 0 < s["drift"]["chosen"] < 0.1 and 0 < s["drift"]["fp16"] < 0.1  # low precision ran, and stayed close
    for model in ("sao_small", "diffrhythm_95s"):
        assert s[model]["chosen_s"] > 0 and s[model]["fp32_s"] > 0
    assert "end to end" in r.stdout and "GFLOP/s" in r.stdout and "peak RSS" in r.stdout


def test_flop_counts_at_the_real_size() -> None:
    from engine.backends.diffrhythm.cost import decoded_frames, decoder_flops, dit_flops

    assert 1.25e12 < decoder_flops(256) < 1.35e12  # SAO Small's 11.9 s decode: as much work as its 8 DiT steps
    assert decoded_frames(2048) == 21 * 128  # 95 s in the reference's chunks of 128 overlapping by 32
    linear, attention = dit_flops(dim=2048, depth=16, ff_mult=4, frames=2048)
    assert 9.5e12 < 2 * (linear + attention) < 10.5e12  # a guided step at 2048 frames: "several TFLOP"
