"""Parity with the reference ACE-Step 1.5 (github.com/ace-step/ACE-Step-1.5) on a golden set.

``songbridge models parity ace-step FIXTURE_DIR`` loads the tiny models of ``FIXTURE_DIR/models`` (the official
download layout) through ``engine.nn.ace_step`` and runs EVERY case of ``fixtures.json`` through them and the
samplers of ``engine.sampling.ace_step``: prompts and tokenizer, the Qwen3 text encoder, the condition encoder,
the context, the DiT, the turbo noise and sampler (shift tables, custom timesteps), the base sampler with APG and
its cfg interval, repaint, extend, cover and the VAE. Seeds, shifts, steps, windows, strengths, strings and the
tolerance of every tensor come from the fixture set (nothing about the tiny models is written here). A case this
version has no runner for is a FAIL line. One PASS/FAIL line a case with the largest difference, then
``N passed, N failed``.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from pathlib import Path
from typing import Any

from engine.errors import SongBridgeError
from engine.parity import Report, main_for, run_case


class Check:
    """Compares computed tensors with the goldens at the case's own tolerances (``atol``; exact for ints, bools
    and outputs marked exact)."""

    def __init__(self, tensors: dict[str, Any], outputs: dict[str, Any]):
        self.tensors, self.outputs = tensors, outputs
        self.problems: list[str] = []
        self.worst: tuple[float, str] = (0.0, "")
        self.seen: set[str] = set()

    def __call__(self, key: str, ours: Any) -> None:
        import torch

        if key not in self.tensors:
            self.problems.append(f"{key}: not in the set")
            return
        self.seen.add(key)
        ref = self.tensors[key]
        got = ours.detach().cpu() if isinstance(ours, torch.Tensor) else torch.as_tensor(ours)
        if tuple(got.shape) != tuple(ref.shape):
            self.problems.append(f"{key}: shape {tuple(got.shape)} != {tuple(ref.shape)}")
            return
        spec = self.outputs.get(key, {})
        if spec.get("exact") or not ref.is_floating_point():
            if not torch.equal(got.to(ref.dtype), ref):
                n = int((got.to(ref.dtype) != ref).sum())
                self.problems.append(f"{key}: {n} of {ref.numel()} values differ")
            return
        diff = float((got.double() - ref.double()).abs().max()) if ref.numel() else 0.0
        if diff != diff:
            diff = float("inf")
        atol = float(spec.get("atol", 1e-6))
        if diff >= self.worst[0]:
            self.worst = (diff, key)
        if diff > atol:
            self.problems.append(f"{key}: max diff {diff:.2e} > atol {atol:g}")

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def result(self) -> tuple[bool, str]:
        missing = [k for k in self.outputs if k not in self.seen]
        problems = self.problems + [f"{k}: not computed" for k in missing]
        if problems:
            more = f" (+{len(problems) - 3})" if len(problems) > 3 else ""
            return False, "; ".join(problems[:3]) + more
        if not self.seen:
            return False, "nothing compared"
        diff, key = self.worst
        if not key:
            return True, f"{len(self.seen)} tensors, all exact"
        return True, f"{len(self.seen)} tensors, max diff {diff:.2e} ({key})"


class Inputs:
    """A case's named inputs: a tensor of the set (``name``, ``name[:k]``), a JSON literal, or None when the
    value is a description the runner computes itself."""

    def __init__(self, tensors: dict[str, Any]):
        self.tensors = tensors

    def get(self, case: dict[str, Any], name: str) -> Any:
        import torch

        value = case.get("inputs", {}).get(name)
        if not isinstance(value, str):
            return value
        if value in self.tensors:
            return self.tensors[value]
        m = re.fullmatch(r"\s*([\w.]+)\[:(\d+)\]\s*", value)
        if m and m.group(1) in self.tensors:
            return self.tensors[m.group(1)][:int(m.group(2))]
        try:
            literal = json.loads(value)
        except json.JSONDecodeError:
            return None
        return torch.tensor(literal) if isinstance(literal, list) else literal


def _arg(case: dict[str, Any], prefix: str, default: Any = None) -> Any:
    """The argument named ``prefix``, or whose name starts with it (names carry notes: ``"seed (noise)"``)."""
    args = case.get("args", {})
    if prefix in args:
        return args[prefix]
    for key, value in args.items():
        if key.startswith(prefix + " ") or key.startswith(prefix + "("):
            return value
    return default


def _spans(spans: Any) -> list[list[Any]]:
    return [[s[0], int(s[1]), int(s[2])] for s in spans]


def read_set(path: Path) -> dict[str, Any]:
    """``fixtures.json``: an object whose ``cases`` is a non-empty list of objects with a ``name``."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise SongBridgeError(f"{path}: line {e.lineno}: not valid JSON ({e.msg})") from None
    cases = meta.get("cases") if isinstance(meta, dict) else None
    if not isinstance(cases, list) or not cases:
        raise SongBridgeError(f"{path}: field 'cases' must be a non-empty list of cases")
    for i, case in enumerate(cases):
        if not isinstance(case, dict) or not isinstance(case.get("name"), str):
            raise SongBridgeError(f"{path}: cases[{i}]: a case is an object with a 'name'")
        for field in ("inputs", "args", "outputs"):
            if not isinstance(case.get(field, {}), dict):
                raise SongBridgeError(f"{path}: cases[{i}] ({case['name']}): field '{field}' must be an object")
    return meta


def run(fixture_dir: Path, report: Report) -> None:
    import torch
    from safetensors.torch import load_file

    from .parity_cases import Context, runner_for

    torch.set_num_threads(1)  # one thread rounds like the goldens' noise study (the VAE moves by 5e-7 otherwise)
    meta = read_set(fixture_dir / "fixtures.json")
    path = fixture_dir / "tensors.safetensors"
    if not path.is_file():
        raise SongBridgeError(f"{path}: the golden tensors of the set are missing")
    try:
        tensors = load_file(str(path))
    except Exception as e:  # noqa: BLE001 - safetensors raises its own error types
        raise SongBridgeError(f"{path}: not a safetensors file ({e})") from None
    ctx = Context(fixture_dir / "models", meta, tensors, Inputs(tensors), report)
    for case in meta["cases"]:
        name = case["name"]
        fn = runner_for(name)
        check = Check(tensors, case.get("outputs", {}))
        if fn is None:
            report.line(name, False, "this version has no runner for this case")
            continue
        run_case(report, name, functools.partial(_call, fn, ctx, case), check)


def _call(fn: Any, ctx: Any, case: dict[str, Any], check: Check) -> None:
    fn(ctx, case, check)


def main(argv: list[str] | None = None) -> int:
    return main_for("ace-step", __doc__, run, argv)


if __name__ == "__main__":
    sys.exit(main())
