"""ACE-Step 1.5: parity with the reference goldens through ``songbridge models parity ace-step``, a wrong weight and
an unknown case caught, and the command's refusals."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import fixture_set, run_cli


def _lines(stdout: str) -> list[str]:
    return [ln for ln in stdout.splitlines() if ln.startswith(("PASS", "FAIL"))]


@pytest.mark.slow
def test_parity_command_passes_every_shared_case() -> None:
    folder = fixture_set("ace-step")
    r = run_cli("models", "parity", "ace-step", str(folder))
    lines = _lines(r.stdout)
    assert r.returncode == 0, r.stdout + r.stderr
    cases = [c["name"] for c in json.loads((folder / "fixtures.json").read_text())["cases"]]
    assert [ln.split()[1] for ln in lines] == cases  # one line a case, in the set's order
    assert all(ln.startswith("PASS") for ln in lines), "\n".join(lines)
    m = re.search(r"^(\d+) passed, (\d+) failed$", r.stdout, re.M)
    assert m and int(m.group(1)) == len(cases) >= 16 and int(m.group(2)) == 0


@pytest.mark.slow
def test_parity_fails_on_a_wrong_dit_weight_and_an_unknown_case(tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    folder = fixture_set("ace-step")
    copy = tmp_path / "ace-step"
    shutil.copytree(folder, copy)
    for p in copy.rglob("*"):
        p.chmod(0o644 if p.is_file() else 0o755)
    weights = copy / "models" / "acestep-v15-turbo" / "model.safetensors"
    sd = load_file(str(weights))
    sd["decoder.layers.0.mlp.down_proj.weight"] += 0.05
    save_file(sd, str(weights))
    meta = json.loads((copy / "fixtures.json").read_text())
    meta["cases"].append({"name": "lego_stem", "inputs": {}, "args": {}, "outputs": {}})
    (copy / "fixtures.json").write_text(json.dumps(meta))
    r = run_cli("models", "parity", "ace-step", str(copy))
    assert r.returncode == 1, r.stdout + r.stderr
    status = {ln.split()[1]: ln.split()[0] for ln in _lines(r.stdout)}
    assert status["dit_forward"] == status["turbo_t2m_shift3"] == status["repaint"] == "FAIL"
    assert status["tokenizer"] == status["condition_encoder"] == status["vae"] == "PASS"
    assert status["base_apg"] == "PASS"  # the base model's weights were not touched
    assert status["lego_stem"] == "FAIL" and "no runner" in r.stdout
    m = re.search(r"^(\d+) passed, (\d+) failed$", r.stdout, re.M)
    assert m and int(m.group(1)) + int(m.group(2)) == len(meta["cases"])


def test_parity_refuses_a_folder_without_the_set(tmp_path: Path) -> None:
    r = run_cli("models", "parity", "ace-step", str(tmp_path / "nowhere"))
    assert r.returncode != 0 and "nowhere" in r.stderr and "no such fixture folder" in r.stderr
    r = run_cli("models", "parity", "ace-step", str(tmp_path))
    assert r.returncode == 2 and "fixtures.json: not found" in r.stderr
    (tmp_path / "fixtures.json").write_text('{"cases": [\n')
    r = run_cli("models", "parity", "ace-step", str(tmp_path))
    assert r.returncode != 0 and "fixtures.json: line 2: not valid JSON" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "fixtures.json").write_text('{"cases": [{"name": "vae", "outputs": []}]}')
    r = run_cli("models", "parity", "ace-step", str(tmp_path))
    assert "cases[0] (vae): field 'outputs' must be an object" in r.stderr
    (tmp_path / "fixtures.json").write_text('{"cases": [{"name": "vae"}]}')
    r = run_cli("models", "parity", "ace-step", str(tmp_path))
    assert r.returncode != 0 and "tensors.safetensors: the golden tensors of the set are missing" in r.stderr
