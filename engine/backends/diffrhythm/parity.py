"""Parity with the DiffRhythm reference on a golden fixture set.

``python -m engine.backends.diffrhythm.parity FIXTURE_DIR`` reads the model config and every case from
``FIXTURE_DIR/fixtures.json`` (nothing about the tiny model is hard-coded), loads ``tiny_cfm_state_dict.safetensors``
(and checks the official wrapped fp16 ``.pt`` form when present), runs every DiT forward case and every sampler
case (feeding the saved initial noise), and every LRC token case from ``lrc_tokens.json``; it prints one line per
case with the max abs error and PASS/FAIL, and exits 1 on any failure.

Tolerances: DiT atol 1e-4 rtol 1e-4; sampler atol 5e-4 rtol 1e-4; tokens exact in the espeak mode.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from pathlib import Path
from typing import Any

DIT_TOL = (1e-4, 1e-4)
SAMPLER_TOL = (5e-4, 1e-4)


class Report:
    def __init__(self) -> None:
        self.failed = 0
        self.passed = 0
        self.skipped = 0

    def line(self, name: str, ok: bool | None, detail: str) -> None:
        status = "SKIP" if ok is None else ("PASS" if ok else "FAIL")
        if ok is None:
            self.skipped += 1
        elif ok:
            self.passed += 1
        else:
            self.failed += 1
        print(f"{status}  {name:<34} {detail}", flush=True)


def _tensor_arg(value: Any, tensors: dict, torch: Any) -> Any:
    """A call argument: a tensor key, null, a number, or a description such as 'scalar 0-dim tensor 0.5'."""
    if value is None:
        return None
    if isinstance(value, str) and value in tensors:
        return tensors[value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return torch.tensor(float(value))
    if isinstance(value, str):
        m = re.search(r"tensor\s*\(?\s*(-?\d+(?:\.\d+)?)", value) or re.search(r"(-?\d+\.\d+)", value)
        if m and "scalar" in value:
            return torch.tensor(float(m.group(1)))
    raise ValueError(f"cannot interpret call argument {value!r}")


def _compare(torch: Any, out: Any, ref: Any, tol: tuple[float, float]) -> tuple[bool, str]:
    if tuple(out.shape) != tuple(ref.shape):
        return False, f"shape {tuple(out.shape)} != {tuple(ref.shape)}"
    err = (out.float() - ref.float()).abs().max().item()
    ok = bool(torch.allclose(out.float(), ref.float(), atol=tol[0], rtol=tol[1]))
    return ok, f"max_abs={err:.3e}"


def run_model_cases(fixture_dir: Path, report: Report) -> None:
    import torch
    from safetensors.torch import load_file

    from engine.checkpoints import load_strict, read_checkpoint
    from engine.nn import CFM, DiT, DiTConfig

    torch.set_num_threads(1)
    meta = json.loads((fixture_dir / "fixtures.json").read_text())
    tensors = load_file(str(fixture_dir / meta.get("tensors_file", "tensors.safetensors")))
    weights = fixture_dir / meta.get("state_dict", {}).get("file", "tiny_cfm_state_dict.safetensors")
    ckpt = read_checkpoint(weights)
    config = meta["tiny_config"]
    models: dict[int, Any] = {}

    def model(max_frames: int) -> Any:
        if max_frames not in models:
            cfg = DiTConfig.from_dict(config, str(fixture_dir / "fixtures.json"), max_frames=max_frames)
            m = CFM(DiT.from_config(cfg), num_channels=cfg.mel_dim).eval()
            load_strict(m, ckpt)
            models[max_frames] = m
        return models[max_frames]

    wrapped = sorted(fixture_dir.glob("*wrapped*.pt"))
    for pt in wrapped:
        try:
            official = read_checkpoint(pt)
            same = set(official.state_dict) == set(ckpt.state_dict) and all(
                torch.equal(official.state_dict[k], ckpt.state_dict[k].half()) for k in ckpt.state_dict)
            for mf in sorted({c["max_frames"] for c in meta["cases"]}):
                m = CFM(DiT.from_config(DiTConfig.from_dict(config, "fixtures.json", max_frames=mf))).half()
                load_strict(m, official)
            report.line(f"checkpoint {pt.name}", same, f"{official.kind} {official.dtype_name()}, "
                        f"{len(official.state_dict)} tensors, == safetensors in fp16: {same}")
        except Exception as exc:  # noqa: BLE001 - a failed case is a FAIL line, not a crash
            report.line(f"checkpoint {pt.name}", False, str(exc).splitlines()[0])

    for case in meta["cases"]:
        name, kind, call = case["name"], case["kind"], case["call"]
        try:
            m = model(case["max_frames"])
            if kind == "dit_forward":
                with torch.no_grad():
                    out = m.transformer(
                        tensors[call["x"]], tensors[call["cond"]], tensors[call["text"]],
                        _tensor_arg(call["time"], tensors, torch), tensors[call["style_prompt"]],
                        _tensor_arg(call["start_time"], tensors, torch), _tensor_arg(call.get("duration"), tensors, torch),
                        drop_audio_cond=bool(call["drop_audio_cond"]), drop_text=bool(call["drop_text"]),
                        drop_prompt=bool(call.get("drop_prompt", False)))
                ok, detail = _compare(torch, out, tensors[case["output"]], DIT_TOL)
                report.line(name, ok, detail)
            elif kind == "cfm_sample":
                from engine.sampling import linear_grid, sway_grid

                coef = call.get("sway_sampling_coef")
                grid = linear_grid(int(call["steps"])) if coef in (None, 0) else sway_grid(int(call["steps"]),
                                                                                          float(coef))
                noise_key = case["noise"]["saved_as"]
                res = m.sample(
                    cond=tensors[call["cond"]], text=tensors[call["text"]], duration=int(call["duration"]),
                    style_prompt=tensors[call["style_prompt"]],
                    negative_style_prompt=tensors[call["negative_style_prompt"]],
                    start_time=tensors[call["start_time"]], song_duration=tensors[call["song_duration"]],
                    latent_pred_segments=[tuple(s) for s in call["latent_pred_segments"]],
                    batch=int(call["batch_infer_num"]), steps=int(call["steps"]),
                    cfg_strength=float(call["cfg_strength"]), noise=tensors[noise_key], keep_trajectory=True,
                    grid=grid, method=str(call.get("odeint_method") or call.get("method") or "euler"))
                prefix = noise_key.rsplit(".", 1)[0]
                ok1, d1 = _compare(torch, res.out, tensors[f"{prefix}.out"], SAMPLER_TOL)
                ok2, d2 = _compare(torch, res.trajectory, tensors[f"{prefix}.trajectory"], SAMPLER_TOL)
                grid_key = f"{prefix}.time_grid"
                ok3 = True
                if grid_key in tensors:
                    ok3 = bool(torch.allclose(grid, tensors[grid_key].to(grid.dtype), atol=1e-7, rtol=0))
                report.line(name, ok1 and ok2 and ok3, f"out {d1}, trajectory {d2}, grid {'ok' if ok3 else 'differs'}")
            else:
                report.line(name, False, f"unknown case kind {kind!r}")
        except Exception as exc:  # noqa: BLE001
            report.line(name, False, f"{type(exc).__name__}: {str(exc).splitlines()[0]}")


def run_lrc_cases(fixture_dir: Path, report: Report, vocab_path: Path | None) -> None:
    from engine.backends.diffrhythm import tokens as tk

    path = fixture_dir / "lrc_tokens.json"
    if not path.exists():
        report.line("lrc_tokens.json", None, "not in this fixture set")
        return
    data = json.loads(path.read_text())
    vocab_file = vocab_path or fixture_dir / "g2p_vocab.json"
    if not vocab_file.exists():
        report.line("lrc tokens", None, f"no vocabulary ({vocab_file}); pass --vocab")
        return
    vocab = tk.Vocab.load(vocab_file)
    try:
        tk.espeak_phonemes("test")
        espeak_ok, why = True, ""
    except tk.TokenizerError as exc:
        espeak_ok, why = False, str(exc)
    rows = [r for r in data["parse_and_tokenize_per_raw_line"] if r.get("parsed")]
    total = matched = 0
    for i, r in enumerate(rows):
        lyric = r["parsed"]["lyric"]
        ref_syms = r["phonemes"].rstrip("|").split("|") if r.get("phonemes") else []
        ours = tk.phoneme_string(lyric, "g2p_en").rstrip("|").split("|")
        sm = difflib.SequenceMatcher(a=ref_syms, b=ours, autojunk=False)
        total += len(ref_syms)
        matched += sum(b.size for b in sm.get_matching_blocks())
        if not espeak_ok:
            continue
        got = tk.encode(lyric, vocab, "espeak")
        placed = [tk.COMMA if x == tk.PERIOD else x for x in got] + [tk.PERIOD]
        frame = tk.frame_of(r["parsed"]["time_sec"])
        ok = got == r["tokens"] and placed == r["placed_tokens"] and frame == r["gt_frame_start"]
        detail = f"{len(got)} tokens, frame {frame}" if ok else f"ours {got[:12]}... ref {r['tokens'][:12]}..."
        report.line(f"lrc line {i + 1:02d} (espeak)", ok, detail)
    if not espeak_ok:
        report.line("lrc tokens (espeak mode)", None, why)
    else:
        lines = [(r["parsed"]["time_sec"], r["parsed"]["lyric"]) for r in rows]
        for key in ("get_lrc_token_base", "get_lrc_token_full"):
            case = data.get(key)
            if not case:
                continue
            max_frames, secs = int(case["max_frames"]), float(case["audio_length"])
            res = tk.lyrics_tokens(lines, vocab, max_frames=max_frames, duration_s=secs, mode="espeak",
                                   drop_last_for_base=True)
            import numpy as np

            dur16 = float(np.float16(res.song_duration))
            ok = res.tokens == case["lrc"] and res.end_frame == case["end_frame"] and \
                dur16 == case["normalized_duration"]["value"]
            nz = sum(1 for x in res.tokens if x)
            report.line(f"{key} (espeak)", ok, f"end_frame {res.end_frame}, {nz} token frames, "
                        f"song_duration {dur16}")
    # The reference's crashes: SongBridge must handle these inputs.
    blank = data.get("blank_timestamped_line_case")
    if blank:
        from engine.lyrics import lines_from_lrc, parse

        try:
            lines = [(ln.start_s, ln.text) for ln in lines_from_lrc(parse(blank["lrc"])) if ln.start_s is not None]
            sung = sum(1 for _, text in lines if text.strip())  # what the case itself holds, not a fixed count
            breaks = len(lines) - sung
            last = max((t for t, _ in lines), default=0.0)
            res = tk.lyrics_tokens(lines, vocab, max_frames=6144, duration_s=max(30.0, last + 10.0), mode="g2p_en")
            report.line("blank stamped line (ref. crashes)", len(res.line_frames) == sung and breaks >= 1,
                        f"{len(res.line_frames)} of {sung} sung lines placed, {breaks} blank line(s) kept as breaks")
        except Exception as exc:  # noqa: BLE001
            report.line("blank stamped line (ref. crashes)", False, str(exc))
    for text in (data.get("non_alphabetic_only_text") or {}):
        try:
            toks = tk.encode(text, vocab, "g2p_en")
            report.line(f"text {text!r} (ref. crashes)", True, f"{len(toks)} tokens")
        except Exception as exc:  # noqa: BLE001
            report.line(f"text {text!r} (ref. crashes)", False, str(exc))
    if total:
        print(f"INFO  g2p_en phoneme agreement with the reference's espeak phonemes: {matched / total:.1%} "
              f"({matched}/{total} symbols over {len(rows)} lines)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine.backends.diffrhythm.parity", description=__doc__.split("\n\n")[0])
    ap.add_argument("fixture_dir", type=Path)
    ap.add_argument("--vocab", type=Path, help="vocab.json (default: FIXTURE_DIR/g2p_vocab.json)")
    args = ap.parse_args(argv)
    if not (args.fixture_dir / "fixtures.json").exists():
        print(f"parity: {args.fixture_dir / 'fixtures.json'}: not found", file=sys.stderr)
        return 2
    report = Report()
    run_model_cases(args.fixture_dir, report)
    run_lrc_cases(args.fixture_dir, report, args.vocab)
    print(f"{report.passed} passed, {report.failed} failed, {report.skipped} skipped")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
