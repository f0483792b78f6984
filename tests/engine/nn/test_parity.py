"""The parity tool on the shared fixture set: every DiT, sampler and token case passes."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.slow
def test_parity_tool_passes_every_shared_case(fixtures_dir) -> None:
    out = subprocess.run([sys.executable, "-m", "engine.backends.diffrhythm.parity", str(fixtures_dir)],
                         capture_output=True, text=True, timeout=600)
    lines = out.stdout.splitlines()
    assert out.returncode == 0, out.stdout + out.stderr
    assert not [ln for ln in lines if ln.startswith(("FAIL", "SKIP"))], out.stdout
    names = {ln.split()[1] for ln in lines if ln.startswith("PASS")}
    assert {"dit2048_cond", "dit2048_scalar_time", "dit6144_cond", "gen2048", "gen6144", "edit2048",
            "get_lrc_token_base", "get_lrc_token_full"} <= names
    assert any("wrapped_fp16.pt" in ln for ln in lines if ln.startswith("PASS"))
    assert lines[-1].endswith("0 failed, 0 skipped")


@pytest.mark.slow
def test_parity_tool_reports_failures(tmp_path, fixtures_dir) -> None:
    """A fixture set whose expected output was tampered with must FAIL and exit non-zero."""
    import json
    import shutil

    from safetensors.torch import load_file, save_file

    for name in ("fixtures.json", "tiny_cfm_state_dict.safetensors"):
        shutil.copy(fixtures_dir / name, tmp_path / name)
    tensors = load_file(str(fixtures_dir / "tensors.safetensors"))
    tensors["dit.out.dit2048_cond"] = tensors["dit.out.dit2048_cond"] + 1e-2
    save_file(tensors, str(tmp_path / "tensors.safetensors"))
    meta = json.loads((tmp_path / "fixtures.json").read_text())
    assert meta["tiny_config"]  # the tool reads the config from here
    out = subprocess.run([sys.executable, "-m", "engine.backends.diffrhythm.parity", str(tmp_path)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 1
    assert any(ln.startswith("FAIL  dit2048_cond") for ln in out.stdout.splitlines())
