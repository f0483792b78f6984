"""ACE-Step 1.5 models (engine/nn/ace_step) against the reference goldens of the shared fixture set
(``ace-step/``): the prompts and tokenizer, the Qwen3 text encoder, the condition encoder, prepare_condition, the
DiT, the cover tokenizer/detokenizer and the VAE, each at the README's tolerance; the loader's key map against the
real files' names and shapes; and the loader's refusals."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from engine.nn.ace_step import prompts as P
from engine.nn.ace_step.config import AceStepConfigError, parse_acestep, parse_qwen3, parse_vae
from engine.nn.ace_step.model import AceStepCore, AceStepModel
from engine.nn.ace_step.qwen3 import Qwen3TextEncoder
from engine.nn.ace_step.vae import AceStepVae
from engine.nn.ace_step.weights import AceStepLoadError, key_report
from tests.conftest import fixture_set


@pytest.fixture(scope="module")
def fx() -> dict[str, Any]:
    from safetensors.torch import load_file

    folder = fixture_set("ace-step")
    spec = json.loads((folder / "fixtures.json").read_text())
    return {"folder": folder, "cases": {c["name"]: c for c in spec["cases"]},
            "g": load_file(str(folder / "tensors.safetensors"))}


@pytest.fixture(scope="module")
def model(fx: dict[str, Any]) -> AceStepModel:
    return AceStepModel.from_folder(fx["folder"] / "models", "turbo")


def _check(fx: dict[str, Any], case: str, name: str, got: torch.Tensor) -> float:
    """Compare with the golden at the case's tolerance; returns the max difference."""
    want = fx["g"][name]
    spec = fx["cases"][case]["outputs"][name]
    assert tuple(got.shape) == tuple(want.shape), f"{name}: shape {tuple(got.shape)} != {tuple(want.shape)}"
    if spec["exact"] or spec["atol"] == 0:
        assert torch.equal(got.to(want.dtype), want), f"{name}: not exactly equal"
        return 0.0
    diff = (got.float() - want.float()).abs().max().item()
    assert diff <= spec["atol"], f"{name}: max diff {diff:.3g} > atol {spec['atol']}"
    return diff


def _text_prompts(case: dict[str, Any]) -> list[str]:
    i = case["inputs"]
    return [P.text_prompt(i["instruction"], cap, m) for cap, m in zip(i["captions"], i["metas"], strict=True)]


def test_prompt_strings_are_the_references(fx: dict[str, Any]) -> None:
    case = fx["cases"]["tokenizer"]
    i, a = case["inputs"], case["args"]
    assert _text_prompts(case) == a["text_prompts (exact strings fed to the tokenizer)"]
    assert [P.metas_string(m) for m in i["metas"]] == a["parsed_metas"]
    lyr = [P.lyric_prompt(lang, ly) for lang, ly in zip(i["vocal_languages"], i["lyrics"], strict=True)]
    assert lyr == a["lyric_prompts"]
    assert P.metas_string({}) == ("- bpm: N/A\n- timesignature: N/A\n- keyscale: N/A\n- duration: 30 seconds\n")
    assert P.format_instruction("Do it") == "Do it:"
    assert P.is_cover_instruction(P.instruction_for("cover"))
    assert not P.is_cover_instruction(P.instruction_for("repaint"))


def test_tokenizer(fx: dict[str, Any], model: AceStepModel) -> None:
    case = fx["cases"]["tokenizer"]
    tok = model.text_tokenizer
    ids, mask = tok.text(_text_prompts(case))
    _check(fx, "tokenizer", "tok.text_ids", ids)
    _check(fx, "tokenizer", "tok.text_mask", mask)
    lyr = [P.lyric_prompt(lang, ly) for lang, ly in zip(case["inputs"]["vocal_languages"],
                                                        case["inputs"]["lyrics"], strict=True)]
    ids, mask = tok.lyrics(lyr)
    _check(fx, "tokenizer", "tok.lyric_ids", ids)
    _check(fx, "tokenizer", "tok.lyric_mask", mask)
    ids, mask = tok.text([case["args"]["long_prompt"]])
    _check(fx, "tokenizer", "tok.long_ids", ids)
    _check(fx, "tokenizer", "tok.long_mask", mask)
    # the cut prompt lost its tail, <|endoftext|> included; a short one ends with the single special id
    assert tok.pad_id not in ids[0].tolist()
    assert tok.encode("a<|endoftext|>", 256)[-1] == tok.pad_id


def test_cover_prompts_tokenize_like_the_reference(fx: dict[str, Any], model: AceStepModel) -> None:
    base = fx["cases"]["tokenizer"]
    captions, metas = base["inputs"]["captions"], base["inputs"]["metas"]
    tok = model.text_tokenizer
    cover = [P.text_prompt(P.instruction_for("cover"), c, m) for c, m in zip(captions, metas, strict=True)]
    ids, _ = tok.text(cover)
    _check(fx, "cover", "cover.text_ids", ids)
    plain = [P.text_prompt(P.instruction_for("text2music"), c, m) for c, m in zip(captions, metas, strict=True)]
    ids, mask = tok.text(plain, length=ids.shape[1])
    _check(fx, "cover", "cover.noncover_text_ids", ids)
    _check(fx, "cover", "cover.noncover_text_mask", mask)
    repaint = [P.text_prompt(P.instruction_for("repaint"), c, m) for c, m in zip(captions, metas, strict=True)]
    _check(fx, "repaint", "repaint.text_ids", tok.text(repaint)[0])


def test_qwen3_text_encoder(fx: dict[str, Any], model: AceStepModel) -> None:
    g = fx["g"]
    with torch.no_grad():
        _check(fx, "qwen3_text_encoder", "qwen3.text_hidden", model.text_encoder(g["tok.text_ids"]))
        _check(fx, "qwen3_text_encoder", "qwen3.long_hidden", model.text_encoder(g["tok.long_ids"]))
        _check(fx, "qwen3_text_encoder", "qwen3.lyric_embeds", model.text_encoder.embed(g["tok.lyric_ids"]))
    with pytest.raises(ValueError, match="out of range"):
        model.text_encoder(torch.tensor([[model.text_encoder.cfg.vocab_size]]))


def _encoder_inputs(g: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
    return (g["qwen3.text_hidden"], g["tok.text_mask"], g["qwen3.lyric_embeds"], g["tok.lyric_mask"],
            g["in.refer_latents_packed"], g["in.refer_order_mask"])


def test_condition_encoder(fx: dict[str, Any], model: AceStepModel) -> None:
    taps: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        hidden, mask = model.core.encoder(*_encoder_inputs(fx["g"]), taps=taps)
    for name in ("text_proj", "lyric", "timbre", "timbre_mask"):
        _check(fx, "condition_encoder", f"enc.{name}", taps[name])
    _check(fx, "condition_encoder", "enc.hidden", hidden)
    _check(fx, "condition_encoder", "enc.mask", mask)


def test_prepare_condition_and_dit(fx: dict[str, Any], model: AceStepModel) -> None:
    g = fx["g"]
    t = fx["cases"]["prepare_condition_t2m"]["args"]["T"]
    b = g["tok.text_ids"].shape[0]
    cond = model.condition(*_encoder_inputs(g), model.silence(t, b), torch.ones(b, t, dtype=torch.bool),
                           torch.zeros(b, dtype=torch.bool))
    _check(fx, "prepare_condition_t2m", "cond.context_t2m", cond.context)
    # the DiT case's own inputs: the golden encoder states and context
    cond.encoder_hidden, cond.context = g["enc.hidden"], g["cond.context_t2m"]
    v = model.velocity(g["in.dit_x"], g["in.dit_t"], cond)
    _check(fx, "dit_forward", "dit.out", v)


def test_dit_attends_to_padded_encoder_tokens_as_the_reference(fx: dict[str, Any], model: AceStepModel) -> None:
    """README trap 1: the DiT ignores the encoder mask, so changing padded tokens changes item 1 (50 padded) and not
    item 0 (none padded)."""
    g = fx["g"]
    cond = model.condition(*_encoder_inputs(g), model.silence(27, 2), torch.ones(2, 27))
    cond.encoder_hidden, cond.context = g["enc.hidden"], g["cond.context_t2m"]
    base = model.velocity(g["in.dit_x"], g["in.dit_t"], cond)
    cond.encoder_hidden = torch.where(g["enc.mask"][..., None], g["enc.hidden"], g["enc.hidden"] + 5)
    cond.kv = None
    moved = model.velocity(g["in.dit_x"], g["in.dit_t"], cond)
    per_item = (moved - base).abs().amax(dim=(1, 2))
    assert per_item[0] == 0 and per_item[1] > 0.1


def test_cover_tokenizer_and_detokenizer(fx: dict[str, Any], model: AceStepModel) -> None:
    src = fx["g"]["in.src_audio_latents"]
    q, idx, mask5, hints = model.cover_hints(src)
    _check(fx, "cover", "cover.quantized_5hz", q)
    _check(fx, "cover", "cover.fsq_indices", idx)
    _check(fx, "cover", "cover.mask_5hz", mask5)
    _check(fx, "cover", "cover.hints_25hz", hints)
    cond = model.condition(*_encoder_inputs(fx["g"]), src, torch.ones(2, src.shape[1]), fx["g"]["cover.is_covers"])
    for i, is_cover in enumerate(fx["g"]["cover.is_covers"].tolist()):
        want = hints[i] if is_cover else src[i]
        assert torch.equal(cond.context[i, :, : src.shape[2]], want)


def test_vae(fx: dict[str, Any], model: AceStepModel) -> None:
    g = fx["g"]
    with torch.no_grad():
        wave = model.vae.decode(g["in.vae_latents"].transpose(1, 2))
        _check(fx, "vae", "vae.decode", wave)
        mean, std = model.vae.encode(g["in.vae_wav"])
    _check(fx, "vae", "vae.encode_mean", mean)
    _check(fx, "vae", "vae.encode_std", std)
    seed = fx["cases"]["vae"]["args"]["sample_generator_seed"]
    _check(fx, "vae", "vae.encode_sample", model.vae.sample(mean, std, torch.Generator("cpu").manual_seed(seed)))
    assert mean.shape[1] == model.vae.cfg.encoder_hidden_size // 2


#: the real DiT config: AceStepConfig() defaults (README "The tiny models of this set", real column)
REAL_DIT = {"model_type": "acestep", "hidden_size": 2048, "intermediate_size": 6144, "num_hidden_layers": 24,
            "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 128, "sliding_window": 128,
            "num_lyric_encoder_hidden_layers": 8, "num_timbre_encoder_hidden_layers": 4,
            "num_attention_pooler_hidden_layers": 2, "text_hidden_dim": 1024, "fsq_dim": 2048}


def test_key_maps_fit_the_real_files(fx: dict[str, Any]) -> None:
    full = json.loads((fx["folder"] / "keys_full.json").read_text())
    with torch.device("meta"):
        core = AceStepCore(parse_acestep(REAL_DIT, "real DiT"))
        text = Qwen3TextEncoder(parse_qwen3(full["Qwen3-Embedding-0.6B/model.safetensors"]["config"], "qwen3"))
        vae = AceStepVae(parse_vae(full["vae/diffusion_pytorch_model.safetensors"]["config"], "vae"))
    dit = full["acestep-v15-turbo/model.safetensors"]
    ours = {k: tuple(v.shape) for k, v in core.state_dict().items()}
    assert key_report(ours, dit["keys"]) == []
    assert len(ours) == dit["n_keys"] and sum(v.numel() for v in core.state_dict().values()) == dit["n_params"]
    q = full["Qwen3-Embedding-0.6B/model.safetensors"]
    assert key_report({k: tuple(v.shape) for k, v in text.state_dict().items()}, q["keys"]) == []
    v = full["vae/diffusion_pytorch_model.safetensors"]
    assert key_report(vae.diffusers_shapes(), v["keys"]) == [] and len(v["keys"]) == v["n_keys"]


def _copy_models(fx: dict[str, Any], tmp_path: Path) -> Path:
    dst = tmp_path / "models"
    shutil.copytree(fx["folder"] / "models", dst)
    for p in dst.rglob("*"):
        p.chmod(0o644 if p.is_file() else 0o755)
    return dst


def test_loader_refuses_what_does_not_fit(fx: dict[str, Any], tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    models = _copy_models(fx, tmp_path)
    cfg_path = models / "acestep-v15-turbo" / "config.json"
    good = cfg_path.read_text()
    cfg = json.loads(good)
    cfg["num_hidden_layers"] = 3
    cfg["layer_types"] = [*cfg["layer_types"], "sliding_attention"]
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(AceStepLoadError, match=r"(?s)model\.safetensors: does not fit.*missing: decoder\.layers\.2"):
        AceStepModel.from_folder(models)
    cfg_path.write_text(good)

    weights = models / "acestep-v15-turbo" / "model.safetensors"
    sd = load_file(str(weights))
    sd["decoder.extra.weight"] = torch.zeros(2)
    sd["decoder.norm_out.weight"] = torch.zeros(3)
    save_file(sd, str(weights))
    with pytest.raises(AceStepLoadError, match=r"1 unexpected: decoder\.extra\.weight.*"
                                               r"1 with another shape: decoder\.norm_out\.weight \[3\]"):
        AceStepModel.from_folder(models)

    vae_w = models / "vae" / "diffusion_pytorch_model.safetensors"
    sd = load_file(str(vae_w))
    del sd["decoder.conv2.weight_g"]
    save_file(sd, str(vae_w))
    shutil.copy(fx["folder"] / "models" / "acestep-v15-turbo" / "model.safetensors", weights)
    with pytest.raises(AceStepLoadError, match=r"diffusion_pytorch_model\.safetensors: .*1 missing: "
                                               r"decoder\.conv2\.weight_g"):
        AceStepModel.from_folder(models)

    (models / "Qwen3-Embedding-0.6B" / "tokenizer.json").unlink()
    with pytest.raises(AceStepLoadError, match=r"tokenizer\.json: missing"):
        AceStepModel.from_folder(models)
    with pytest.raises(AceStepLoadError, match=r"acestep-v15-base: missing"):
        AceStepModel.from_folder(tmp_path, "base")


def test_bad_configs_name_the_field(fx: dict[str, Any], tmp_path: Path) -> None:
    cfg = json.loads((fx["folder"] / "models" / "acestep-v15-turbo" / "config.json").read_text())
    with pytest.raises(AceStepConfigError, match="field 'hidden_size' must be a positive integer"):
        parse_acestep({**cfg, "hidden_size": 0}, "c.json")
    with pytest.raises(AceStepConfigError, match="c.json: field 'num_attention_heads' is missing"):
        parse_acestep({k: v for k, v in cfg.items() if k != "num_attention_heads"}, "c.json")
    with pytest.raises(AceStepConfigError, match="'layer_types' has 2 entries but a stack needs 5"):
        parse_acestep({**cfg, "num_hidden_layers": 5}, "c.json")
    with pytest.raises(AceStepConfigError, match="in_channels 100 must be 3 x"):
        parse_acestep({**cfg, "in_channels": 100}, "c.json")
    models = _copy_models(fx, tmp_path)
    (models / "vae" / "config.json").write_text("{\n  \"encoder_hidden_size\": 8,\n")
    with pytest.raises(AceStepConfigError, match=r"vae/config\.json: line 3.*not valid JSON"):
        AceStepModel.from_folder(models)
    silence = models / "acestep-v15-turbo" / "silence_latent.pt"
    torch.save(torch.zeros(1, 800, 64), silence)
    with pytest.raises(AceStepLoadError, match=r"silence_latent\.pt: expected a tensor \[1, 64, frames\], "
                                               r"found \[1, 800, 64\]"):
        AceStepModel.from_folder(models)
    # a pickle that would call a function when unpickled is refused, not run
    silence.write_bytes(pickle.dumps(_Calls()))
    with pytest.raises(AceStepLoadError, match=r"silence_latent\.pt: not a tensor file that loads safely"):
        AceStepModel.from_folder(models)
    assert not _Calls.ran


class _Calls:
    ran = False

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (_mark, ())


def _mark() -> None:
    _Calls.ran = True


def test_silence_and_no_reference(model: AceStepModel) -> None:
    length = model.silence_latent.shape[1]
    s = model.silence(length + 5, 2)
    assert s.shape == (2, length + 5, 64) and torch.equal(s[0, length:], model.silence_latent[0, :5])
    packed, order = model.no_reference(3)
    assert packed.shape == (3, 750, 64) and order.tolist() == [0, 1, 2]


def test_guided_condition_doubles_the_batch(fx: dict[str, Any], model: AceStepModel) -> None:
    g = fx["g"]
    cond = model.condition(*_encoder_inputs(g), model.silence(27, 2), torch.ones(2, 27))
    both = model.guided(cond)
    assert both.batch == 4 and torch.equal(both.encoder_hidden[:2], cond.encoder_hidden)
    null = model.core.null_condition_emb.detach()[0, 0]
    assert torch.equal(both.encoder_hidden[2:], null.expand_as(cond.encoder_hidden))
    assert torch.equal(both.context[2:], cond.context) and torch.equal(both.encoder_mask[2:], cond.encoder_mask)
    x = g["in.dit_x"]
    v = model.velocity(torch.cat([x, x]), torch.cat([g["in.dit_t"], g["in.dit_t"]]), both)
    assert torch.allclose(v[:2], model.velocity(x, g["in.dit_t"], cond), atol=1e-6)
    assert not torch.allclose(v[2:], v[:2])


def test_other_dimensions_load_and_run(fx: dict[str, Any], tmp_path: Path) -> None:
    """Dimensions the shared set does not use (odd layer count, 3:1 GQA, window 2, a lyric encoder deeper than the
    DiT, no sliding in the encoders, odd VAE strides, odd T) are read from the configs."""
    from safetensors.torch import save_file

    from engine.nn.ace_step.vae import diffusers_name

    models = _copy_models(fx, tmp_path)
    cfg = json.loads((models / "acestep-v15-turbo" / "config.json").read_text())
    cfg.update(hidden_size=48, intermediate_size=80, num_hidden_layers=3, num_attention_heads=6,
               num_key_value_heads=2, head_dim=8, sliding_window=2, num_lyric_encoder_hidden_layers=4,
               num_attention_pooler_hidden_layers=3, fsq_dim=48,
               layer_types=["sliding_attention", "full_attention"] * 2)
    (models / "acestep-v15-turbo" / "config.json").write_text(json.dumps(cfg))
    torch.manual_seed(0)
    core = AceStepCore(parse_acestep(cfg, "c"))
    save_file({k: torch.randn_like(v) * 0.1 for k, v in core.state_dict().items()},
              str(models / "acestep-v15-turbo" / "model.safetensors"))
    vcfg = json.loads((models / "vae" / "config.json").read_text())
    vcfg.update(encoder_hidden_size=6, channel_multiples=[1, 2, 3], downsampling_ratios=[2, 4, 6], decoder_channels=4)
    (models / "vae" / "config.json").write_text(json.dumps(vcfg))
    vae = AceStepVae(parse_vae(vcfg, "v"))
    vsd = {}
    for k, v in vae.oobleck.state_dict().items():
        vsd[diffusers_name(k, 3)] = (torch.randn_like(v) * 0.1).reshape(1, -1, 1) if k.endswith(
            (".alpha", ".beta")) else torch.randn_like(v) * 0.1
    save_file(vsd, str(models / "vae" / "diffusion_pytorch_model.safetensors"))

    m = AceStepModel.from_folder(models)
    assert m.config.window(0) == 2 and m.config.window(1) is None and m.vae.hop == 48
    th, tm = m.encode_text(["a<|endoftext|>", "a longer caption here<|endoftext|>"])
    lh, lm = m.encode_lyrics(["la la la<|endoftext|>", "x<|endoftext|>"])
    refs, order = m.no_reference(2)
    t = 23
    cond = m.condition(th, tm, lh, lm, refs, order, torch.randn(2, t, 64), torch.ones(2, t), torch.tensor([1, 0]))
    assert cond.hints is not None and cond.hints.shape == (2, t, 64)
    v = m.velocity(torch.randn(2, t, 64), 0.5, cond)
    assert v.shape == (2, t, 64) and torch.isfinite(v).all()
    wave = m.vae.decode(v)
    assert wave.shape == (2, 2, t * 48)
    mean, std = m.vae.encode(wave)
    assert mean.shape == (2, 3, t) and (std > 0).all()
    # without sliding, a "sliding" encoder layer gets no mask at all (the reference passes None)
    assert parse_acestep({**cfg, "use_sliding_window": False}, "c").mask_kind(0) == "none"


def test_tokenizer_follows_the_files_post_processor(fx: dict[str, Any], tmp_path: Path) -> None:
    """A tokenizer.json whose post-processor appends <|endoftext|> (as an embedding tokenizer may) gets it appended,
    with truncation leaving room for it, as transformers' fast tokenizer does."""
    from engine.nn.ace_step.tokenize import TextTokenizer

    src = fx["folder"] / "models" / "Qwen3-Embedding-0.6B"
    dst = tmp_path / "tok"
    dst.mkdir()
    spec = json.loads((src / "tokenizer.json").read_text())
    plain = TextTokenizer(src)
    eot = plain.pad_id
    spec["post_processor"] = {"type": "TemplateProcessing",
                              "single": [{"Sequence": {"id": "A", "type_id": 0}},
                                         {"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}],
                              "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 0}}],
                              "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [eot],
                                                                   "tokens": ["<|endoftext|>"]}}}
    (dst / "tokenizer.json").write_text(json.dumps(spec))
    shutil.copy(src / "tokenizer_config.json", dst / "tokenizer_config.json")
    tok = TextTokenizer(dst)
    assert tok.encode("hello", 256) == [*plain.encode("hello", 256), eot]
    long = tok.encode("hello world " * 200, 256)
    assert len(long) == 256 and long[-1] == eot and long[:255] == plain.encode("hello world " * 200, 255)
    (dst / "tokenizer.json").write_text("{not json")
    with pytest.raises(AceStepConfigError, match=r"tokenizer\.json: not a tokenizers file"):
        TextTokenizer(dst)
