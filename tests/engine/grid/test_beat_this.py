"""Beat This!: parity with the reference goldens through the command, a wrong weight caught, the loader's refusals,
and the post-processor's rules on hand-made logits."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.grid.beat_this import BeatModelError, BeatTracker, load_checkpoint
from engine.grid.peaks import beat_numbers, beats_from_logits, merge_adjacent
from tests.conftest import fixture_set, run_cli


@pytest.mark.slow
def test_parity_command_passes_every_shared_case() -> None:
    folder = fixture_set("beat-this")
    r = run_cli("models", "parity", "beat-this", str(folder))
    assert r.returncode == 0, r.stdout + r.stderr
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith(("PASS", "FAIL"))]
    cases = json.loads((folder / "fixtures.json").read_text())["cases"]
    named = {ln.split()[1] for ln in lines}
    assert {f"e2e.{c}" for c in cases["e2e"]} <= named and {f"post.{c}" for c in cases["post"]} <= named
    m = re.search(r"^(\d+) passed, (\d+) failed$", r.stdout, re.M)
    assert m and int(m.group(2)) == 0 and int(m.group(1)) == len(lines)


@pytest.mark.slow
def test_parity_fails_when_a_weight_is_wrong(tmp_path: Path) -> None:
    folder = fixture_set("beat-this")
    copy = tmp_path / "set"
    shutil.copytree(folder, copy)
    ckpt = copy / "tiny_beat_this.ckpt"
    ckpt.chmod(0o644)
    raw = torch.load(ckpt, weights_only=True)
    raw["state_dict"]["model.task_heads.beat_downbeat_lin.bias"] += 0.05
    torch.save(raw, ckpt)
    r = run_cli("models", "parity", "beat-this", str(copy))
    assert r.returncode == 1
    fails = {ln.split()[1] for ln in r.stdout.splitlines() if ln.startswith("FAIL")}
    assert "net.short" in fails and "mel" not in fails and "post.handcrafted" not in fails


def test_loader_strips_prefixes_and_reports_a_checkpoint_that_does_not_fit(tmp_path: Path) -> None:
    folder = fixture_set("beat-this")
    raw = torch.load(folder / "tiny_beat_this.ckpt", weights_only=True)
    compiled = {k.replace("model.", "model._orig_mod.", 1): v for k, v in raw["state_dict"].items()
                if not k.endswith("num_batches_tracked")}  # torch.compile's names; the counters are optional
    torch.save({**raw, "state_dict": compiled}, tmp_path / "compiled.ckpt")
    a, b = load_checkpoint(folder / "tiny_beat_this.ckpt"), load_checkpoint(tmp_path / "compiled.ckpt")
    x = torch.randn(1, 40, 128).abs()
    with torch.inference_mode():
        assert torch.equal(a.model(x)[0], b.model(x)[0])  # type: ignore[operator]
    cut = dict(compiled)
    cut.pop("model._orig_mod.frontend.linear.weight")
    torch.save({**raw, "state_dict": cut, "hyper_parameters": {**raw["hyper_parameters"], "transformer_dim": 32}},
               tmp_path / "bad.ckpt")
    with pytest.raises(BeatModelError, match=r"(?s)bad\.ckpt: does not fit.*missing frontend\.linear\.weight"):
        load_checkpoint(tmp_path / "bad.ckpt")
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(BeatModelError, match="junk.ckpt: not a readable Beat This! checkpoint"):
        load_checkpoint(tmp_path / "junk.ckpt")


def test_tracker_from_a_models_folder_finds_beats_in_a_file(tmp_path: Path) -> None:
    """The production path (models folder, a WAV on disk, stereo 44.1 kHz) gives the reference's beats."""
    import soundfile as sf
    from safetensors.torch import load_file

    folder = fixture_set("beat-this")
    (tmp_path / "beat_this").mkdir()
    shutil.copy(folder / "tiny_beat_this.ckpt", tmp_path / "beat_this" / "small0.ckpt")
    tracker = BeatTracker.from_models(tmp_path)
    tensors = load_file(str(folder / "tensors.safetensors"))
    case = next(n for n, c in json.loads((folder / "fixtures.json").read_text())["cases"]["e2e"].items()
                if c["sr"] != 22050 and c["channels"] == 2)
    sr = json.loads((folder / "fixtures.json").read_text())["cases"]["e2e"][case]["sr"]
    sf.write(tmp_path / "clip.wav", tensors[f"e2e.{case}.audio_int16"].numpy(), sr, subtype="PCM_16")
    data, rate = sf.read(tmp_path / "clip.wav", dtype="float64")
    beats, downs = tracker.beats(data, rate)
    assert beats.tolist() == tensors[f"e2e.{case}.beats"].tolist()
    assert downs.tolist() == tensors[f"e2e.{case}.downbeats"].tolist()
    with pytest.raises(BeatModelError, match="too short"):
        tracker.beats(np.zeros(500, np.float32), 44100)
    with pytest.raises(BeatModelError, match="no Beat This! checkpoint"):
        BeatTracker.from_models(tmp_path / "nothing")


def test_post_processing_rules() -> None:
    assert merge_adjacent(np.array([3, 4, 5])).tolist() == [3.5, 5.0]  # the running mean, not the previous frame
    b = np.full(60, -5.0, np.float32)
    b[[10, 11]] = 2.0  # a plateau: both peaks, merged
    b[30] = 1e-6
    b[40] = 0.0  # strictly above zero
    d = np.full(60, -5.0, np.float32)
    d[12] = 3.0
    beats, downs = beats_from_logits(b, d)
    assert beats.tolist() == [0.21, 0.6] and downs.tolist() == [0.21]  # the downbeat snapped to its beat
    valid = np.ones(60, bool)
    valid[50:] = False
    b[52] = 9.0  # a padded tail cannot hide a real peak
    assert beats_from_logits(b, d, valid)[0].tolist() == [0.21, 0.6]
    assert beat_numbers(np.array([0.5, 1.0, 1.5, 2.0, 2.5, 3.0]), np.array([1.0, 2.5])).tolist() == [3, 1, 2, 3, 1, 2]
