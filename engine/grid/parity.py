"""Parity with the reference Beat This! (``beat-this`` 1.1.0) on a golden set.

``songbridge models parity beat-this FIXTURE_DIR`` loads the set's checkpoints through the production loader and
checks every stored stage: the filterbank and window, RoPE, the log-mel of each waveform, the network's
intermediates, direct and chunked logits, the end-to-end beats of each audio case (resampling included), and the
post-processor on hand-made logits. One PASS/FAIL line a case, then ``N passed, N failed``; exit 1 on a failure.

Tolerances (docs/reference/fixtures/beat-this.md §6): filterbank, window, RoPE atol 1e-6; resampled audio atol 1e-6;
log-mel atol 1e-5 + rtol 1e-5 for the short waveforms, atol 5e-5 for whole audio cases (the README's figure
assumes the reference's own FFT: in low-energy bins a float32 STFT is only good to ~1e-4 relative, and the
reference's log-mel of ``drums_mono`` is itself 2.5e-5 away from a float64 STFT); intermediates atol 1e-4 + rtol
1e-4; logits atol 1e-4; beat and downbeat times exact (1e-9).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from engine.parity import Report, main_for, run_case

TOL = {"fixed": (1e-6, 0.0), "wave": (1e-6, 0.0), "mel": (1e-5, 1e-5), "audio_mel": (5e-5, 1e-5), "inter": (1e-4, 1e-4), "logit": (1e-4, 0.0),
       "time": (1e-9, 0.0)}


class Check:
    def __init__(self, tensors: dict[str, Any]):
        self.tensors = tensors
        self.problems: list[str] = []
        self.worst = 0.0
        self.compared = 0

    def __call__(self, key: str, ours: Any, kind: str) -> None:
        if key not in self.tensors:
            self.problems.append(f"{key}: not in the fixture set")
            return
        ref = np.asarray(self.tensors[key].numpy(), dtype=np.float64)
        got = np.asarray(ours.detach().numpy() if hasattr(ours, "detach") else ours, dtype=np.float64)
        self.compared += 1
        if got.shape != ref.shape:
            self.problems.append(f"{key}: shape {got.shape} != {ref.shape}")
            return
        if not ref.size:
            return
        atol, rtol = TOL[kind]
        err = float(np.abs(got - ref).max())
        self.worst = max(self.worst, err) if kind != "time" else self.worst
        if not np.all(np.abs(got - ref) <= atol + rtol * np.abs(ref)):
            self.problems.append(f"{key}: max_abs {err:.2e} (atol {atol:g})")

    def result(self) -> tuple[bool, str]:
        if self.problems:
            more = f" (+{len(self.problems) - 3})" if len(self.problems) > 3 else ""
            return False, "; ".join(self.problems[:3]) + more
        return self.compared > 0, f"{self.compared} tensors, max_abs {self.worst:.1e}"


def _case(report: Report, name: str, fn: Any, tensors: dict[str, Any]) -> None:
    run_case(report, name, fn, Check(tensors))


def run(fixture_dir: Path, report: Report) -> None:
    import torch
    from safetensors.torch import load_file

    from engine.nn.beat_this import LogMel, predict_chunked
    from engine.nn.beat_this.model import Rotary

    from .beat_this import load_checkpoint, to_model_rate
    from .peaks import beat_numbers, beats_from_logits, merge_adjacent

    torch.manual_seed(0)
    meta = json.loads((fixture_dir / "fixtures.json").read_text())
    tfile = meta.get("tensors_file", "tensors.safetensors")
    tensors = load_file(str(fixture_dir / (tfile["name"] if isinstance(tfile, dict) else tfile)))
    cases = meta["cases"]
    ckpts = sorted(meta.get("checkpoints", {"tiny_beat_this.ckpt": {}}))
    main_name = next((c for c in ckpts if "variant" not in c), ckpts[0])
    models = {}
    for name in ckpts:
        try:
            models[name] = load_checkpoint(fixture_dir / name)
            m = models[name]
            n = sum(p.numel() for p in m.model.parameters())  # type: ignore[attr-defined]
            want = meta["checkpoints"][name].get("n_parameters")
            ok = want is None or n == want
            report.line(f"load {name}", ok, f"{n:,} parameters, every key checked" + ("" if ok else f" != {want:,}"))
        except Exception as exc:  # noqa: BLE001
            report.line(f"load {name}", False, f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
    if main_name not in models:
        return
    model = models[main_name].model
    mel = LogMel()

    def fixed(c: Check) -> None:
        c("mel.filterbank", mel.fb, "fixed")
        c("mel.window", mel.window, "fixed")
        head_dim = int(tensors["rope.freqs"].shape[0]) * 2
        rope = Rotary(head_dim)
        c("rope.freqs", rope.freqs, "fixed")
        c("rope.q_rotated", rope(tensors["rope.q"]), "fixed")
        c("rope.q_long_rotated", rope(tensors["rope.q_long"]), "fixed")
    _case(report, "filterbank, window, rope", fixed, tensors)

    def mels(c: Check) -> None:
        for item in cases["mel"]["length_cases"]:
            c(f"{item['key']}.logmel", mel(tensors[f"{item['key']}.wave"]), "mel")
        taps: dict[str, Any] = {}
        stft_in = cases["mel"].get("stft_case", {}).get("input", "mel.case5.wave")
        mel(tensors[stft_in], taps)
        c("mel.stft.stft_mag", taps["stft_mag"], "mel")
        c("mel.stft.mel_linear", taps["mel_linear"], "mel")
        for n in (1, 512):  # the reference refuses these; so do we, with a message instead of a torch error
            try:
                mel(torch.zeros(n))
            except ValueError:
                continue
            c.problems.append(f"{n} samples were not refused")
    _case(report, "mel", mels, tensors)

    def net(prefix: str, m: Any) -> Any:
        def fn(c: Check) -> None:
            taps: dict[str, Any] = {}
            with torch.inference_mode():
                beat, down = m(tensors[f"{prefix}.spect"], taps)
            for key in [k for k in tensors if k.startswith(prefix + ".") and k != f"{prefix}.spect"]:
                stage = key[len(prefix) + 1:]
                if stage in ("beat", "downbeat"):
                    c(key, beat if stage == "beat" else down, "logit")
                elif stage in taps:
                    c(key, taps[stage], "inter")
                else:
                    c.problems.append(f"{key}: no such stage here")
        return fn
    _case(report, "net.short", net("net.short", model), tensors)
    variant = next((models[n].model for n in models if n != main_name), None)
    if variant is not None and "net.variant.spect" in tensors:
        _case(report, "net.variant", net("net.variant", variant), tensors)
    if "net.batch.spect" in tensors:
        _case(report, "net.batch", net("net.batch", model), tensors)

    def direct_and_padded(c: Check) -> None:
        x = tensors["net.mid.spect"]
        with torch.inference_mode():
            beat, down = model(x[None])
            c("net.mid.beat", beat[0], "logit")
            c("net.mid.downbeat", down[0], "logit")
            sb, sd = predict_chunked(model, x)
        c("net.mid.s2f_beat", sb, "logit")
        c("net.mid.s2f_downbeat", sd, "logit")
        logmel = tensors["e2e.drums_mono.logmel"]
        t = int(tensors["net.long_direct.beat"].shape[0])
        x = logmel.repeat(math.ceil(t / logmel.shape[0]), 1)[:t]
        with torch.inference_mode():
            beat, down = model(x[None])
        c("net.long_direct.beat", beat[0], "logit")
        c("net.long_direct.downbeat", down[0], "logit")
    _case(report, "net.mid, net.long_direct", direct_and_padded, tensors)

    def chunked(c: Check) -> None:
        logmel = tensors["e2e.drums_mono.logmel"]
        tiled = cases["chunk"]["tiled"]
        x = logmel.repeat(math.ceil(tiled["T"] / logmel.shape[0]), 1)[:tiled["T"]]
        with torch.inference_mode():
            beat, down = predict_chunked(model, x)
        c("chunk.tiled.beat", beat, "logit")
        c("chunk.tiled.downbeat", down, "logit")
        beats, downs = beats_from_logits(beat.numpy(), down.numpy())
        c("chunk.tiled.beats", beats, "time")
        c("chunk.tiled.downbeats", downs, "time")
        for name in [k for k in cases["chunk"] if k.startswith("spa")]:
            spec = cases["chunk"][name]
            with torch.inference_mode():
                b, d = predict_chunked(model, logmel[:spec["T"]], spec["chunk"], spec["border"], spec["overlap"])
            c(f"chunk.{name}.beat", b, "logit")
            c(f"chunk.{name}.downbeat", d, "logit")
        from engine.nn.beat_this.chunks import split_starts
        for row in cases["chunk"].get("split_piece_table", []):
            got = split_starts(row["len"], row["chunk_size"], row["border_size"])
            if got != row["starts"]:
                c.problems.append(f"starts for {row['len']}/{row['chunk_size']}/{row['border_size']}: {got} != "
                                  f"{row['starts']}")
    _case(report, "chunk", chunked, tensors)

    for name, spec in cases["e2e"].items():
        def e2e(c: Check, name: str = name, spec: dict = spec) -> None:
            audio = tensors[f"e2e.{name}.audio_int16"].numpy().astype(np.float64) / 32768.0
            wav = to_model_rate(audio, spec["sr"])
            if f"e2e.{name}.resampled" in tensors:
                c(f"e2e.{name}.resampled", wav, "wave")
            with torch.inference_mode():
                logmel = mel(torch.from_numpy(wav))
            for key in [k for k in tensors if k.startswith(f"e2e.{name}.logmel")]:
                part = key.rsplit(".", 1)[-1]
                if part == "logmel":
                    c(key, logmel, "audio_mel")
                elif part == "logmel_frame_sum":
                    c(key, logmel.double().sum(dim=1), "inter")
                else:
                    rng = {"logmel_head": (0, 100), "logmel_boundary": (1460, 1540)}.get(part)
                    n = int(tensors[key].shape[0])
                    lo, hi = rng if rng else (logmel.shape[0] - n, logmel.shape[0])
                    c(key, logmel[lo:hi], "audio_mel")
            with torch.inference_mode():
                beat, down = predict_chunked(model, logmel)
            c(f"e2e.{name}.beat_logits", beat, "logit")
            c(f"e2e.{name}.downbeat_logits", down, "logit")
            beats, downs = beats_from_logits(beat.numpy(), down.numpy())
            c(f"e2e.{name}.beats", beats, "time")
            c(f"e2e.{name}.downbeats", downs, "time")
            want = spec.get("beat_numbers_infer_beat_numbers")
            if want is not None and beat_numbers(beats, downs).tolist() != want:
                c.problems.append("beat numbers differ")
        _case(report, f"e2e.{name}", e2e, tensors)

    for name in cases["post"]:
        if isinstance(cases["post"][name], list):  # a table, not a case with tensors
            def table(c: Check, rows: list = cases["post"][name]) -> None:
                for row in rows:
                    c.compared += 1
                    got = merge_adjacent(np.asarray(row["peaks"]), row.get("width", 1)).tolist()
                    if got != row["result"]:
                        c.problems.append(f"{row['peaks']} -> {got}, not {row['result']}")
            _case(report, f"post.{name}", table, tensors)
            continue

        def post(c: Check, name: str = name) -> None:
            b, d = tensors[f"post.{name}.beat_logits"].numpy(), tensors[f"post.{name}.downbeat_logits"].numpy()
            if b.ndim == 1:
                beats, downs = beats_from_logits(b, d)
                c(f"post.{name}.beats", beats, "time")
                c(f"post.{name}.downbeats", downs, "time")
                return
            mask = tensors[f"post.{name}.padding_mask"].numpy()
            for i in range(b.shape[0]):
                beats, downs = beats_from_logits(b[i], d[i], mask[i])
                c(f"post.{name}.item{i}.beats", beats, "time")
                c(f"post.{name}.item{i}.downbeats", downs, "time")
        _case(report, f"post.{name}", post, tensors)


def main(argv: list[str] | None = None) -> int:
    return main_for("beat-this", __doc__, run, argv)


if __name__ == "__main__":
    sys.exit(main())
