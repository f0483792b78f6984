"""ACE-Step 1.5's track tasks on a take: ``lego`` (add one instrument over the take) and ``extract`` (one
instrument out of it), on the models that were trained for them.

What the reference does (github.com/ace-step/ACE-Step-1.5, read, not copied):

- The instruction names the track upper-cased: ``"Generate the BASS track based on the audio context:"`` (lego),
  ``"Extract the BASS track from the audio:"`` (extract); the tracks are its twelve ``TRACK_NAMES``
  (``acestep/constants.py``, ``TASK_INSTRUCTIONS``; ``handler/task_utils.py`` ``generate_instruction``).
- Both run on the base model only: ``TASK_TYPES_TURBO`` lists text2music, repaint and cover, ``TASK_TYPES_BASE``
  adds extract, lego and complete (``acestep/constants.py``); a turbo (or SFT) install is refused here.
- The source take's whole latent is the context ``src_latents``, with a chunk mask of ones, not a cover
  (``handler/conditioning_masks.py``: a lego over the whole take keeps the source, nothing silenced, since the
  fix of issue #809; ``handler/padding_utils.py`` leaves a whole-take lego without a repaint window); the
  caption, metadata, lyrics and timbre reference are the song's as for text2music.
- What comes out is the track alone (issue #369: "a new single track that is coherent and compatible with the
  source audio").

So a lego take is the source take's stems plus the new one (named after the track; ``bass-2`` when the source
has a ``bass`` already) and its mix is the source's mix plus the new stem (all scaled together when the sum would
pass the -1 dBFS ceiling, so the stems still add up to the mix); an extract take is the extracted track alone (its
one stem and its mix). Both are children of the source take; their records name the model, its sha256, its
licence, the task, the track and the instruction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.backends.base import GenerationRequest, ProgressFn, StopFn
from engine.errors import SongBridgeError
from engine.song.model import Take

from .jobs import frames_for, settings_for
from .pipeline import Settings
from .prompts import SongInputs, song_inputs

#: the reference's track names (``TRACK_NAMES``), in its order
TRACK_NAMES = ("woodwinds", "brass", "fx", "synth", "strings", "percussion", "keyboard", "guitar", "bass", "drums",
               "backing_vocals", "vocals")
#: task -> instruction (``TASK_INSTRUCTIONS``), ``{TRACK_NAME}`` the track upper-cased
INSTRUCTIONS = {"lego": "Generate the {TRACK_NAME} track based on the audio context:",
                "extract": "Extract the {TRACK_NAME} track from the audio:"}
TASKS = tuple(INSTRUCTIONS)
#: the variants the reference offers each task on (``TASK_TYPES_BASE``; turbo's list lacks them)
VARIANTS_FOR = {"lego": ("base",), "extract": ("base",)}
#: a whole-take edit may miss the take's ends by this much (one latent frame is 40 ms)
WHOLE_TAKE_SLACK_S = 0.05


@dataclass(frozen=True)
class TaskPlan:
    """A lego or extract job on ``source_dir``'s take (the attributes ``AceStepBackend._source`` reads)."""

    task: str
    track: str
    instruction: str
    inputs: SongInputs
    seconds: float
    frames: int
    settings: Settings
    source_dir: Path
    source_backend: str
    source: Take


def check_track(track: Any, task: str = "lego") -> str:
    """``track`` when it is one of the reference's track names; otherwise the error names them all."""
    if not isinstance(track, str) or track not in TRACK_NAMES:
        raise SongBridgeError(f"parameter track: ACE-Step {task} takes one of {', '.join(TRACK_NAMES)}; "
                              f"got {track!r}")
    return track


def instruction(task: str, track: str) -> str:
    if task not in INSTRUCTIONS:
        raise SongBridgeError(f"parameter task: one of {', '.join(TASKS)}, got {task!r}")
    return INSTRUCTIONS[task].format(TRACK_NAME=check_track(track, task).upper())


def check_variant(task: str, variant: str, where: Path | None = None) -> None:
    """Refuse a task the reference does not offer on ``variant`` (lego and extract: base models only)."""
    allowed = VARIANTS_FOR[task]
    if variant not in allowed:
        found = f" (found {where})" if where is not None else ""
        raise SongBridgeError(
            f"ACE-Step {task} needs the {' or '.join(allowed)} model: the reference offers extract and lego on "
            f"base models only, the {variant} model was not trained for them{found}; install acestep-v15-base/ "
            "into the models folder and choose variant=base")


def variant_for(backend: Any, params: Mapping[str, Any]) -> str | None:
    """The variant a request runs on: the one asked for; for a track task with none asked, base when it is
    installed (else the default, which :func:`check_variant` then refuses by name)."""
    asked = params.get("variant") or backend.variant
    if asked or params.get("task") not in VARIANTS_FOR:
        return asked
    from .catalog import VARIANTS

    return "base" if (Path(backend.models_dir) / VARIANTS["base"]).is_dir() else None


def check_task(params: Mapping[str, Any], files: Any) -> None:
    """Before anything is queued or loaded (the backend's estimate): a track task's track and variant."""
    if "task" in params or "track" in params:
        task = params.get("task")
        if task not in TASKS:
            raise SongBridgeError(f"parameter task: one of {', '.join(TASKS)}, got {task!r} (parameter track is "
                                  "for task=lego or task=extract)")
        check_track(params.get("track"), str(task))
        check_variant(str(task), files.variant, files.dit_dir)


def plan_task(request: GenerationRequest, params: Mapping[str, Any], variant: str, sample_rate: int, hop: int,
              where: Path | None = None) -> TaskPlan:
    """What the model is asked (pure: reads the source take's record, loads nothing). Raises, naming the
    field, on a missing or wrong task, track, source take, a part of the take (the tasks work on a whole take)
    or a variant that cannot do the task."""
    task, track = params.get("task"), params.get("track")
    if task not in TASKS:
        raise SongBridgeError(f"parameter task: one of {', '.join(TASKS)}, got {task!r}"
                              + (" (parameter track is for task=lego or task=extract)" if task is None else ""))
    text = instruction(str(task), check_track(track, str(task)))
    check_variant(str(task), variant, where)
    settings = settings_for(variant, {k: v for k, v in params.items() if k not in ("task", "track")})
    if request.edit is None:
        raise SongBridgeError(f"ACE-Step {task}: works on a take; give the take to {task} (an edit of it)")
    from engine.backends.takes import read_record
    from engine.song.model import check_id

    try:
        check_id(request.edit.source_take, "the source take's")
    except ValueError as exc:
        raise SongBridgeError(f"ACE-Step {task}: {exc}") from None
    src_dir = request.out_dir.parent / request.edit.source_take
    if not (src_dir / "mix.wav").is_file():
        raise SongBridgeError(f"the take to {task} ({request.edit.source_take}) has no mix.wav in {src_dir}")
    take = read_record(src_dir)
    source_s = float(take.duration_s)
    if source_s <= 0:
        raise SongBridgeError(f"the take to {task} ({take.id}) has no audio")
    for r in request.edit.ranges:
        if r.start_s > WHOLE_TAKE_SLACK_S or r.end_s < source_s - WHOLE_TAKE_SLACK_S:
            raise SongBridgeError(f"ACE-Step {task} works on the whole take ({source_s:.2f} s); the range "
                                  f"{r.start_s:.2f}-{r.end_s:.2f} s is a part of it")
    from .jobs import MAX_SECONDS

    if source_s > MAX_SECONDS:
        raise SongBridgeError(f"ACE-Step works on takes up to {MAX_SECONDS:.0f} s; {take.id} is {source_s:.1f} s")
    caption = params.get("caption")
    inputs = song_inputs(lyrics=request.lyrics, sections=request.sections,
                         style_prompt=request.style.prompt or (request.style.preset or ""), tempo=request.tempo,
                         key=request.key, duration_s=source_s, caption=str(caption) if caption is not None else None,
                         language=str(params["language"]) if params.get("language") else None)
    return TaskPlan(str(task), str(track), text, inputs, source_s, frames_for(source_s, sample_rate, hop), settings,
                    src_dir, take.backend, take)


def stem_name(track: str, existing: tuple[str, ...]) -> str:
    """The new stem's name: the track's, numbered when the take has one of that name already."""
    name, n = track, 2
    while name in existing:
        name, n = f"{track}-{n}", n + 1
    return name


def _read(path: Path, samples: int) -> np.ndarray:
    """[samples, 2] float32 at the project's rate, cut or padded with silence."""
    from engine.audio.io import SAMPLE_RATE

    from .backend import read_stereo

    if not path.is_file():
        raise SongBridgeError(f"{path}: the source take lists this file but it is missing")
    audio = read_stereo(path, SAMPLE_RATE)
    out = np.zeros((samples, 2), np.float32)
    n = min(samples, len(audio))
    out[:n] = audio[:n]
    return out


def layers(plan: TaskPlan, stem: np.ndarray, ceiling: float) -> tuple[dict[str, np.ndarray], np.ndarray, float]:
    """(stems by name, mix, the gain applied to all of them): lego: the source's stems and the new one, the mix
    the source's plus the new stem; extract: the stem alone."""
    if plan.task == "extract":
        return {stem_name(plan.track, ()): stem}, stem, 1.0
    n = len(stem)
    out = {name: _read(plan.source_dir / "stems" / f"{name}.wav", n) for name in plan.source.stems}
    out[stem_name(plan.track, tuple(out))] = stem
    mix = _read(plan.source_dir / "mix.wav", n) + stem
    peak = float(np.abs(mix).max()) if mix.size else 0.0
    gain = min(1.0, ceiling / peak) if peak > 0 else 1.0
    if gain < 1.0:
        out = {k: (v * gain).astype(np.float32) for k, v in out.items()}
        mix = mix * gain
    return out, mix.astype(np.float32), gain


def generate_task(backend: Any, request: GenerationRequest, params: dict[str, Any], on_progress: ProgressFn,
                  should_stop: StopFn) -> Take:
    """Run a lego or extract request on ``backend`` (an ``AceStepBackend``) and write its take."""
    from engine.precision import threads_for

    from . import backend as ace
    from .files import weights_record
    from .pipeline import Job, decode, run

    files = backend.files(variant_for(backend, params))
    _dit, vae, _text = files.configs()
    plan = plan_task(request, params, files.variant, vae.sampling_rate, vae.hop, files.dit_dir)
    model, files = backend.model(files.variant)
    s = plan.settings
    total = s.steps + 2
    on_progress(0, total)
    with threads_for(model.config.dit.hidden_size):
        source = backend._source(model, plan, request.seed)
        timbre = backend._timbre(model, request) if request.style.reference_audio else None
        job = Job(plan.task, plan.inputs, plan.frames, request.seed, s, source, (), timbre,
                  instruction=plan.instruction)
        latent = run(model, job, on_step=lambda d, _n: on_progress(d, total), should_stop=should_stop)
        if should_stop():
            from engine.errors import Cancelled

            raise Cancelled("cancelled")
        wav = decode(model, latent)
    on_progress(total - 1, total)
    ceiling = 10 ** (ace.CEILING_DBFS / 20)
    audio = ace._to_project_rate(wav, vae.sampling_rate, plan.seconds)
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    stem_gain = min(1.0, ceiling / peak) if peak > 0 else 1.0
    audio = (audio * stem_gain).astype(np.float32)
    stems, mix, mix_gain = layers(plan, audio, ceiling)
    new_stem = list(stems)[-1]
    weights = weights_record(files)
    from engine.nn.ace_step.prompts import metas_string

    used = {"variant": files.variant, "task": plan.task, "track": plan.track, "stem": new_stem, "steps": s.steps,
            "shift": s.shift, "guidance_scale": s.guidance_scale, "precision": backend._precision,
            "caption": plan.inputs.caption, "language": plan.inputs.language}
    take = Take(id=request.take_id, backend=backend.name, seed=request.seed, name=request.name,
                model_id=files.model_id, weights_sha256=weights[0]["sha256"], params={**params, **used},
                lrc=ace._lrc(request), style=request.style, parent=plan.source.id, edited_ranges=(),
                duration_s=len(mix) / 44100, stems=tuple(stems))
    extra = {"weights": weights, "licence": f"ACE-Step 1.5: {ace.LICENCE}; Qwen3-Embedding-0.6B: {ace.TEXT_LICENCE}",
             "ace_step": {"task": plan.task, "track": plan.track, "instruction": plan.instruction, "stem": new_stem,
                          "source_take": plan.source.id, "source_stems": list(plan.source.stems),
                          "lyrics": plan.inputs.lyrics, "metas": metas_string(plan.inputs.metas),
                          "frames": plan.frames, **job.record, "stem_gain": stem_gain, "mix_gain": mix_gain}}
    from engine.backends.takes import TakeWriter

    with TakeWriter(request.out_dir) as w:
        from safetensors.torch import save_file

        # an extract take's mix is its stem: its latent is the take's; a lego stem's latent is not its mix's, so
        # it is kept under the stem's name (a later edit of the lego take encodes its mix instead)
        name = ace.LATENT_FILE if plan.task == "extract" else f"latent.{new_stem}.safetensors"
        save_file({"latent": latent[0].cpu().contiguous()}, str(w.path(name)),
                  metadata={"backend": backend.name, "model": files.model_id, "stem": new_stem,
                            "frames_per_second": str(vae.sampling_rate / vae.hop)})
        for stem, data in stems.items():
            w.write_stem(stem, data)
        w.write_mix(mix)
        result = w.commit(take, extra)
    on_progress(total, total)
    return result
