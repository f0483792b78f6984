from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from engine.checkpoints import CheckpointError, infer_dims, load_strict, read_checkpoint
from engine.nn import CFM, DiT, DiTConfig


@pytest.fixture(scope="module")
def tiny_sd(fixtures_dir) -> dict:
    return load_file(str(fixtures_dir / "tiny_cfm_state_dict.safetensors"))


def build(sd: dict, max_frames: int) -> CFM:
    return CFM(DiT.from_config(DiTConfig(**infer_dims(sd), max_frames=max_frames)))


def test_official_wrapped_fp16_loads_into_both_variants(fixtures_dir, tiny_sd) -> None:
    ck = read_checkpoint(fixtures_dir / "tiny_cfm_model_state_dict_wrapped_fp16.pt")
    assert ck.kind == "official" and ck.variant == "full" and len(ck.sha256) == 64
    for mf in (2048, 6144):
        m = build(tiny_sd, mf)
        load_strict(m, ck)  # the 2048 model ignores duration_time_embed by rule
        assert m.transformer.has_duration == (mf == 6144)
        w = m.state_dict()["transformer.proj_out.weight"]
        assert torch.equal(w, tiny_sd["transformer.proj_out.weight"].half().float())


def test_trainer_checkpoint_uses_ema_weights(tmp_path: Path, tiny_sd) -> None:
    ema = {f"ema_model.{k}": v * 2 for k, v in tiny_sd.items()}
    ema.update({"initted": torch.tensor(True), "step": torch.tensor(100)})
    path = tmp_path / "model_100.pt"
    torch.save({"ema_model_state_dict": ema, "optimizer_state_dict": {}, "step": 100}, path)
    ck = read_checkpoint(path)
    assert ck.kind == "trainer-ema"
    m = build(tiny_sd, 6144)
    load_strict(m, ck)
    assert torch.equal(m.state_dict()["transformer.proj_out.bias"], tiny_sd["transformer.proj_out.bias"] * 2)


def test_truncated_file(tmp_path: Path, fixtures_dir) -> None:
    data = (fixtures_dir / "tiny_cfm_model_state_dict_wrapped_fp16.pt").read_bytes()
    bad = tmp_path / "cfm_model.pt"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        read_checkpoint(bad)
    st = tmp_path / "x.safetensors"
    st.write_bytes((fixtures_dir / "tiny_cfm_state_dict.safetensors").read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        read_checkpoint(st)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        read_checkpoint(empty)


class Evil:
    def __reduce__(self):
        return (Path("/tmp/songbridge-pwned").touch, ())


def test_pickles_with_code_are_refused(tmp_path: Path) -> None:
    marker = Path("/tmp/songbridge-pwned")
    marker.unlink(missing_ok=True)
    path = tmp_path / "evil.pt"
    torch.save({"model_state_dict": {"x": Evil()}}, path)
    with pytest.raises(CheckpointError, match="never executes code"):
        read_checkpoint(path)
    plain = tmp_path / "plain.pt"
    plain.write_bytes(pickle.dumps({"a": Evil()}))
    with pytest.raises(CheckpointError):
        read_checkpoint(plain)
    assert not marker.exists()


def test_missing_and_renamed_keys_are_reported(tmp_path: Path, tiny_sd) -> None:
    sd = dict(tiny_sd)
    sd["transformer.proj_out.weights"] = sd.pop("transformer.proj_out.weight")  # renamed
    del sd["transformer.norm_out.linear.bias"]
    path = tmp_path / "renamed.safetensors"
    from safetensors.torch import save_file

    save_file(sd, str(path))
    with pytest.raises(CheckpointError) as info:
        load_strict(build(tiny_sd, 6144), read_checkpoint(path))
    msg = str(info.value)
    assert "2 missing, 1 unexpected" in msg
    assert "missing transformer.proj_out.weight (renamed to transformer.proj_out.weights?)" in msg
    assert "missing transformer.norm_out.linear.bias" in msg


def test_full_model_refuses_a_checkpoint_without_duration(tmp_path: Path, tiny_sd) -> None:
    sd = {k: v for k, v in tiny_sd.items() if "duration_time_embed" not in k}
    path = tmp_path / "base.pt"
    torch.save({"model_state_dict": sd}, path)
    ck = read_checkpoint(path)
    assert ck.variant == "base"
    with pytest.raises(CheckpointError, match="lacks"):
        load_strict(build(tiny_sd, 6144), ck)
    load_strict(build(tiny_sd, 2048), ck)


def test_not_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "notes.pt"
    torch.save({"optimizer": {"lr": torch.tensor(1.0)}, "epoch": 3}, path)
    with pytest.raises(CheckpointError, match="not a DiffRhythm checkpoint"):
        read_checkpoint(path)
