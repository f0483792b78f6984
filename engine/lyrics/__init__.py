"""Lyrics: LRC parse/format, offline G2P, auto-timing and the timing lint."""

from .autotime import auto_time
from .convert import lines_from_lrc, lrc_from_lines
from .lint import LintIssue, LintSettings, estimate_tokens, lint_lines
from .lrc import LrcDocument, LrcLine, LrcWord, format, parse, parse_file

__all__ = [
    "LintIssue", "LintSettings", "LrcDocument", "LrcLine", "LrcWord", "auto_time", "estimate_tokens", "format",
    "lines_from_lrc", "lint_lines", "lrc_from_lines", "parse", "parse_file",
]
