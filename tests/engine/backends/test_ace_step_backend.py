"""The ``ace-step`` backend: the song as ACE-Step's inputs (tags, lines, metadata, caption, language), regions as
repaint windows, the official key layout held against the fixture set and the real files' key list, the models
folder checked from headers alone, and, with tiny random models in the official layout, ``generate``, an ``edit``
of two regions, an extend and a cover of a guide take, each a take whose record names the model, its sha256 and
licence."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from engine.backends.ace_step.jobs import plan
from engine.backends.ace_step.prompts import (
    chunk_mask,
    detect_language,
    edit_windows,
    frame_window,
    lyric_sheet,
    section_tag,
    song_inputs,
)
from engine.backends.base import EditSpec, GenerationRequest, never_stop, no_progress
from engine.errors import SongBridgeError
from engine.song.key import Key
from engine.song.model import LyricLine, Section, Style, TimeRange
from engine.song.tempo import TempoMap
from tests.conftest import fixture_set, run_cli

SECTIONS = (Section("s1", "Intro", 0, 2), Section("s2", "Verse 1", 2, 6), Section("s3", "Pre chorus", 6, 8),
            Section("s4", "Chorus", 8, 12), Section("s5", "Verse 2", 12, 16))
LINES = (LyricLine("l1", "Neon lights are  calling me", 2.5, 4.0), LyricLine("l2", "Dancing in the city", 4.0),
         LyricLine("l3", "untimed, after the line before it"), LyricLine("l4", "We are alive tonight", 8.5),
         LyricLine("l5", "", 10.0), LyricLine("l6", "second verse line", 13.0, section_id="s5"))


# -- the song as ACE-Step's inputs ------------------------------------------------------------------------------

def test_sections_become_tags_in_order_with_their_lines_under_them() -> None:
    assert lyric_sheet(SECTIONS, LINES) == ("[Intro]\n\n[Verse]\nNeon lights are calling me\nDancing in the city\n"
                                            "untimed, after the line before it\n\n[Pre-Chorus]\n\n"
                                            "[Chorus]\nWe are alive tonight\n\n[Verse]\nsecond verse line")
    assert [section_tag(Section("x", n, 0, 1)) for n in ("Verse 2", "post_chorus", "Bridge", "Pre-Chorus 1")] == \
        ["[Verse]", "[Post-Chorus]", "[Bridge]", "[Pre-Chorus]"]
    # no words: instrumental; no sections: the lines alone
    assert lyric_sheet((), (LyricLine("a", ""),)) == "[Instrumental]"
    assert lyric_sheet((), LINES[:2]) == "Neon lights are calling me\nDancing in the city"


def test_tempo_meter_key_and_length_become_the_metadata_block_and_the_style_the_caption() -> None:
    from engine.nn.ace_step.prompts import metas_string

    got = song_inputs(lyrics=LINES, sections=SECTIONS, style_prompt=" dreamy  synth pop ",
                      tempo=TempoMap.constant(96, "6/8"), key=Key.parse("F#m"), duration_s=125.9)
    assert got.caption == "dreamy synth pop" and got.language == "en"
    assert metas_string(got.metas) == ("- bpm: 96\n- timesignature: 6\n- keyscale: F# minor\n"
                                       "- duration: 125 seconds\n")
    assert song_inputs(lyrics=(), sections=(), style_prompt="x", tempo=TempoMap.constant(120.5), key=None,
                       duration_s=10, caption="other", language="de").metas["bpm"] == 120.5


@pytest.mark.parametrize(("text", "lang"), [("We are alive tonight", "en"), ("Je ne sais pas pourquoi tu es là", "fr"),
                                            ("Ich liebe dich und du bist mein", "de"), ("君の名前を呼ぶ", "ja"),
                                            ("我爱你", "zh"), ("사랑해요", "ko"), ("Я тебя люблю", "ru"), ("", "unknown")])
def test_the_language_is_read_from_the_lyrics(text: str, lang: str) -> None:
    assert detect_language([LyricLine("a", text)]) == lang


def test_regions_become_merged_windows_and_past_the_end_an_extend() -> None:
    w = edit_windows([TimeRange(5, 6), TimeRange(1, 2), TimeRange(1.5, 3), TimeRange(9.9, 12)], 10.0)
    assert w.windows == ((1, 3), (5, 6), (9.9, 12)) and w.task == "extend" and w.target_s == 12
    assert edit_windows([TimeRange(1, 2)], 10.0).task == "repaint"
    with pytest.raises(SongBridgeError, match="select nothing"):
        edit_windows([TimeRange(11, 12)], 10.0, 10.0)
    # the reference's frames: int(sec * 48000 // 1920), start clamped to [0, T-1], end to [start+1, T]
    assert frame_window(0.4, 1.4, 32) == (10, 32) and frame_window(2.0, 2.01, 100) == (50, 51)
    assert frame_window(5.0, 9.0, 100) == (99, 100)
    assert chunk_mask([(0.04, 0.12), (0.2, 0.24)], 8) == [False, True, True, False, False, True, False, False]


def test_a_request_is_planned_as_text2music_repaint_extend_or_cover(tmp_path: Path) -> None:
    from engine.backends.takes import TakeWriter
    from engine.song.model import Take

    takes = tmp_path / "takes"
    takes.mkdir()
    for tid, backend in (("g", "guide"), ("n", "ace-step")):
        import numpy as np

        with TakeWriter(takes / tid) as w:
            w.write_mix(np.zeros((44100 * 4, 2), np.float32))
            w.commit(Take(tid, backend, 1, duration_s=4.0))

    def req(edit: EditSpec | None, duration: float = 4.0, **params: object) -> GenerationRequest:
        return GenerationRequest("new", takes / "new", LINES, Style("pop"), duration, 3, sections=SECTIONS,
                                 edit=edit, params=params)

    p = plan(req(None, 10.0), {}, "turbo", 48000, 1920)
    assert (p.task, p.frames, p.settings.steps, p.settings.shift) == ("text2music", 250, 8, 3.0)
    p = plan(req(EditSpec("n", (TimeRange(1, 2), TimeRange(3, 3.5)))), {}, "turbo", 48000, 1920)
    assert (p.task, p.windows, p.frames) == ("repaint", ((1, 2), (3, 3.5)), 100)
    p = plan(req(EditSpec("n", (TimeRange(3, 4),)), 6.0), {}, "base", 48000, 1920)
    assert (p.task, p.windows, p.seconds, p.frames, p.settings.guidance_scale) == ("extend", ((3, 6),), 6.0, 150,
                                                                                    7.0)
    p = plan(req(EditSpec("g", (TimeRange(1, 2),)), cover_strength=0.3), {"cover_strength": 0.3}, "turbo", 48000,
             1920)
    assert (p.task, p.seconds, p.settings.cover_strength) == ("cover", 4.0, 0.3)
    with pytest.raises(SongBridgeError, match="turbo model runs without guidance"):
        plan(req(None), {"guidance_scale": 4.0}, "turbo", 48000, 1920)
    with pytest.raises(SongBridgeError, match="language: 'english!'"):
        plan(req(None), {"language": "english!"}, "turbo", 48000, 1920)
    with pytest.raises(SongBridgeError, match="no mix.wav"):
        plan(req(EditSpec("missing", (TimeRange(1, 2),))), {}, "turbo", 48000, 1920)


def test_several_windows_keep_the_frames_between_them() -> None:
    import torch

    from engine.backends.ace_step.pipeline import soft_mask
    from engine.sampling.ace_step import soft_mask as reference_one_window

    mask = torch.zeros(1, 60, dtype=torch.bool)
    mask[0, 20:25] = True
    assert torch.equal(soft_mask(mask, 10), reference_one_window(mask, 10))  # one window: the reference's blend
    mask[0, 45:50] = True
    m = soft_mask(mask, 4)[0]
    assert m[25:30].tolist() == pytest.approx([0.8, 0.6, 0.4, 0.2, 0.0])
    assert float(m[30:41].abs().max()) == 0.0 and float(m[45:50].min()) == 1.0


def test_turbo_steps_other_than_8_are_the_distilled_timesteps_without_repeats() -> None:
    from engine.backends.ace_step.pipeline import Settings, turbo_timesteps

    assert turbo_timesteps(Settings(8, 3.0)) is None  # the model's own table
    assert turbo_timesteps(Settings(4, 3.0)) == [1.0, 0.9, 0.75, 0.5]
    many = turbo_timesteps(Settings(200, 2.2)) or []
    assert len(many) == len(set(many)) == 20 and many == sorted(many, reverse=True)


# -- the official layout ----------------------------------------------------------------------------------------

def test_the_key_layout_from_configs_is_the_fixture_sets_and_the_real_files() -> None:
    from engine.backends.ace_step.layout import dit_shapes, header_shapes, mismatch, qwen3_shapes, vae_shapes
    from engine.nn.ace_step.config import (
        parse_acestep,
        parse_qwen3,
        parse_vae,
        read_acestep,
        read_qwen3,
        read_vae,
    )

    folder = fixture_set("ace-step")
    m = folder / "models"
    for sub, read, shapes, weights in (
            ("acestep-v15-turbo", read_acestep, dit_shapes, "model.safetensors"),
            ("acestep-v15-base", read_acestep, dit_shapes, "model.safetensors"),
            ("vae", read_vae, vae_shapes, "diffusion_pytorch_model.safetensors"),
            ("Qwen3-Embedding-0.6B", read_qwen3, qwen3_shapes, "model.safetensors")):
        assert mismatch(header_shapes(m / sub / weights), shapes(read(m / sub / "config.json"))) is None, sub
    full = json.loads((folder / "keys_full.json").read_text())

    def keys(name: str) -> dict[str, tuple[int, ...]]:
        return {k: tuple(v) for k, v in full[name]["keys"].items()}

    dit = parse_acestep({"hidden_size": 2048, "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 128,
                         "intermediate_size": 6144, "num_hidden_layers": 24}, "AceStepConfig()")
    assert mismatch(keys("acestep-v15-turbo/model.safetensors"), dit_shapes(dit)) is None
    vae = full["vae/diffusion_pytorch_model.safetensors"]
    assert mismatch(keys("vae/diffusion_pytorch_model.safetensors"), vae_shapes(parse_vae(vae["config"], "v"))) is None
    q = full["Qwen3-Embedding-0.6B/model.safetensors"]
    assert mismatch(keys("Qwen3-Embedding-0.6B/model.safetensors"),
                    qwen3_shapes(parse_qwen3({"model_type": "qwen3", **q["config"]}, "q"))) is None
    # and a difference is reported key by key
    wrong = dict(keys("acestep-v15-turbo/model.safetensors"))
    wrong.pop("decoder.norm_out.weight")
    wrong["decoder.proj_in.1.bias"] = (7,)
    report = mismatch(wrong, dit_shapes(dit)) or ""
    assert "1 missing: decoder.norm_out.weight" in report and "decoder.proj_in.1.bias [7] (expected [2048])" in report


# -- tiny models, the folder, the backend -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from engine.backends.ace_step.tiny import create_tiny_ace_step

    models = tmp_path_factory.mktemp("ace_step_models")
    create_tiny_ace_step(models, seed=3)
    return models


def test_the_tiny_models_are_the_official_layout_and_a_broken_file_is_named(tiny: Path, tmp_path: Path) -> None:
    import shutil

    from engine.backends.ace_step.backend import AceStepBackend
    from engine.backends.registry import create, param_specs

    ok, why = create("ace-step", models_dir=tiny).available()
    assert ok and "acestep-v15-tiny-random-turbo (turbo)" in why and "MIT" in why and "Apache-2.0" in why
    assert {"steps", "shift", "cover_strength", "guidance_scale"} <= set(param_specs("ace-step"))
    copy = tmp_path / "models"
    shutil.copytree(tiny, copy)
    weights = copy / "acestep-v15-turbo" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    ok, why = AceStepBackend(models_dir=copy).available()
    assert not ok and f"{weights} is broken: truncated" in why
    shutil.copy(tiny / "acestep-v15-turbo" / "model.safetensors", weights)
    cfg = copy / "acestep-v15-turbo" / "config.json"
    cfg.write_text(cfg.read_text().replace('"intermediate_size": 128', '"intermediate_size": 96'))
    ok, why = AceStepBackend(models_dir=copy).available()
    assert not ok and f"{weights} does not fit {cfg}" in why and "decoder.layers.0.mlp.down_proj.weight [64, 128] " \
        "(expected [64, 96])" in why
    ok, why = AceStepBackend(models_dir=tmp_path / "none").available()
    assert not ok and "acestep-v15-turbo/" in why and "create-tiny --kind ace-step" in why


def test_the_estimate_comes_before_anything_loads(tiny: Path, tmp_path: Path) -> None:
    from engine.backends.ace_step.backend import AceStepBackend

    b = AceStepBackend(models_dir=tiny, device="cpu")
    req = GenerationRequest("t", tmp_path / "takes" / "t", LINES, Style("pop"), 30.0, 1)
    seconds, peak = b.estimate(req)
    weights = sum(p.stat().st_size for p in tiny.rglob("*.safetensors") if "base" not in str(p))
    assert 0 < seconds < 60 and peak > weights
    longer, _ = b.estimate(GenerationRequest("t", tmp_path / "takes" / "t", LINES, Style("pop"), 120.0, 1))
    assert longer > seconds and b._loaded == {}
    with pytest.raises(SongBridgeError, match="has no parameter 'cfg'"):
        b.estimate(GenerationRequest("t", tmp_path / "t", LINES, Style("pop"), 30.0, 1, params={"cfg": 3}))


def test_models_status_shows_ace_step_with_its_licence(tiny: Path) -> None:
    r = run_cli("models", "status", "--models", str(tiny))
    line = next(ln for ln in r.stdout.splitlines() if "acestep-v15-turbo" in ln)
    assert line.strip().startswith("[ok]") and "licence: ACE-Step MIT, Qwen3-Embedding Apache-2.0" in line


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check_record(take_dir: Path, models: Path) -> dict:
    record = json.loads((take_dir / "record.json").read_text())
    assert record["backend"] == "ace-step" and record["model_id"] == "acestep-v15-tiny-random-turbo"
    dit = models / "acestep-v15-turbo" / "model.safetensors"
    assert record["weights_sha256"] == _sha(dit)
    named = {w["file"]: (w["sha256"], w["licence"]) for w in record["weights"]}
    assert named["acestep-v15-turbo/model.safetensors"] == (_sha(dit), "MIT")
    assert named["Qwen3-Embedding-0.6B/model.safetensors"][1] == "Apache-2.0"
    assert (take_dir / "mix.wav").is_file()
    return record


@pytest.mark.slow
def test_generate_and_an_edit_of_two_regions_from_the_command_line(tiny: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    lrc = tmp_path / "song.lrc"
    lrc.write_text("[verse]\n[00:00.50]Neon lights are calling me\n[00:02.00]Dancing in the city\n[chorus]\n"
                   "[00:04.50]We are alive tonight\n", encoding="utf-8")
    project = tmp_path / "p.songbridge"
    r = run_cli("generate", str(lrc), "-o", str(project), "--backend", "ace-step", "--models", str(tiny),
                "--style", "synth pop", "--bpm", "120", "--key", "A minor", "--duration", "8", "--seed", "5")
    assert r.returncode == 0, r.stderr
    first = project / "takes" / "take-001"
    record = _check_record(first, tiny)
    assert record["params"]["task"] == "text2music" and record["params"]["caption"] == "synth pop"
    assert record["ace_step"]["lyrics"].startswith("[Verse]\nNeon lights are calling me\nDancing in the city")
    assert "- bpm: 120\n- timesignature: 4\n- keyscale: A minor\n- duration: 8 seconds\n" == record["ace_step"]["metas"]
    r = run_cli("edit", str(project), "--seconds", "1-2", "--seconds", "5-6", "--seed", "9", "--engine", "thread",
                env={"SONGBRIDGE_MODELS": str(tiny)})
    assert r.returncode == 0, r.stderr
    second = project / "takes" / "take-002"
    record = _check_record(second, tiny)
    assert record["parent"] == "take-001" and record["edited_ranges"] == [[1.0, 2.0], [5.0, 6.0]]
    assert record["ace_step"]["windows_frames"] == [[25, 50], [125, 150]]  # two windows, one pass
    a = load_file(str(first / "latent.safetensors"))["latent"]
    b = load_file(str(second / "latent.safetensors"))["latent"]
    changed = [i for i in range(a.shape[0]) if not bool((a[i] == b[i]).all())]
    assert changed and set(changed) <= set(range(15, 60)) | set(range(115, 160))  # windows + 10-frame ramps
    assert not set(changed) & set(range(60, 115))  # between the windows: the source, bit for bit


@pytest.mark.slow
def test_an_extend_and_a_cover_of_a_guide_take(tiny: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from engine.backends.registry import create

    takes = tmp_path / "takes"
    takes.mkdir()
    guide = create("guide")
    guide.generate(GenerationRequest("g", takes / "g", LINES[:2], Style("pop"), 4.0, 1, TempoMap.constant(120),
                                     sections=SECTIONS[:2]), no_progress, never_stop)
    b = create("ace-step", models_dir=tiny, device="cpu")
    steps: list[int] = []
    cover = b.generate(GenerationRequest("c", takes / "c", LINES[:2], Style("pop"), 4.0, 2, sections=SECTIONS[:2],
                                         edit=EditSpec("g", (TimeRange(0, 4),)), params={"cover_strength": 0.5}),
                       lambda d, _t: steps.append(d), never_stop)
    assert cover.params["task"] == "cover" and cover.params["cover_strength"] == 0.5 and cover.parent == "g"
    assert steps[-1] == 10 and steps == sorted(steps)
    _check_record(takes / "c", tiny)
    ext = b.generate(GenerationRequest("e", takes / "e", LINES[:2], Style("pop"), 6.0, 3, sections=SECTIONS[:2],
                                       edit=EditSpec("c", (TimeRange(3.5, 6),))), no_progress, never_stop)
    assert ext.params["task"] == "extend" and ext.duration_s == pytest.approx(6.0)
    a = load_file(str(takes / "c" / "latent.safetensors"))["latent"]
    e = load_file(str(takes / "e" / "latent.safetensors"))["latent"]
    assert e.shape[0] == 150 and bool((a[:77] == e[:77]).all()) and not bool((a[87:100] == e[87:100]).all())
    assert not (takes / ".e.partial").exists()
    # the song's reference clip is the timbre reference: the same seed makes another take
    import numpy as np

    from engine.audio.io import write_wav

    write_wav(tmp_path / "ref.wav", np.random.default_rng(1).normal(0, 0.1, (66150, 2)).astype(np.float32))
    plain = b.generate(GenerationRequest("p", takes / "p", LINES[:1], Style("pop"), 2.0, 4), no_progress, never_stop)
    timbre = b.generate(GenerationRequest("r", takes / "r", LINES[:1], Style("pop", reference_audio="ref.wav"), 2.0,
                                          4), no_progress, never_stop)
    assert timbre.style.reference_audio == "ref.wav"
    record = json.loads((takes / "r" / "record.json").read_text())
    assert record["ace_step"]["timbre_reference"] == {"file": "ref.wav", "frames": 37}  # 1.5 s at 25 frames a second
    lp, lr = (load_file(str(takes / t / "latent.safetensors"))["latent"] for t in ("p", "r"))
    assert not bool((lp == lr).all())
    with pytest.raises(SongBridgeError, match="reference clip gone.wav is not in the project"):
        b.generate(GenerationRequest("y", takes / "y", LINES[:1], Style("pop", reference_audio="gone.wav"), 2.0, 4),
                   no_progress, never_stop)
    assert plain.params["task"] == "text2music"
    # the base model with APG guidance, and a stop asked for mid-way leaves no take
    base = b.generate(GenerationRequest("b", takes / "b", LINES[:1], Style("pop"), 2.0, 4,
                                        params={"variant": "base", "steps": 3, "guidance_scale": 3.0}),
                      no_progress, never_stop)
    assert base.model_id == "acestep-v15-tiny-random-base" and base.params["guidance_scale"] == 3.0
    from engine.errors import Cancelled

    asked: list[int] = []
    with pytest.raises(Cancelled):
        b.generate(GenerationRequest("x", takes / "x", LINES[:1], Style("pop"), 2.0, 4), lambda d, _t: asked.append(d),
                   lambda: len(asked) > 3)
    assert not (takes / "x").exists() and not (takes / ".x.partial").exists()


@pytest.mark.slow
def test_on_the_cpu_a_real_width_model_runs_its_feed_forward_in_low_precision_close_to_float32(
        tmp_path: Path) -> None:
    import torch

    from engine.backends.ace_step.jobs import plan
    from engine.backends.ace_step.pipeline import Job, decode, prepare_for_cpu, run
    from engine.backends.ace_step.tiny import create_tiny_ace_step
    from engine.nn.ace_step.model import AceStepModel
    from engine.nn.lowp import LowPrecisionLinear

    create_tiny_ace_step(tmp_path / "m", seed=1, variants=("turbo",), width=256)
    req = GenerationRequest("t", tmp_path / "takes" / "t", LINES, Style("pop"), 2.0, 5, sections=SECTIONS)
    p = plan(req, {}, "turbo", 48000, 1920)
    out = {}
    for dtype in (torch.float32, torch.bfloat16):
        model = AceStepModel.from_folder(tmp_path / "m", "turbo")
        said = prepare_for_cpu(model, dtype)
        mlp = model.core.decoder.layers[0].mlp
        lowered = any(isinstance(m, LowPrecisionLinear) for m in mlp.modules())
        assert lowered == (dtype == torch.bfloat16), said
        latent = run(model, Job(p.task, p.inputs, p.frames, 5, p.settings))
        out[dtype] = (latent, torch.from_numpy(decode(model, latent)))
    (l32, w32), (l16, _w16) = out[torch.float32], out[torch.bfloat16]
    assert 0 < float((l16 - l32).norm() / l32.norm()) < 2e-2  # the bf16 feed-forward: close, not the same
    plain = AceStepModel.from_folder(tmp_path / "m", "turbo")  # the VAE's inference form decodes as the plain one
    w = torch.from_numpy(decode(plain, l32))
    assert float((w32 - w).norm() / w.norm()) < 1e-4
