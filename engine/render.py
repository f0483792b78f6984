"""Render a take for the DAW: effect chains per stem and on the master, loudness, Broadcast WAV or FLAC.

Stems go through their chains in chunks (``reset=False``), the processed stems are summed and the master chain runs
on the sum; the mix is brought to the loudness target under the true-peak ceiling, and the stems get the same
plain gain (so they keep their relative levels and still sum to the pre-limiter mix), lowered together if any
would clip. Files are written to a staging folder and moved to ``renders/<take>/`` only when all are complete, so a
failed render leaves the project as it was.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.audio.bwf import Bext, write_bwf
from engine.audio.consent import PluginNotAllowed
from engine.audio.fx import build_board, chain_spec, process_chunked, refused_plugins, user_preset_dirs
from engine.audio.io import SAMPLE_RATE, read_audio
from engine.audio.loudness import limit, normalize, true_peak_db
from engine.backends.base import ProgressFn, Steps, StopFn, never_stop, no_progress
from engine.errors import SongBridgeError
from engine.safe_fs import fresh_dir, open_write, remove, write_text
from engine.song.model import MASTER, check_id
from engine.song.project import Project
from engine.version import __version__

if TYPE_CHECKING:
    from presets.effect_chains import ChainSpec


@dataclass(frozen=True)
class RenderSettings:
    format: str = "wav"  # wav | flac
    bits: int = 24  # 16 | 24 | 32 (float; wav only)
    loudness_lufs: float | None = -14.0  # None: no loudness normalisation (peaks are still kept under the ceiling)
    ceiling_dbtp: float = -1.0
    fx: Mapping[str, str | None] = field(default_factory=dict)  # slot -> preset name/path; None = no chain
    range_s: tuple[float, float] | None = None  # render only [start, end) seconds of the take (a section)
    #: A comped song (``engine.comp``): (take, start_s, end_s) pieces played in place of the take's own audio.
    comp: tuple[tuple[str, float, float], ...] = ()

    def __post_init__(self) -> None:
        if self.format not in ("wav", "flac"):
            raise SongBridgeError(f"format must be wav or flac, got {self.format!r}")
        if self.bits not in (16, 24, 32):
            raise SongBridgeError(f"bits must be 16, 24 or 32 (32-bit float), got {self.bits}")
        if self.format == "flac" and self.bits == 32:
            raise SongBridgeError("FLAC holds 16 or 24-bit audio; use --format wav for 32-bit float")
        if self.loudness_lufs is not None and not -60 <= self.loudness_lufs <= 0:
            raise SongBridgeError(f"loudness target must be -60..0 LUFS, got {self.loudness_lufs}")
        if self.range_s is not None and not 0 <= self.range_s[0] < self.range_s[1]:
            raise SongBridgeError(f"render range must be 0 <= start < end, got {self.range_s}")
        if not -20 <= self.ceiling_dbtp <= 0:
            raise SongBridgeError(f"true-peak ceiling must be -20..0 dBTP, got {self.ceiling_dbtp}")
        for i, piece in enumerate(self.comp):
            ok = (isinstance(piece, tuple) and len(piece) == 3 and isinstance(piece[0], str)
                  and all(isinstance(t, int | float) and math.isfinite(t) for t in piece[1:]) and 0 <= piece[1] < piece[2])
            if not ok or (i and piece[1] < self.comp[i - 1][2] - 1e-9):
                raise SongBridgeError(f"comp piece {i}: expected (take, start_s, end_s) after the one before, "
                                      f"got {piece!r}")


@dataclass(frozen=True)
class RenderResult:
    folder: Path
    files: dict[str, Path]  # "mix" and each stem -> file
    lufs: float
    true_peak_db: float
    chains: dict[str, str | None]


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "song"


def chains_for(project: Project, settings: RenderSettings, stems: tuple[str, ...]) -> dict[str, str | None]:
    """Slot -> preset for this render: the command line first, then the song's effect slots."""
    out: dict[str, str | None] = {}
    for slot in (*stems, MASTER):
        if slot in settings.fx:
            out[slot] = settings.fx[slot]
        else:
            e = project.song.effects.get(slot)
            out[slot] = e.preset if e is not None and not e.bypass else None
    unknown = set(settings.fx) - set(out)
    if unknown:
        raise SongBridgeError(f"--fx {sorted(unknown)[0]}=...: no such stem; stems are {', '.join(stems)} "
                              f"and {MASTER}")
    return out


def render_chains(project: Project, settings: RenderSettings,
                  stems: tuple[str, ...]) -> dict[str, tuple[ChainSpec, dict[str, Any]]]:
    """Slot -> (chain, overrides) for this render, read and checked before any audio work: a bad preset raises an
    error naming it, and external plugins this machine has not allowed raise ``PluginNotAllowed`` naming every one
    of them, none loaded. A render never goes on without a plugin its chain names: the files it lands in the DAW
    would silently not be what the chain says."""
    chains = chains_for(project, settings, stems)
    overrides = {slot: dict(e.overrides) for slot, e in project.song.effects.items()
                 if slot not in settings.fx and e.overrides and chains.get(slot)}
    specs = {slot: (chain_spec(name, user_preset_dirs()), overrides.get(slot, {}))
             for slot, name in chains.items() if name}
    refused = [r for slot, (spec, ov) in specs.items() for r in refused_plugins(spec, ov, f"{slot}: ")]
    if refused:
        raise PluginNotAllowed(refused)
    return specs


@dataclass(frozen=True)
class AuditionChains:
    """The chains a take is auditioned with: those of its last render when it has one, else the song's."""

    presets: dict[str, str | None]  # slot -> preset name or path (None: dry)
    overrides: dict[str, dict]  # slot -> "plugin_index.param" -> value
    source: str  # "render" (renders/<take>/render.json) or "song"
    render_file: Path | None = None

    def describe(self) -> str:
        used = ", ".join(f"{k}={v}" for k, v in self.presets.items() if v) or "none"
        where = f"as rendered ({self.render_file})" if self.source == "render" else "the song's effect slots"
        return f"chains {used}, {where}"


def audition_chains(project: Project, take_id: str, stems: tuple[str, ...]) -> AuditionChains:
    """What you hear is what you rendered: a rendered take plays with the chains of its render (``--fx`` choices
    included); a take not rendered yet plays with the song's effect slots, which its first render will use."""
    record = project.render_dir(take_id) / "render.json"
    try:
        data = json.loads(record.read_text())
        chains = data["chains"]
        if isinstance(chains, dict) and all(isinstance(v, str | None) for v in chains.values()):
            raw = data.get("overrides") or {}
            overrides = {k: dict(v) for k, v in raw.items() if isinstance(v, dict)} if isinstance(raw, dict) else {}
            return AuditionChains({k: v for k, v in chains.items() if k in (*stems, MASTER)}, overrides, "render",
                                  record)
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        pass
    presets: dict[str, str | None] = {}
    overrides = {}
    for slot in (*stems, MASTER):
        e = project.song.effects.get(slot)
        presets[slot] = e.preset if e is not None and not e.bypass else None
        if e is not None:
            overrides[slot] = dict(e.overrides)
    return AuditionChains(presets, overrides, "song")


def render_take(project: Project, take_id: str, settings: RenderSettings, on_progress: ProgressFn = no_progress,
                should_stop: StopFn = never_stop, time_reference_s: float = 0.0,
                out_name: str | None = None) -> RenderResult:
    """Render into ``renders/<out_name or take id>/``. ``time_reference_s``: where the song starts on the DAW's
    timeline (added to every file's TimeReference)."""
    take = project.song.take(take_id) if take_id else None
    if take is None:
        raise SongBridgeError("no take given")
    src = project.audio_dir(take.id)
    pieces = _comp(project, take, settings)
    stems = comp_stems(project.song, pieces) if pieces else take.stems
    chains = chains_for(project, settings, stems)
    specs = render_chains(project, settings, stems)
    boards = {slot: build_board(spec, SAMPLE_RATE, overrides) for slot, (spec, overrides) in specs.items()}
    tick = Steps(len(stems) + 3, on_progress, should_stop)

    processed: dict[str, np.ndarray] = {}
    cache: dict[Any, np.ndarray] = {}
    for stem in stems:
        if pieces:
            from engine.comp import read_comp

            audio = read_comp(project, pieces, stem, cache)
        else:
            audio, sr = read_audio(src / "stems" / f"{stem}.wav")
            if sr != SAMPLE_RATE:
                raise SongBridgeError(f"{src / 'stems' / (stem + '.wav')}: {sr} Hz; takes are {SAMPLE_RATE} Hz")
        if settings.range_s is not None:
            a, b = (int(round(t * SAMPLE_RATE)) for t in settings.range_s)
            audio = audio[a:b]
            if not len(audio):
                raise SongBridgeError(f"render range {settings.range_s} is outside the take ({take.duration_s:.1f} s)")
        x = audio.T
        if stem in boards:
            x = process_chunked(boards[stem], x, SAMPLE_RATE, should_stop=should_stop)
        processed[stem] = x.T
        tick()
    pre = sum(processed.values())
    if MASTER in boards:
        pre = process_chunked(boards[MASTER], pre.T, SAMPLE_RATE, should_stop=should_stop).T
    tick()
    if settings.loudness_lufs is not None:
        mix, res = normalize(pre, SAMPLE_RATE, settings.loudness_lufs, settings.ceiling_dbtp)
        gain = np.float32(10 ** (res.gain_db / 20))
    else:
        gain = np.float32(1.0)
        mix = pre if true_peak_db(pre) < settings.ceiling_dbtp else limit(pre, SAMPLE_RATE, settings.ceiling_dbtp - 0.3)
    stems = {k: v * gain for k, v in processed.items()}
    worst = max(true_peak_db(v) for v in stems.values())
    if worst > settings.ceiling_dbtp:
        down = np.float32(10 ** ((settings.ceiling_dbtp - 0.1 - worst) / 20))
        stems = {k: v * down for k, v in stems.items()}
    from engine.audio.loudness import integrated_lufs

    lufs, tp = integrated_lufs(mix, SAMPLE_RATE), true_peak_db(mix)
    tick()
    if out_name:
        try:
            check_id(out_name, "render folder")  # it becomes a folder name: one rule for every such name
        except ValueError as exc:
            raise SongBridgeError(str(exc)) from None
    final = project.folder / "renders" / out_name if out_name else project.render_dir(take.id)
    staging = final.with_name(f".{final.name}.partial")
    fresh_dir(staging, project.folder)
    files: dict[str, Path] = {}
    try:
        name = slug(project.song.info.title)
        start = settings.range_s[0] if settings.range_s is not None else 0.0
        ref = int(round((time_reference_s + start) * SAMPLE_RATE))
        tag = "comp" if pieces else take.id
        for label, audio in (("mix", mix), *stems.items()):
            ext = "wav" if settings.format == "wav" else "flac"
            fname = f"{name}_{tag}_{label}.{ext}"
            desc = (f"SongBridge {project.song.info.title} comp of {', '.join(dict.fromkeys(p.take for p in pieces))} "
                    f"{label}" if pieces else
                    f"SongBridge {project.song.info.title} {take.id} {label} ({take.backend}, seed {take.seed})")
            bext = Bext(
                description=desc, originator="SongBridge", originator_reference=take.id, time_reference=ref,
                loudness_value=int(round(lufs * 100)) if label == "mix" and math.isfinite(lufs) else 0x7FFF,
                max_true_peak=int(round(tp * 100)) if label == "mix" and math.isfinite(tp) else 0x7FFF,
                coding_history=f"A=PCM,F={SAMPLE_RATE},W={settings.bits},M=stereo,T=SongBridge {__version__}\r\n",
            )
            _write(staging / fname, audio, settings, bext, project.folder)
            files[label] = final / fname
        record = {
            "songbridge_version": __version__, "take": take.id, "format": settings.format, "bits": settings.bits,
            "loudness_target_lufs": settings.loudness_lufs, "ceiling_dbtp": settings.ceiling_dbtp,
            "mix_lufs": lufs, "mix_true_peak_db": tp, "time_reference_samples": ref, "chains": chains,
            "overrides": {slot: ov for slot, (_, ov) in specs.items() if ov},
            "files": {k: v.name for k, v in files.items()},
        }
        if pieces:
            record["comp"] = [{"take": p.take, "start_s": p.start_s, "end_s": p.end_s} for p in pieces]
        write_text(staging / "render.json", json.dumps(record, indent=2) + "\n", project.folder)
        tick()
        old = final.with_name(f".{final.name}.old")
        remove(old)
        if final.exists() or final.is_symlink():
            final.rename(old)
        staging.rename(final)
        remove(old)
    finally:
        remove(staging)
    return RenderResult(final, files, lufs, tp, chains)


def _comp(project: Project, take: Any, settings: RenderSettings) -> tuple[Any, ...]:
    """The checked comp pieces of ``settings`` (empty: the take plays alone); every piece's take must exist."""
    if not settings.comp:
        return ()
    from engine.comp import Piece, check_pieces

    pieces = tuple(Piece(*p) for p in settings.comp)
    check_pieces(project.song, pieces)
    return pieces


def comp_stems(song: Any, pieces: tuple[Any, ...]) -> tuple[str, ...]:
    """The stems a comp renders: every stem of its takes (``engine.comp.check_pieces``)."""
    from engine.comp import check_pieces

    return check_pieces(song, pieces)


def comp_settings(song: Any, settings: RenderSettings) -> tuple[str, RenderSettings] | None:
    """The whole song as comped (``engine.comp``): (the song's take, ``settings`` with its pieces), or None when no
    section plays another take than the song's (render that take alone)."""
    from dataclasses import replace

    from engine.comp import check_pieces, comp_pieces, is_comped, song_take

    if not is_comped(song):
        return None
    base = song_take(song)
    pieces = comp_pieces(song)
    check_pieces(song, pieces)  # takes with other stems: refused here, before a job starts
    return base.id, replace(settings, comp=tuple((p.take, p.start_s, p.end_s) for p in pieces))


def _write(path: Path, audio: np.ndarray, settings: RenderSettings, bext: Bext, root: Path) -> None:
    if settings.format == "wav":
        write_bwf(path, audio, SAMPLE_RATE, settings.bits, bext, root=root)
        return
    import soundfile as sf

    with open_write(path, root) as raw, sf.SoundFile(raw, "w", SAMPLE_RATE, audio.shape[1], subtype=f"PCM_{settings.bits}",
                      format="FLAC") as fh:
        fh.comment = f"songbridge time_reference={bext.time_reference} {bext.description}"
        fh.software = "SongBridge"
        fh.write(np.clip(audio, -1.0, 1.0))


def render_summary(result: RenderResult) -> dict:
    return {**asdict(result), "folder": str(result.folder), "files": {k: str(v) for k, v in result.files.items()}}
