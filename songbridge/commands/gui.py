"""``songbridge gui [PROJECT]``: the desktop app."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from gui.app import run as run_app

    return run_app(args.project, "thread" if args.engine == "thread" else "process", args.audio, args.screenshot)
