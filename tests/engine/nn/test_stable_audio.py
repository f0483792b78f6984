"""Stable Audio Open: parity with the reference goldens through the command, a wrong weight caught, the real
layouts, and the loader's refusals."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import torch

from engine.backends.stable_audio.files import StableAudioFiles, StableAudioFilesError, load
from engine.nn.sao.config import ConfigError, read
from tests.conftest import fixture_set, run_cli


@pytest.mark.slow
def test_parity_command_passes_every_shared_case() -> None:
    folder = fixture_set("stable-audio")
    r = run_cli("models", "parity", "stable-audio", str(folder))
    assert r.returncode == 0, r.stdout + r.stderr
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith(("PASS", "FAIL"))]
    for variant in (p.parent.name for p in folder.glob("*/fixtures.json")):
        cases = json.loads((folder / variant / "fixtures.json").read_text())["cases"]
        named = {ln.split()[1] for ln in lines}
        assert f"{variant}.e2e" in named and f"{variant}.vae" in named and len(cases) >= 6
    m = re.search(r"^(\d+) passed, (\d+) failed$", r.stdout, re.M)
    assert m and int(m.group(2)) == 0 and int(m.group(1)) == len(lines)


@pytest.mark.slow
def test_parity_fails_when_a_dit_weight_is_wrong(tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    folder = fixture_set("stable-audio")
    copy = tmp_path / "set"
    shutil.copytree(folder / "small", copy / "small")
    for p in (copy / "small").rglob("*"):
        p.chmod(0o644 if p.is_file() else 0o755)
    (copy / "small" / "model.ckpt").unlink()
    sd = load_file(str(copy / "small" / "model.safetensors"))
    sd["model.model.transformer.layers.0.ff.ff.2.bias"] += 0.05
    save_file(sd, str(copy / "small" / "model.safetensors"))
    r = run_cli("models", "parity", "stable-audio", str(copy))
    assert r.returncode == 1
    fails = {ln.split()[1] for ln in r.stdout.splitlines() if ln.startswith("FAIL")}
    assert {"small.dit.nocfg", "small.e2e"} <= fails and "small.vae" not in fails and "small.t5" not in fails


def test_loader_reports_what_does_not_fit(tmp_path: Path) -> None:
    folder = fixture_set("stable-audio") / "small"
    cfg = json.loads((folder / "model_config.json").read_text())
    cfg["model"]["diffusion"]["config"]["depth"] = 3
    (tmp_path / "model_config.json").write_text(json.dumps(cfg))
    shutil.copy(folder / "model.safetensors", tmp_path / "model.safetensors")
    files = StableAudioFiles(tmp_path, tmp_path / "model_config.json", tmp_path / "model.safetensors", folder / "t5")
    with pytest.raises(StableAudioFilesError, match=r"(?s)does not fit.*missing model\.model\.transformer\.layers\.2"):
        load(files)
    cfg["model"]["diffusion"]["config"]["depth"] = 2
    cfg["model"]["diffusion"]["config"]["heads"] = 4
    (tmp_path / "model_config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match=r"diffusion\.config\.heads: unknown key"):
        read(tmp_path / "model_config.json")
    torch.save({"state_dict": {"x": torch.zeros(1)}, "code": print}, tmp_path / "evil.ckpt")
    with pytest.raises(StableAudioFilesError, match="refused"):
        load(StableAudioFiles(tmp_path, folder / "model_config.json", tmp_path / "evil.ckpt", folder / "t5"))
