"""Tokenizing ACE-Step prompts with the Qwen3-Embedding tokenizer (``tokenizer.json`` through the ``tokenizers``
library): each prompt alone, cut to ``max_length`` tokens (256 for the caption prompt, 2048 for lyrics), then the
batch RIGHT-padded with the pad id and mask 0 (the reference's ``_pad_sequences``)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
from tokenizers import Tokenizer
from torch import Tensor

from .config import AceStepConfigError, load_json

TEXT_MAX_LENGTH = 256
LYRIC_MAX_LENGTH = 2048


class TextTokenizer:
    """``tokenizer.json`` + ``tokenizer_config.json`` of a Qwen3 folder."""

    def __init__(self, folder: str | os.PathLike[str]):
        folder = Path(folder)
        path = folder / "tokenizer.json"
        if not path.is_file():
            raise AceStepConfigError(f"{path}: the tokenizer file is missing")
        try:
            self._tok = Tokenizer.from_file(str(path))
        except Exception as e:  # noqa: BLE001 - the Rust side raises a plain Exception
            raise AceStepConfigError(f"{path}: not a tokenizers file ({e})") from None
        self._tok.no_padding()
        self._tok.no_truncation()
        pad = "<|endoftext|>"
        cfg_path = folder / "tokenizer_config.json"
        if cfg_path.is_file():
            try:
                text = cfg_path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as e:
                raise AceStepConfigError(f"{cfg_path}: cannot read ({e})") from None
            cfg = load_json(text, cfg_path)
            token = cfg.get("pad_token") if isinstance(cfg, dict) else None
            if isinstance(token, dict):
                token = token.get("content")
            if isinstance(token, str):
                pad = token
        pad_id = self._tok.token_to_id(pad)
        if pad_id is None:
            raise AceStepConfigError(f"{path}: the pad token {pad!r} is not in the vocabulary")
        self.pad_id: int = pad_id
        self.source = str(path)

    def encode(self, text: str, max_length: int) -> list[int]:
        """One prompt's ids as ``tokenizer(text, truncation=True, max_length=...)`` gives them."""
        self._tok.enable_truncation(max_length)
        try:
            return list(self._tok.encode(text).ids)
        finally:
            self._tok.no_truncation()

    def batch(self, texts: Sequence[str], max_length: int, length: int | None = None) -> tuple[Tensor, Tensor]:
        """ids [B, L] int64 and mask [B, L] bool (True = token, False = padding), right-padded to the longest prompt
        (or to ``length`` when larger)."""
        if not texts:
            raise ValueError("no prompts to tokenize")
        seqs = [self.encode(t, max_length) for t in texts]
        width = max(max(len(s) for s in seqs), length or 0)
        ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.int64)
        mask = torch.zeros((len(seqs), width), dtype=torch.bool)
        for i, s in enumerate(seqs):
            ids[i, :len(s)] = torch.tensor(s, dtype=torch.int64)
            mask[i, :len(s)] = True
        return ids, mask

    def text(self, prompts: Sequence[str], length: int | None = None) -> tuple[Tensor, Tensor]:
        return self.batch(prompts, TEXT_MAX_LENGTH, length)

    def lyrics(self, prompts: Sequence[str], length: int | None = None) -> tuple[Tensor, Tensor]:
        return self.batch(prompts, LYRIC_MAX_LENGTH, length)
