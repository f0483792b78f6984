"""ACE-Step's track tasks on a take (``engine/backends/ace_step/tasks.py``): lego adds one instrument as a new
stem over a take (stems: the source's plus the new one; mix: the source's plus the new stem), extract makes a
take of one instrument alone; both on the base model only, as the reference offers them, with the reference's
instructions and track names. Tiny random models in the official layout stand in for the real ones."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from engine.backends.ace_step.tasks import (
    TRACK_NAMES,
    check_track,
    instruction,
    plan_task,
    stem_name,
)
from engine.backends.base import EditSpec, GenerationRequest, never_stop, no_progress
from engine.errors import SongBridgeError
from engine.song.model import LyricLine, Section, Style, Take, TimeRange
from engine.song.tempo import TempoMap

SECTIONS = (Section("s1", "Verse 1", 0, 2), Section("s2", "Chorus", 2, 4))
LINES = (LyricLine("l1", "Neon lights are calling me", 0.5, 1.5), LyricLine("l2", "We are alive tonight", 2.5))
SECONDS = 3.0


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _take(takes: Path, tid: str, backend: str, stems: dict[str, np.ndarray]) -> None:
    from engine.backends.takes import TakeWriter

    with TakeWriter(takes / tid) as w:
        for name, data in stems.items():
            w.write_stem(name, data)
        w.write_mix(np.sum(list(stems.values()), axis=0))
        w.commit(Take(tid, backend, 1, duration_s=SECONDS, stems=tuple(stems)))


def _tone(hz: float, amp: float = 0.2) -> np.ndarray:
    t = np.arange(int(SECONDS * 44100)) / 44100
    x = (amp * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    return np.stack([x, x], axis=1)


def _request(takes: Path, tid: str, source: str | None, seed: int = 7, ranges: tuple[TimeRange, ...] = (),
             **params: object) -> GenerationRequest:
    return GenerationRequest(tid, takes / tid, LINES, Style("funk"), SECONDS, seed, TempoMap.constant(120),
                             sections=SECTIONS, edit=EditSpec(source, ranges) if source else None, params=params)


# -- the reference's words --------------------------------------------------------------------------------------

def test_the_instructions_name_the_track_upper_cased_and_only_the_references_tracks_are_taken() -> None:
    assert instruction("lego", "bass") == "Generate the BASS track based on the audio context:"
    assert instruction("extract", "backing_vocals") == "Extract the BACKING_VOCALS track from the audio:"
    assert len(TRACK_NAMES) == 12 and {"vocals", "drums", "bass", "guitar", "keyboard"} <= set(TRACK_NAMES)
    for bad in ("banjo", "Bass", "vocal", "", None):
        with pytest.raises(SongBridgeError) as err:
            check_track(bad)
        assert "woodwinds, brass, fx, synth, strings, percussion, keyboard, guitar, bass, drums, backing_vocals, " \
               "vocals" in str(err.value) and repr(bad) in str(err.value)
    with pytest.raises(SongBridgeError, match="task: one of lego, extract"):
        instruction("complete", "bass")
    assert stem_name("bass", ("drums", "bass", "bass-2")) == "bass-3" and stem_name("fx", ("song",)) == "fx"


def test_a_task_is_planned_on_a_whole_take_of_a_base_model_and_refused_otherwise(tmp_path: Path) -> None:
    takes = tmp_path / "takes"
    takes.mkdir()
    _take(takes, "src", "guide", {"drums": _tone(80), "bass": _tone(55)})
    p = plan_task(_request(takes, "n", "src", task="lego", track="guitar"), {"task": "lego", "track": "guitar"},
                  "base", 48000, 1920)
    assert (p.task, p.instruction, p.frames, p.seconds, p.settings.steps, p.settings.guidance_scale) == \
        ("lego", "Generate the GUITAR track based on the audio context:", 75, SECONDS, 32, 7.0)
    assert p.source.stems == ("drums", "bass") and p.inputs.metas["duration"] == 3
    whole = plan_task(_request(takes, "n", "src", ranges=(TimeRange(0, SECONDS),)),
                      {"task": "extract", "track": "drums"}, "base", 48000, 1920)
    assert whole.instruction == "Extract the DRUMS track from the audio:"

    def refused(match: str, params: dict, variant: str = "base", source: str | None = "src",
                ranges: tuple[TimeRange, ...] = ()) -> None:
        with pytest.raises(SongBridgeError, match=match):
            plan_task(_request(takes, "n", source, ranges=ranges), params, variant, 48000, 1920)

    refused("lego needs the base model: the reference offers extract and lego on base models only, the turbo "
            "model", {"task": "lego", "track": "bass"}, "turbo")
    refused("extract needs the base model", {"task": "extract", "track": "bass"}, "turbo")
    refused("takes one of woodwinds, brass", {"task": "lego", "track": "banjo"})
    refused("parameter track is for task=lego or task=extract", {"track": "bass"})
    refused("works on a take", {"task": "lego", "track": "bass"}, source=None)
    refused(r"whole take \(3.00 s\); the range 1.00-2.00 s is a part", {"task": "lego", "track": "bass"},
            ranges=(TimeRange(1, 2),))
    refused("has no mix.wav", {"task": "lego", "track": "bass"}, source="gone")
    refused("the source take's id must be", {"task": "lego", "track": "bass"}, source="../takes/src")


# -- with tiny models -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from engine.backends.ace_step.tiny import create_tiny_ace_step

    models = tmp_path_factory.mktemp("ace_step_task_models")
    create_tiny_ace_step(models, seed=4)
    return models


def _record(take_dir: Path, models: Path) -> dict:
    record = json.loads((take_dir / "record.json").read_text())
    dit = models / "acestep-v15-base" / "model.safetensors"
    assert record["model_id"] == "acestep-v15-tiny-random-base" and record["weights_sha256"] == _sha(dit)
    named = {w["file"]: (w["sha256"], w["licence"]) for w in record["weights"]}
    assert named["acestep-v15-base/model.safetensors"] == (_sha(dit), "MIT")
    assert named["Qwen3-Embedding-0.6B/model.safetensors"][1] == "Apache-2.0"
    assert "ACE-Step 1.5: MIT" in record["licence"]
    return record


def _wav(path: Path) -> np.ndarray:
    from engine.audio.io import read_audio

    return read_audio(path)[0]


def _latent(take_dir: Path, stem: str):  # the stem as the model made it, before any gain
    from safetensors.torch import load_file

    return load_file(str(take_dir / f"latent.{stem}.safetensors"))["latent"]


@pytest.mark.slow
def test_lego_adds_a_stem_over_the_take_and_extract_makes_a_take_of_the_track(tiny: Path, tmp_path: Path) -> None:
    from engine.backends.ace_step.backend import AceStepBackend

    takes = tmp_path / "takes"
    takes.mkdir()
    _take(takes, "src", "guide", {"drums": _tone(80), "bass": _tone(55), "keys": _tone(440, 0.1)})
    b = AceStepBackend(models_dir=tiny, device="cpu")  # turbo and base installed: the task runs on base
    seconds, peak = b.estimate(_request(takes, "lego", "src", task="lego", track="bass", steps=3))
    assert seconds > 0 and peak > (tiny / "acestep-v15-base" / "model.safetensors").stat().st_size
    assert b._loaded == {}
    steps: list[int] = []
    lego = b.generate(_request(takes, "lego", "src", task="lego", track="bass", steps=3),
                      lambda d, _t: steps.append(d), never_stop)
    assert lego.stems == ("drums", "bass", "keys", "bass-2") and lego.parent == "src"
    assert lego.params["task"] == "lego" and lego.params["track"] == "bass" and lego.params["variant"] == "base"
    assert steps[-1] == 5 and steps == sorted(steps)
    record = _record(takes / "lego", tiny)
    assert record["ace_step"]["instruction"] == "Generate the BASS track based on the audio context:"
    assert record["ace_step"]["stem"] == "bass-2" and record["ace_step"]["source_stems"] == ["drums", "bass", "keys"]
    gain = record["ace_step"]["mix_gain"]  # the tiny model's noise at -1 dBFS over the take: scaled together
    assert 0 < gain < 1.0 and 0 < record["ace_step"]["stem_gain"] <= 1.0
    assert "latent.safetensors" not in record["files"] and "latent.bass-2.safetensors" in record["files"]
    stems = {n: _wav(takes / "lego" / "stems" / f"{n}.wav") for n in lego.stems}
    new = stems["bass-2"]
    assert new.shape == (int(SECONDS * 44100), 2) and float(np.abs(new).max()) > 1e-3
    for name in ("drums", "bass", "keys"):  # the source's stems, as they were (times the common gain)
        assert np.abs(stems[name] - gain * _wav(takes / "src" / "stems" / f"{name}.wav")).max() < 1e-5
    mix = _wav(takes / "lego" / "mix.wav")
    assert np.abs(mix - (gain * _wav(takes / "src" / "mix.wav") + new)).max() < 1e-5  # 24-bit files
    assert np.abs(sum(stems.values()) - mix).max() < 1e-5 and float(np.abs(mix).max()) <= 10 ** (-1 / 20) + 1e-4

    # the source is the model's context: another take under it, the same seed and track, another stem
    _take(takes, "other", "guide", {"drums": _tone(120), "bass": _tone(73)})
    b.generate(_request(takes, "lego2", "other", task="lego", track="bass", steps=3), no_progress, never_stop)
    assert float((_latent(takes / "lego2", "bass-2") - _latent(takes / "lego", "bass-2")).abs().max()) > 1e-3
    # the track is the instruction: another track over the same take, another stem
    b.generate(_request(takes, "lego3", "src", task="lego", track="guitar", steps=3), no_progress, never_stop)
    assert float((_latent(takes / "lego3", "guitar") - _latent(takes / "lego", "bass-2")).abs().max()) > 1e-3

    ext = b.generate(_request(takes, "ext", "lego", task="extract", track="drums", steps=3), no_progress, never_stop)
    assert ext.stems == ("drums",) and ext.parent == "lego" and ext.params["task"] == "extract"
    record = _record(takes / "ext", tiny)
    assert record["ace_step"]["instruction"] == "Extract the DRUMS track from the audio:"
    assert "latent.safetensors" in record["files"]
    assert np.array_equal(_wav(takes / "ext" / "mix.wav"), _wav(takes / "ext" / "stems" / "drums.wav"))


def test_a_turbo_only_install_and_a_bad_track_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    from engine.backends.ace_step.backend import AceStepBackend
    from engine.backends.ace_step.tiny import create_tiny_ace_step

    models = tmp_path / "models"
    create_tiny_ace_step(models, seed=2, variants=("turbo",))
    takes = tmp_path / "takes"
    takes.mkdir()
    _take(takes, "src", "guide", {"drums": _tone(80)})
    b = AceStepBackend(models_dir=models, device="cpu")
    for task in ("lego", "extract"):
        with pytest.raises(SongBridgeError) as err:
            b.generate(_request(takes, "n", "src", task=task, track="bass"), no_progress, never_stop)
        said = str(err.value)
        assert f"ACE-Step {task} needs the base model" in said and str(models / "acestep-v15-turbo") in said \
            and "install acestep-v15-base/" in said
    with pytest.raises(SongBridgeError, match="turbo model was not trained"):
        b.generate(_request(takes, "n", "src", task="lego", track="bass", variant="turbo"), no_progress, never_stop)
    with pytest.raises(SongBridgeError) as err:
        b.generate(_request(takes, "n", "src", task="lego", track="kazoo"), no_progress, never_stop)
    assert "parameter track: must be one of woodwinds, brass, fx" in str(err.value) and "'kazoo'" in str(err.value)
    with pytest.raises(SongBridgeError, match="parameter task: must be one of lego, extract, got 'complete'"):
        b.generate(_request(takes, "n", "src", task="complete", track="bass"), no_progress, never_stop)
    with pytest.raises(SongBridgeError, match="lego needs the base model"):  # said before anything is queued
        b.estimate(_request(takes, "n", "src", task="lego", track="bass"))
    assert sorted(p.name for p in takes.iterdir()) == ["src"] and b._loaded == {}
