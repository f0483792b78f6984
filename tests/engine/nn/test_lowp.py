"""The low-precision CPU path at tiny size: what is lowered and what stays float32, that it samples close to
float32 (but not identically: the low path really ran), the backends' records, and the Oobleck inference form."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from engine.backends.base import EditSpec, GenerationRequest
from engine.backends.diffrhythm.backend import DiffRhythmBackend
from engine.backends.diffrhythm.tiny import create_tiny_model
from engine.lyrics import lines_from_lrc, parse
from engine.nn import CFM, DiT, DiTConfig
from engine.nn.lowp import LowPrecisionLinear, lower, lowered_parameters
from engine.sampling import sway_grid
from engine.song import Style, TimeRange


def tiny_cfm(seed: int = 0) -> CFM:
    torch.manual_seed(seed)
    cfg = DiTConfig(dim=128, depth=3, ff_mult=2, text_dim=512, conv_layers=1, mel_dim=64, text_num_embeds=363,
                    max_frames=2048)
    cfm = CFM(DiT.from_config(cfg)).eval()
    with torch.no_grad():
        for p in cfm.parameters():
            p.copy_(torch.randn(p.shape) / math.sqrt(p[0].numel() if p.ndim > 1 else 1) * (1 if p.ndim > 1 else 0.1))
    return cfm


def sample(cfm: CFM, n: int = 96, segments: list[tuple[int, int]] | None = None,
           cond: torch.Tensor | None = None) -> torch.Tensor:
    g = torch.Generator().manual_seed(7)
    text = torch.randint(0, 364, (1, n), generator=g)
    return cfm.sample(cond=torch.zeros(1, n, 64) if cond is None else cond, text=text, duration=n,
                      style_prompt=torch.randn(1, 512, generator=g), negative_style_prompt=torch.randn(1, 512, generator=g),
                      start_time=torch.zeros(1), song_duration=torch.tensor([n / 2048]),
                      latent_pred_segments=segments or [(0, n)], steps=9, cfg_strength=4.0,
                      noise=torch.randn(1, n, 64, generator=g), grid=sway_grid(9)).out


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.slow
def test_lowered_blocks_sample_close_to_float32_with_the_rest_in_float32(dtype: torch.dtype) -> None:
    cfm = tiny_cfm()
    with torch.inference_mode():
        ref = sample(cfm)
    low = copy.deepcopy(cfm)
    assert lower(low.transformer.transformer_blocks, dtype) == 3 * 7  # q, k, v, o, gate, up, down per block
    blocks = {id(p) for p in low.transformer.transformer_blocks.parameters()}
    for name, p in low.named_parameters():
        is_linear_weight = name.endswith("proj.weight") and id(p) in blocks
        assert p.dtype == (dtype if is_linear_weight else torch.float32), name
    assert low.transformer.rotary_emb.inv_freq.dtype == torch.float32
    assert low.dtype == torch.float32  # the DiT's inputs, outputs and the ODE state stay float32
    low_params, all_params = lowered_parameters(low)
    block_weights = sum(p.numel() for n, p in low.transformer.transformer_blocks.named_parameters()
                        if n.endswith("proj.weight"))
    assert low_params == block_weights < all_params
    with torch.inference_mode():
        out = sample(low)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    drift = float((out - ref).norm() / ref.norm())
    assert 0 < drift < 2e-2, drift  # it ran in the low format, and stayed close


def test_lowered_linear_keeps_the_callers_dtype() -> None:
    layer = nn.Linear(16, 8)
    lower([layer], torch.bfloat16)
    assert isinstance(layer, LowPrecisionLinear) and layer.weight.dtype == torch.bfloat16
    x = torch.randn(3, 16)
    assert layer(x).dtype == torch.float32 and layer(x.double()).dtype == torch.float64
    assert set(layer.state_dict()) == {"weight", "bias"}  # the checkpoint's key names are unchanged


def test_an_edit_keeps_its_frames_bit_exact_in_low_precision() -> None:
    low = tiny_cfm(1)
    lower(low.transformer.transformer_blocks, torch.bfloat16)
    cond = torch.randn(1, 96, 64)
    with torch.inference_mode():
        out = sample(low, segments=[(30, 60)], cond=cond)
    assert torch.equal(out[0, :30], cond[0, :30]) and torch.equal(out[0, 60:], cond[0, 60:])
    assert not torch.equal(out[0, 30:60], cond[0, 30:60])


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    return create_tiny_model(tmp_path_factory.mktemp("models"))


@pytest.mark.slow
def test_backend_records_the_precision_it_ran_in(tmp_path: Path, tiny_dir: Path) -> None:
    lines = tuple(lines_from_lrc(parse("[00:01.00]Hello darkness my old friend\n")))
    out = {}
    for precision in ("bf16", "fp32"):
        (tmp_path / precision / "takes").mkdir(parents=True)
        backend = DiffRhythmBackend(models_dir=tiny_dir, precision=precision)
        req = GenerationRequest("take-001", tmp_path / precision / "takes" / "take-001", lines, Style("x"), 6.0, 3,
                                params={"quality": "draft"})
        take = backend.generate(req, lambda *_: None, lambda: False)
        assert take.params["precision"].startswith(precision), take.params["precision"]
        assert take.params["dtype"] == "float32"
        out[precision] = backend
    # a seed gives the same take again; alone or in a batch of two it differs only by bf16 rounding
    bf16 = out["bf16"]
    pair = bf16.generate_many([
        GenerationRequest(f"take-00{i}", tmp_path / "bf16" / "takes" / f"take-00{i}", lines, Style("x"), 6.0, seed,
                          params={"quality": "draft"}) for i, seed in ((5, 3), (6, 4))], lambda *_: None, lambda: False)
    assert [t.seed for t in pair] == [3, 4]
    from safetensors.torch import load_file

    lat = {t: load_file(str(tmp_path / "bf16" / "takes" / t / "latent.safetensors"))["latent"]
           for t in ("take-001", "take-005", "take-006")}
    gap = float((lat["take-001"] - lat["take-005"]).abs().max())
    assert gap < 2e-2 and float((lat["take-001"] - lat["take-006"]).abs().max()) > 0.1
    # an edit in bf16 still keeps the source's frames (the latent is saved in float32)
    edit = GenerationRequest("take-002", tmp_path / "bf16" / "takes" / "take-002", lines, Style("x"), 6.0, 4,
                             edit=EditSpec("take-001", (TimeRange(2.0, 3.0),)), params={"quality": "draft"})
    assert bf16.generate(edit, lambda *_: None, lambda: False).params["precision"].startswith("bf16")


def test_cpu_estimate_comes_from_the_measured_rates(tiny_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine import precision

    monkeypatch.setattr(precision, "measured_rates", lambda **_: {"fp32": 100.0, "bf16": 400.0, "fp16": 1.0})
    lines = tuple(lines_from_lrc(parse("[00:01.00]Hello\n")))
    req = GenerationRequest("t", Path("/nonexistent/takes/t"), lines, Style("x"), 60.0, 1, params={})
    backend = DiffRhythmBackend(models_dir=tiny_dir, precision="auto")
    best, _ = backend.estimate(req)
    draft, _ = backend.estimate(GenerationRequest("t", req.out_dir, lines, Style("x"), 60.0, 1,
                                                  params={"quality": "draft"}))
    assert best > 3 * draft > 0  # 31 guided calls against 8
    from engine.backends.diffrhythm.cost import cpu_seconds

    rates = {"fp32": 100.0, "bf16": 400.0}
    real = dict(frames=2048, calls=8, guided=True, batch=1, rates=rates)  # the official 95 s model's shape
    assert cpu_seconds(**real, precision="bf16") < cpu_seconds(**real, precision="fp32") / 2
    assert cpu_seconds(**real, precision="bf16", vae=False) < cpu_seconds(**real, precision="bf16")


def test_float32_products_through_onednn_compute_the_same() -> None:
    from engine.nn.lowp import OneDnnLinear, float32_through_onednn, onednn_available

    model = nn.Sequential(nn.Linear(16, 32), nn.GELU(), nn.Linear(32, 8, bias=False), nn.Linear(8, 8))
    lower([model[3]], torch.bfloat16)
    x = torch.randn(2, 5, 16)
    with torch.inference_mode():
        want = model(x)
        converted = float32_through_onednn(model)
        got = model(x)
    if not onednn_available():
        pytest.skip("not run: this torch build has no oneDNN linear")
    assert converted == 2 and isinstance(model[0], OneDnnLinear) and isinstance(model[3], LowPrecisionLinear)
    assert float((got - want).abs().max()) < 1e-5 and set(model.state_dict()) == {
        "0.weight", "0.bias", "2.weight", "3.weight", "3.bias"}
