"""Timing lint: will the model be able to sing each line where it is placed?

The model reads one phoneme token per latent frame (21.533 frames/s), placed from each line's start frame
(docs/reference/diffrhythm-spec.md §6.2). A line whose tokens do not fit before the next line pushes that line late ("crowded"); a long span
with few syllables invites the model to repeat or hum ("sparse"); lines past the model's length are never sung
("too_long"); and every stamp is floored to a frame, which moves it by up to 46 ms ("quantised").

Results are structured (:class:`LintIssue`) so the CLI prints them and the GUI draws them on the lines.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from engine.song.model import LyricLine

from .timing import FRAME_RATE, frame_of, frame_time

#: Counts the model tokens of a line of text (with the end-of-line marker).
TokenCounter = Callable[[str], int]


@dataclass(frozen=True)
class LintSettings:
    """Thresholds, with the reasons for their defaults.

    - ``crowded_ratio`` (1.0): a line is crowded when its tokens need more than this share of the frames before
      the next line; above 1.0 the reference pushes the next line right, so its words arrive late.
    - ``sparse_min_span_s`` (8.0) and ``sparse_syllables_per_s`` (0.75): a line is sparse when it spans at least
      8 s and is sung slower than 0.75 syllables a second; long filler runs after a short line are where the
      model repeats words. Lines followed by a blank stamped line (an instrumental break) end at that break.
    - ``max_duration_s`` (285.0): the full model's length (6144 frames); use 95.0 for the base model.
    - ``quantise_tolerance_frames`` (0.5): stamps floored to a frame by more than this are reported (as info).
    """

    crowded_ratio: float = 1.0
    sparse_min_span_s: float = 8.0
    sparse_syllables_per_s: float = 0.75
    max_duration_s: float = 285.0
    quantise_tolerance_frames: float = 0.5


@dataclass(frozen=True)
class LintIssue:
    line_id: str
    kind: str  # crowded | sparse | too_long | quantised
    severity: str  # warning | info
    message: str
    start_s: float
    tokens: int = 0
    frames: int = 0
    syllables: int = 0


def estimate_tokens(text: str) -> int:
    """Model tokens of a line from its English phonemes: one per phoneme (diphthongs are one symbol), a word
    separator between words, one per punctuation mark, and the end-of-line marker. The neural backend's own
    tokeniser gives exact counts; this estimate is within a few tokens for English."""
    from .g2p import default_g2p

    toks = default_g2p().tokens(text)
    words = [t for t in toks if t.is_word]
    n = 0
    for t in words:
        ph = [p.rstrip("012") for p in t.phonemes]
        merged = sum(1 for a, b in zip(ph, ph[1:], strict=False) if (a, b) in {("T", "R"), ("D", "R"), ("T", "S"), ("D", "Z")})
        n += len(ph) - merged
    punct = len(toks) - len(words)
    return n + max(0, len(words) - 1) + punct + 1


def lint_lines(
    lines: Sequence[LyricLine],
    *,
    song_end_s: float | None = None,
    settings: LintSettings = LintSettings(),
    count_tokens: TokenCounter = estimate_tokens,
    count_syllables: Callable[[str], int] | None = None,
) -> list[LintIssue]:
    """Lint timed lines (untimed lines are ignored). ``song_end_s`` closes the last line's span."""
    if count_syllables is None:
        from .g2p import syllable_count as count_syllables
    timed = sorted((ln for ln in lines if ln.start_s is not None), key=lambda ln: ln.start_s or 0.0)
    max_frame = int(settings.max_duration_s * FRAME_RATE)
    issues: list[LintIssue] = []
    for i, ln in enumerate(timed):
        start = float(ln.start_s or 0.0)
        frame = frame_of(start)
        if not ln.text.strip():
            continue  # an instrumental break
        nxt = timed[i + 1].start_s if i + 1 < len(timed) else song_end_s
        tokens = count_tokens(ln.text)
        syll = count_syllables(ln.text)
        if start >= settings.max_duration_s:
            issues.append(LintIssue(ln.id, "too_long", "warning",
                                    f"starts at {start:.2f} s, past the model's {settings.max_duration_s:.0f} s: "
                                    "it will not be sung", start, tokens, 0, syll))
            continue
        if frame + tokens > max_frame:
            issues.append(LintIssue(ln.id, "too_long", "warning",
                                    f"its {tokens} tokens run past the model's {settings.max_duration_s:.0f} s; "
                                    f"the last {frame + tokens - max_frame} are cut", start, tokens,
                                    max_frame - frame, syll))
        if nxt is not None:
            frames = frame_of(nxt) - frame
            span = nxt - start
            if tokens > settings.crowded_ratio * frames:
                late = tokens - frames
                issues.append(LintIssue(
                    ln.id, "crowded", "warning",
                    f"{tokens} tokens need {tokens} frames but only {frames} frames ({span:.2f} s) come before "
                    f"the next line, which will start {late} frames ({late / FRAME_RATE * 1000:.0f} ms) late",
                    start, tokens, frames, syll))
            elif span >= settings.sparse_min_span_s and syll / span < settings.sparse_syllables_per_s:
                issues.append(LintIssue(
                    ln.id, "sparse", "warning",
                    f"{syll} syllables over {span:.1f} s ({syll / span:.2f}/s): the model may repeat words in "
                    "the gap; add lyrics, split the span with a blank stamped line, or move the next line closer",
                    start, tokens, frames, syll))
        err = (start - frame_time(frame)) * FRAME_RATE
        if err > settings.quantise_tolerance_frames:
            issues.append(LintIssue(
                ln.id, "quantised", "info",
                f"stamp {start:.3f} s lands on frame {frame} ({frame_time(frame):.3f} s), "
                f"{(start - frame_time(frame)) * 1000:.0f} ms early", start, tokens, 0, syll))
    return issues
