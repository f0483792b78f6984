"""``songbridge lyrics lint|format``."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from engine.errors import SongBridgeError
from engine.lyrics import LintSettings, auto_time, lines_from_lrc, lint_lines, lrc_from_lines, parse_file
from engine.lyrics import format as format_lrc
from engine.lyrics.lrc import format_time
from engine.song import TempoMap
from engine.song.document import write_atomic
from engine.song.sections import parse_sections


def lint(args: argparse.Namespace) -> int:
    doc = parse_file(args.file)
    for w in doc.warnings:
        print(f"warning: {w}", file=sys.stderr)
    lines = lines_from_lrc(doc)
    source = {f"l{i:03d}": ln.source_line for i, ln in enumerate(doc.lines, 1)}
    by_id = {ln.id: ln for ln in lines}
    settings = LintSettings(
        sparse_min_span_s=args.sparse_span,
        sparse_syllables_per_s=args.sparse_rate,
        max_duration_s=95.0 if args.model == "base" else 285.0,
    )
    if not any(ln.timed for ln in lines):
        raise SongBridgeError(f"{args.file}: no timed lines to lint; time them first "
                              "(songbridge lyrics format --auto-time)")
    issues = lint_lines(lines, song_end_s=args.end, settings=settings)
    shown = [i for i in issues if args.all or i.severity != "info"]
    if args.json:
        print(json.dumps([{**asdict(i), "source_line": source[i.line_id]} for i in shown], indent=2))
    else:
        for i in shown:
            ln = by_id[i.line_id]
            stamp = format_time(round((ln.start_s or 0) * 1000))
            print(f"{args.file}:{source[i.line_id]}: [{stamp}] {i.kind}: {i.message}  | {ln.text[:40]}")
        warnings = sum(1 for i in issues if i.severity == "warning")
        timed = sum(1 for ln in lines if ln.timed and ln.text.strip())
        print(f"{timed} timed lines, {warnings} warnings, {len(issues) - warnings} info", file=sys.stderr)
    return 1 if any(i.severity == "warning" for i in issues) else 0


def format_(args: argparse.Namespace) -> int:
    doc = parse_file(args.file)
    for w in doc.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if args.auto_time:
        try:
            tempo = TempoMap.constant(args.bpm or 120.0, args.meter)
            sections = parse_sections(args.sections, tempo) if args.sections else ()
        except ValueError as exc:
            raise SongBridgeError(str(exc)) from None
        lines = auto_time(lines_from_lrc(doc, sections), tempo, sections, bars_per_line=args.bars_per_line)
        doc = lrc_from_lines(lines, sections, doc.meta)
    elif args.bpm is not None or args.sections:
        raise SongBridgeError("--bpm and --sections only apply with --auto-time")
    text = format_lrc(doc)
    if args.output:
        write_atomic(Path(args.output), text)
    else:
        sys.stdout.write(text)
    return 0
