"""The ``guide`` backend: an instant CPU draft of the song with a guide vocal.

Deterministic for a seed (numpy's PCG64 seeded from it), 44.1 kHz stereo, no weights. It renders drums, bass,
keys and vocal stems from the arrangement, shapes them lightly with pedalboard, and scales every stem by one
common gain so the mix (the sum of the dry stems) peaks at -3 dBFS: headroom, never clipping. It edits too:
regenerating time ranges renders the new material and splices it into the source take with 10 ms crossfades.

Every take is planned first (:meth:`GuideBackend.plan`: the arrangement, the hits of the drums, bass and keys, the
sung notes); the audio is rendered from the plan and ``guide.mid`` is written from the same plan (:mod:`.midi`),
so the MIDI plays exactly what the audio does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.backends.base import Cancelled, GenerationRequest, ProgressFn, Steps, StopFn
from engine.backends.takes import TakeWriter
from engine.song.model import STEMS, Section, Take
from engine.song.take_midi import MIDI_NAME

from .arrangement import Arrangement, arrange, default_sections
from .instruments import SR
from .midi import guide_midi, write_midi
from .parts import bass_hits, drum_hits, keys_hits
from .score import Hit, render_hits
from .styles import match_style
from .vocal import SungNote, plan_notes, render_vocal, sung_spans

VERSION = "1.1"  # 1.1: arranged (energy by section and place, breakdowns, fills), MIDI beside the audio
PEAK_DBFS = -3.0
#: The take's MIDI file (a track per part, the tempo map and the sections as markers), beside mix.wav.
MIDI_FILE = MIDI_NAME


@dataclass(frozen=True)
class GuidePlan:
    arrangement: Arrangement
    sections: tuple[Section, ...]  # the song's, or the default ones the guide made up
    hits: dict[str, list[Hit]]  # drums, bass, keys
    notes: list[SungNote]  # the guide vocal, one per sung syllable


class GuideBackend:
    name = "guide"
    version = VERSION
    params: dict = {}  # the guide has no sampler: steps, guidance and the like do not apply

    def __init__(self, **_settings: object) -> None:
        pass

    def available(self) -> tuple[bool, str]:
        return True, "CPU draft renderer with a guide vocal (no weights needed)"

    def estimate(self, request: GenerationRequest) -> tuple[float, int]:
        # Measured on a 2-core VM: 2.9 s for a 134 s song in a fresh worker (imports, render, five WAVs); the
        # engine refines this from finished jobs (engine.estimates). Memory: stems + mix in float32.
        frames = int(request.duration_s * SR)
        return 0.8 + request.duration_s * 0.016, frames * 2 * 4 * 7

    def plan(self, request: GenerationRequest) -> GuidePlan:
        """Everything the take plays, before any audio: the arrangement, the hits of the drums, bass and keys,
        and the sung notes. The audio and the MIDI file are both made from it."""
        from engine.lyrics.g2p import default_g2p

        g2p = default_g2p()
        style = match_style(request.style.prompt)
        sections = request.sections
        timed = [ln.start_s for ln in request.lyrics if ln.start_s is not None and ln.text.strip()]
        if not sections:
            sections = default_sections(request.tempo, request.duration_s, min(timed, default=None),
                                        max(timed, default=None))
        quarter = 60.0 / request.tempo.bpm
        arr = arrange(request.tempo, request.key, sections, style, request.duration_s,
                      sung_spans(list(request.lyrics), g2p.syllables, quarter))
        rng = np.random.default_rng(request.seed)
        drums = drum_hits(arr, np.random.default_rng(rng.integers(2**32)))
        notes = plan_notes(arr, list(request.lyrics), g2p, np.random.default_rng(rng.integers(2**32)),
                           request.duration_s, quarter)
        return GuidePlan(arr, tuple(sections), {"drums": drums, "bass": bass_hits(arr), "keys": keys_hits(arr)},
                         notes)

    def render(self, request: GenerationRequest, on_progress: ProgressFn, should_stop: StopFn,
               plan: GuidePlan | None = None) -> dict[str, np.ndarray]:
        """The dry stems, float32 [frames, 2], already scaled for headroom."""
        tick = Steps(6, on_progress, should_stop)
        n = int(math.ceil(request.duration_s * SR))
        plan = plan or self.plan(request)
        stems: dict[str, np.ndarray] = {}
        tick()
        for name in ("drums", "bass", "keys"):
            buf = np.zeros((2, n), dtype=np.float32)
            render_hits(plan.hits[name], buf)
            stems[name] = buf
            tick()
        mono = render_vocal(plan.notes, n)
        mono *= np.float32(math.sqrt(0.5))
        stems["vocal"] = np.stack([mono, mono])
        tick()
        mix = stems["drums"] + stems["bass"] + stems["keys"] + stems["vocal"]
        peak = max(float(mix.max()), -float(mix.min()))
        g = np.float32(10 ** (PEAK_DBFS / 20) / peak) if peak > 0 else np.float32(1.0)
        for k in stems:
            stems[k] *= g
        tick()
        return {k: stems[k].T for k in STEMS}  # [frames, 2] views

    def generate(self, request: GenerationRequest, on_progress: ProgressFn, should_stop: StopFn) -> Take:
        # Rendering is 6 steps; writing the take's files is the 7th.
        plan = self.plan(request)
        stems = self.render(request, lambda d, t: on_progress(d, t + 1), should_stop, plan)
        if request.edit is not None:
            stems = _splice(request, stems)
            plan = self._spliced_plan(request, plan)
        mix = sum(stems.values())
        take = Take(
            id=request.take_id, backend=self.name, seed=request.seed, name=request.name,
            model_id=f"guide-{style_name(request)}", params={**dict(request.params), "style_match": style_name(request)},
            lrc=_lrc(request), style=request.style, parent=request.edit.source_take if request.edit else None,
            edited_ranges=request.edit.ranges if request.edit else (), duration_s=request.duration_s, stems=STEMS,
        )
        if should_stop():
            raise Cancelled("cancelled")
        with TakeWriter(request.out_dir) as w:
            for name, audio in stems.items():
                w.write_stem(name, audio)
            w.write_mix(mix)
            write_midi(self.midi(request, plan), w.path(MIDI_FILE), request.out_dir.parent)
            committed = w.commit(take, {"guide": {"version": VERSION, "peak_dbfs": PEAK_DBFS}})
        on_progress(7, 7)
        return committed


    def midi(self, request: GenerationRequest, plan: GuidePlan, section: Section | None = None) -> Any:
        """The plan as a ``mido.MidiFile`` (see :mod:`.midi`); ``section``: that section only, from tick 0."""
        style = plan.arrangement.style
        return guide_midi(plan.hits, plan.notes, request.tempo, request.key, request.sections or plan.sections,
                          request.duration_s, title=request.title, section=section,
                          voices={"keys": style.keys, "bass": style.bass})

    def _spliced_plan(self, request: GenerationRequest, plan: GuidePlan) -> GuidePlan:
        """What an edit take plays: the source take's notes outside the edited ranges (planned again from its
        seed, as its audio was), the new ones inside, so the MIDI matches the spliced audio."""
        from dataclasses import replace

        from engine.backends.takes import read_record

        assert request.edit is not None
        try:
            source = read_record(Path(request.out_dir).parent / request.edit.source_take)
        except Exception:  # noqa: BLE001 - no record: the MIDI keeps the new plan, the audio is still right
            return plan
        before = self.plan(replace(request, seed=source.seed, edit=None))

        def inside(t: float) -> bool:
            return any(r.start_s <= t < r.end_s for r in request.edit.ranges)  # type: ignore[union-attr]

        hits = {k: sorted([h for h in before.hits[k] if not inside(h.start_s)] +
                          [h for h in plan.hits[k] if inside(h.start_s)], key=lambda h: h.start_s)
                for k in plan.hits}
        notes = sorted([n for n in before.notes if not inside(n.start_s)] +
                       [n for n in plan.notes if inside(n.start_s)], key=lambda n: n.start_s)
        return GuidePlan(plan.arrangement, plan.sections, hits, notes)


def style_name(request: GenerationRequest) -> str:
    return match_style(request.style.prompt).name


def _lrc(request: GenerationRequest) -> str:
    from engine.lyrics import format as format_lrc
    from engine.lyrics import lrc_from_lines

    return format_lrc(lrc_from_lines(request.lyrics, request.sections))


def _splice(request: GenerationRequest, new: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Source take outside the edited ranges, new material inside, 10 ms equal-power crossfades at the seams."""
    from engine.audio.io import read_audio

    assert request.edit is not None
    src_dir = Path(request.out_dir).parent / request.edit.source_take
    out = {}
    fade = int(0.010 * SR)
    for name, audio in new.items():
        old, _ = read_audio(src_dir / "stems" / f"{name}.wav")
        n = len(audio)
        old = np.pad(old, ((0, max(0, n - len(old))), (0, 0)))[:n]
        w = np.zeros(n, dtype=np.float32)
        for r in request.edit.ranges:
            a, b = int(r.start_s * SR), min(n, int(r.end_s * SR))
            w[a:b] = 1.0
            if a > 0:
                k = min(fade, a)
                w[a - k:a] = np.maximum(w[a - k:a], np.sin(np.linspace(0, np.pi / 2, k)) ** 2)
            if b < n:
                k = min(fade, n - b)
                w[b:b + k] = np.maximum(w[b:b + k], np.cos(np.linspace(0, np.pi / 2, k)) ** 2)
        out[name] = (old * (1 - w[:, None]) + audio * w[:, None]).astype(np.float32)
    return out
