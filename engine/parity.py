"""What every ``songbridge models parity KIND DIR`` shares: one PASS/FAIL line a case, a case that raises is a FAIL
line (the others still run), and the final ``N passed, N failed`` with exit status 1 on a failure."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


class Report:
    def __init__(self) -> None:
        self.passed = self.failed = 0

    def line(self, name: str, ok: bool, detail: str) -> None:
        self.passed += ok
        self.failed += not ok
        print(f"{'PASS' if ok else 'FAIL'}  {name:<28} {detail}", flush=True)


def run_case(report: Report, name: str, fn: Callable[[Any], None], check: Any) -> None:
    """``fn(check)`` compares what it computes through ``check``; ``check.result()`` gives (ok, detail)."""
    try:
        fn(check)
        report.line(name, *check.result())
    except Exception as exc:  # noqa: BLE001 - one broken case is a FAIL line, the others still run
        report.line(name, False, f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}")


def main_for(kind: str, doc: str | None, run: Callable[[Path, Report], None], argv: list[str] | None,
             marker: str = "fixtures.json") -> int:
    """The command for one kind: FIXTURE_DIR, ``marker`` inside it (``*/fixtures.json`` for a set of variants),
    ``run(fixture_dir, report)``, the summary line."""
    ap = argparse.ArgumentParser(prog=f"songbridge models parity {kind}", description=(doc or "").split("\n\n")[0])
    ap.add_argument("fixture_dir", type=Path)
    args = ap.parse_args(argv)
    if not list(args.fixture_dir.glob(marker)):
        print(f"parity: {args.fixture_dir / marker}: not found", file=sys.stderr)
        return 2
    report = Report()
    run(args.fixture_dir, report)
    print(f"{report.passed} passed, {report.failed} failed")
    return 1 if report.failed else 0
