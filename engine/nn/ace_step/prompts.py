"""The prompt strings ACE-Step 1.5 feeds its text encoder (README of the fixture set, section 1; reference
acestep/constants.py, core/generation/handler/prompt_utils.py, metadata_utils.py, conditioning_text.py).

``<|endoftext|>`` is written into the strings themselves; the tokenizer adds nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ENDOFTEXT = "<|endoftext|>"

#: task -> instruction (TASK_INSTRUCTIONS of the reference; extract/lego/complete are not covered here)
TASK_INSTRUCTIONS = {
    "text2music": "Fill the audio semantic mask based on the given conditions:",
    "repaint": "Repaint the mask area based on the given conditions:",
    "cover": "Generate audio semantic tokens based on the given conditions:",
}

SFT_GEN_PROMPT = "# Instruction\n{}\n\n# Caption\n{}\n\n# Metas\n{}" + ENDOFTEXT + "\n"
LYRIC_PROMPT = "# Languages\n{}\n\n# Lyric\n{}" + ENDOFTEXT


def format_instruction(instruction: str) -> str:
    """The reference's ``_format_instruction``: a ':' appended when missing."""
    return instruction if instruction.endswith(":") else instruction + ":"


def instruction_for(task: str) -> str:
    try:
        return format_instruction(TASK_INSTRUCTIONS[task])
    except KeyError:
        raise ValueError(f"unknown ACE-Step task {task!r}; known: {', '.join(TASK_INSTRUCTIONS)}") from None


def is_cover_instruction(instruction: str) -> bool:
    """The reference marks an item as cover when its instruction asks for semantic tokens from the conditions."""
    low = instruction.lower()
    return "generate audio semantic tokens" in low and "based on the given conditions" in low


def metas_string(metas: Mapping[str, Any] | None) -> str:
    """``_dict_to_meta_string``: bpm, time signature, key and duration, ``N/A`` when missing, 30 s by default;
    values printed with str() as given."""
    m = dict(metas or {})

    def value(key: str) -> str:
        v = m.get(key)
        return "N/A" if v is None or v == "" else str(v)

    duration = m.get("duration")
    seconds = 30 if duration is None or duration == "" else int(float(duration))
    return (f"- bpm: {value('bpm')}\n- timesignature: {value('timesignature')}\n- keyscale: {value('keyscale')}\n"
            f"- duration: {seconds} seconds\n")


def text_prompt(instruction: str, caption: str, metas: Mapping[str, Any] | str | None) -> str:
    """``SFT_GEN_PROMPT.format(instruction, caption, metas)``; ``metas`` a dict or an already formatted block."""
    block = metas if isinstance(metas, str) else metas_string(metas)
    return SFT_GEN_PROMPT.format(format_instruction(instruction), caption, block)


def lyric_prompt(language: str, lyrics: str) -> str:
    return LYRIC_PROMPT.format(language, lyrics)
