"""Parity with the reference MuQ-MuLan (``muq`` 0.1.0 + DiffRhythm's ``get_style_prompt``) on a golden set.

``songbridge models parity muq-mulan FIXTURE_DIR`` reads every case from ``FIXTURE_DIR/fixtures.json`` (prompts,
clip files, the expressions that built the direct inputs), loads ``FIXTURE_DIR/models`` through the production
loader, and compares every stored stage. One line per case; exit 1 on any failure.

Tolerances (the fixture README's): float32 stages atol 1e-5 + rtol 1e-5; ``embedding_f32`` atol 1e-6;
``style_prompt_f16`` equal or 1 fp16 ulp per element; token ids, clip counts and prepared waves exact.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from engine.parity import Report, main_for

STAGE_TOL = (1e-5, 1e-5)
EMBED_ATOL = 1e-6


class Checker:
    """Compares our tensors with the goldens, remembering the worst case."""

    def __init__(self, torch: Any, tensors: dict[str, Any]):
        self.torch, self.tensors = torch, tensors
        self.worst, self.problems, self.compared = 0.0, [], 0

    def __call__(self, key: str, ours: Any, *, exact: bool = False) -> None:
        torch = self.torch
        if key not in self.tensors:
            return
        ref = self.tensors[key]
        ours = ours.detach().cpu()
        self.compared += 1
        if tuple(ours.shape) != tuple(ref.shape):
            self.problems.append(f"{key}: shape {tuple(ours.shape)} != {tuple(ref.shape)}")
            return
        if exact or not ref.is_floating_point():
            if not torch.equal(ours.to(ref.dtype), ref):
                self.problems.append(f"{key}: differs")
            return
        if ref.dtype == torch.float16:
            a, b = ours.to(torch.float16).view(torch.int16).int(), ref.view(torch.int16).int()
            ulps = int((a - b).abs().max()) if a.numel() else 0
            if ulps > 1:
                self.problems.append(f"{key}: {ulps} fp16 ulps")
            return
        err = float((ours.float() - ref.float()).abs().max()) if ref.numel() else 0.0
        self.worst = max(self.worst, err)
        stage = key.rsplit(".", 1)[-1]
        ok = err <= EMBED_ATOL if stage == "embedding_f32" else bool(
            torch.allclose(ours.float(), ref.float(), atol=STAGE_TOL[0], rtol=STAGE_TOL[1]))
        if not ok:
            self.problems.append(f"{key}: max_abs {err:.2e}")

    def result(self) -> tuple[bool, str]:
        if self.problems:
            return False, "; ".join(self.problems[:3]) + (f" (+{len(self.problems) - 3})" if len(self.problems) > 3
                                                          else "")
        return self.compared > 0, f"{self.compared} tensors, max_abs {self.worst:.1e}"


def _expression(expr: str, tensors: dict[str, Any], torch: Any) -> Any:
    """The direct cases' inputs: ``cat(A, B[:, :N], ...)`` or ``A[:, :N]`` over stored tensors."""
    expr = re.sub(r"\s*\(.*\)\s*$", "", expr.strip()) if not expr.strip().startswith("cat(") else expr.strip()
    if expr.startswith("cat("):
        depth, parts, cur = 0, [], ""
        body = expr[4:expr.rindex(")")]
        for ch in body:
            depth += ch == "["
            depth -= ch == "]"
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
            else:
                cur += ch
        parts.append(cur)
        return torch.cat([_expression(p, tensors, torch) for p in parts if p.strip()], dim=-1)
    m = re.fullmatch(r"([\w.]+)(?:\[:,\s*(-?\d*):(-?\d*)\])?", expr)
    if not m or m.group(1) not in tensors:
        raise ValueError(f"cannot rebuild the input from {expr!r}")
    t = tensors[m.group(1)]
    if m.group(2) is not None or m.group(3) is not None:
        a = int(m.group(2)) if m.group(2) else None
        b = int(m.group(3)) if m.group(3) else None
        t = t[:, a:b]
    return t


def _compare_clips(check: Checker, prefix: str, taps: dict[str, Any], n_expected: int | None) -> None:
    clips = taps["clips"].shape[0]
    if n_expected is not None and clips != n_expected:
        check.problems.append(f"{prefix}: {clips} clips, expected {n_expected}")
    for j in range(clips):
        for stage, t in taps.items():
            if stage != "clips":
                check(f"{prefix}.clip{j}.{stage}", t[j:j + 1])


def run(fixture_dir: Path, report: Report) -> None:
    import torch
    from safetensors.torch import load_file

    from engine.style.encoder import StyleEncoder, StyleError
    from engine.style.files import locate
    from engine.style.reference import ReferenceAudioError, prepare

    meta = json.loads((fixture_dir / "fixtures.json").read_text(encoding="utf-8"))
    tensors = load_file(str(fixture_dir / "tensors.safetensors"))
    try:
        enc = StyleEncoder(locate(fixture_dir / "models"))
        report.line("load models/", True, f"{enc.files.weights.name}, {sum(p.numel() for p in enc.model.parameters()):,}"
                    " parameters, every key checked")
    except Exception as exc:  # noqa: BLE001 - a failed case is a FAIL line
        report.line("load models/", False, str(exc).splitlines()[0])
        return
    check = Checker(torch, tensors)
    check("frontend.mel_fb", enc.model.mulan.audio.model.model.preprocessor.fb)
    check("frontend.hann_window_2048", enc.model.mulan.audio.model.model.preprocessor.window)
    report.line("frontend", *check.result())
    cases = meta["cases"]
    for name, case in cases.items():
        check = Checker(torch, tensors)
        try:
            if name.startswith("text.") and "prompt" in case:
                ids = enc.tokenizer.ids(case["prompt"])
                check(f"{name}.input_ids", torch.tensor([ids]), exact=True)
                if case.get("error"):
                    try:
                        enc.text(case["prompt"])
                        check.problems.append("a prompt the reference cannot read was accepted")
                    except StyleError as exc:
                        check.compared += 1
                        print(f"INFO  {name}: refused: {exc}")
                else:
                    taps: dict[str, Any] = {}
                    emb = enc.text(case["prompt"], taps)
                    for stage, t in taps.items():
                        check(f"{name}.{stage}", t)
                    check(f"{name}.embedding_f32", torch.from_numpy(emb))
                    check(f"{name}.style_prompt_f16", torch.from_numpy(emb).half())
            elif name.startswith("text.") and "prompts" in case:
                prompts = [cases[f"text.{p}"]["prompt"] if f"text.{p}" in cases else p for p in case["prompts"]]
                rows = [enc.tokenizer.ids(p) for p in prompts]
                n = max(len(r) for r in rows)
                pad = enc.cfg.xlmr.pad_token_id
                ids = torch.tensor([r + [pad] * (n - len(r)) for r in rows])
                mask = torch.tensor([[1] * len(r) + [0] * (n - len(r)) for r in rows])
                check(f"{name}.input_ids", ids, exact=True)
                check(f"{name}.attention_mask", mask, exact=True)
                taps = {}
                with torch.inference_mode():
                    emb = enc.model.embed_text(ids, mask, taps)
                for stage, t in taps.items():
                    check(f"{name}.{stage}", t)
                check(f"{name}.embedding_f32", emb)
            elif name.startswith("audio."):
                path = fixture_dir / case["file"]
                if case.get("error"):
                    try:
                        prepare(path)
                        check.problems.append("a clip the reference refuses was accepted")
                    except ReferenceAudioError as exc:
                        check.compared += 1
                        print(f"INFO  {name}: refused: {exc}")
                else:
                    prep = prepare(path)
                    if abs(prep.start_s - float(case["start_time"])) > 1e-9:
                        check.problems.append(f"excerpt starts at {prep.start_s}, expected {case['start_time']}")
                    check(f"{name}.prepared_wav", torch.from_numpy(prep.wav)[None], exact=True)
                    clip_taps: list[dict[str, Any]] = []
                    emb = enc.wave(prep.wav, clip_taps)
                    _compare_clips(check, name, clip_taps[0], case.get("n_clips"))
                    check(f"{name}.embedding_f32", torch.from_numpy(emb))
                    check(f"{name}.style_prompt_f16", torch.from_numpy(emb).half())
            elif name.startswith("direct."):
                key = f"{name}.input_wav"
                wav = tensors[key] if key in tensors else _expression(case["input"], tensors, torch)
                if "input_len" in case and wav.shape[-1] != int(case["input_len"]):
                    check.problems.append(f"input rebuilt with {wav.shape[-1]} samples, expected {case['input_len']}")
                clip_taps = []
                emb = enc.wave(wav[0].numpy(), clip_taps)
                _compare_clips(check, name, clip_taps[0], case.get("n_clips"))
                lengths = case.get("clip_lengths")
                if lengths and clip_taps[0]["clips"].shape[-1] != int(lengths[0]):
                    check.problems.append(f"clip length {clip_taps[0]['clips'].shape[-1]}, expected {lengths[0]}")
                check(f"{name}.embedding_f32", torch.from_numpy(emb))
            else:
                check.problems.append("unknown case kind")
            report.line(name, *check.result())
        except Exception as exc:  # noqa: BLE001
            report.line(name, False, f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
    for key in ("style_prompt_text", "style_prompt_audio"):
        spec = meta.get("dit", {}).get(key)
        if isinstance(spec, str) and spec.startswith("= ") and f"dit.{key}" in tensors:
            source = spec[2:].strip()
            ok = source in tensors and torch.equal(tensors[source], tensors[f"dit.{key}"])
            report.line(f"dit.{key}", ok, f"the DiT's style input is {source}" if ok else f"differs from {source}")
    enc.close()


def main(argv: list[str] | None = None) -> int:
    return main_for("muq-mulan", __doc__, run, argv)


if __name__ == "__main__":
    sys.exit(main())
