"""Lyrics -> DiffRhythm tokens and their placement on latent frames (docs/reference/diffrhythm-spec.md §6).

The vocabulary (363 phoneme symbols; token = vocab id + 1; 0 = filler; comma = 1, period = 2) is read from the
model folder's ``vocab.json``. Two G2P modes give the phoneme symbols:

- ``espeak``: the reference's exact pipeline (abbreviations, numbers, the TextTokenizer text pass, phonemizer with
  espeak-ng en-us, punctuation wrapping, the special merges). Needs ``phonemizer`` and espeak-ng.
- ``g2p_en`` (default, pure Python): CMU dictionary / g2p_en ARPAbet mapped to the same symbols with the merges
  espeak makes (r-coloured vowels, flaps, syllabic l, tr/dr/ts/dz). Unlike the reference, hyphenated words stay
  words and contractions are read as words ("can't" is not "can ' tee").

Placement follows §6.2 (each line's tokens + a period at ``max(frame(t), end of previous line)``), without the
reference's failures: blank stamped lines are breaks, digit-only lines are read as numbers, nothing crashes.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from engine.errors import SongBridgeError
from engine.lyrics.timing import frame_of

from .textnorm import PUNCTUATION, clean_for_espeak, expand_abbreviations, normalize_numbers

COMMA, PERIOD = 1, 2
MODES = ("g2p_en", "espeak")
_SPECIAL_MAP = (
    ("t|ɹ", "tɹ"), ("d|ɹ", "dɹ"), ("t|s", "ts"), ("d|z", "dz"), ("ɪ|ɹ", "ɪɹ"), ("ɐ", "ɚ"), ("ᵻ", "ɪ"),
    ("əl", "l"), ("x", "k"), ("ɬ", "l"), ("ʔ", "t"), ("n̩", "n"), ("oː|ɹ", "oːɹ"),
)
_APPEND_SEP_AFTER = "p⁼ʰmftnlkxʃs`ɹaoəɛɪeɑʊŋiuɥwæjː"


class TokenizerError(SongBridgeError):
    """Lyrics cannot be tokenised (missing vocabulary, espeak unavailable, unsupported script)."""


@dataclass(frozen=True)
class Vocab:
    ids: dict[str, int]  # symbol -> vocab id (token = id + 1)
    source: str

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise TokenizerError(f"{p}: not found; copy vocab.json from the DiffRhythm repository "
                                 "(g2p/g2p/vocab.json) into the model folder") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise TokenizerError(f"{p}: not a readable vocabulary: {exc}") from None
        table = data.get("vocab") if isinstance(data, dict) else None
        if not isinstance(table, dict) or not all(isinstance(v, int) for v in table.values()):
            raise TokenizerError(f'{p}: expected {{"vocab": {{symbol: id}}}}')
        return cls(dict(table), str(p))

    def __len__(self) -> int:
        return len(self.ids)

    def tokens(self, phonemes: str) -> list[int]:
        """Token ids (vocab id + 1) of a ``|``-separated phoneme string; unknown symbols are dropped."""
        return [self.ids[s] + 1 for s in phonemes.split("|") if s in self.ids]


def special_map(phonemes: str) -> str:
    for pattern, repl in _SPECIAL_MAP:
        rx = re.compile(r"(^|[_|])" + re.escape(pattern) + r"([_|]|$)")
        while rx.search(phonemes):
            phonemes = rx.sub(lambda m, r=repl: m.group(1) + r + m.group(2), phonemes)
    return phonemes


def segments(text: str) -> list[tuple[str, str]]:
    """The reference's language segmentation: zh (U+4E00..U+9FA5), en (ASCII letters), other."""
    out: list[tuple[str, str]] = []
    buf, lang = "", ""
    for ch in text:
        kind = "zh" if "\u4e00" <= ch <= "\u9fa5" else "en" if ("a" <= ch <= "z" or "A" <= ch <= "Z") else "other"
        if not buf:
            buf, lang = ch, kind
        elif lang == "other" or kind == lang or kind == "other":
            buf += ch
            if lang == "other" and kind != "other":
                lang = kind
        else:
            out.append((buf, lang))
            buf, lang = ch, kind
    if buf:
        out.append((buf, lang))
    return out


# -- espeak mode ---------------------------------------------------------------------------------------------
_espeak_lock = threading.Lock()


@lru_cache(maxsize=1)
def _espeak_backend():  # type: ignore[no-untyped-def]
    try:
        from phonemizer.backend import EspeakBackend
        from phonemizer.separator import Separator
    except ImportError:
        raise TokenizerError("the espeak G2P mode needs phonemizer: pip install 'songbridge[espeak]' "
                             "(and apt-get install espeak-ng)") from None
    try:
        backend = EspeakBackend("en-us", punctuation_marks=PUNCTUATION, preserve_punctuation=True,
                                with_stress=False, tie=False, language_switch="remove-flags",
                                words_mismatch="ignore")
    except RuntimeError as exc:
        raise TokenizerError(f"espeak-ng is not usable ({exc}); apt-get install espeak-ng") from None
    return backend, Separator(word="|_|", syllable="-", phone="|")


def espeak_phonemes(text: str) -> str:
    """One English segment -> the reference's phoneme string (before the trailing-separator rule)."""
    backend, sep = _espeak_backend()
    cleaned = clean_for_espeak(normalize_numbers(expand_abbreviations(text)))
    if not cleaned:
        return ""
    with _espeak_lock:
        out = backend.phonemize([cleaned], separator=sep, strip=True, njobs=1)[0]
    out = re.sub(r"([,.?!;:'…])", r"|\1|", out)
    out = re.sub(r"\|+", "|", out).rstrip("|")
    if out and out[-1] in _APPEND_SEP_AFTER:
        out += "|_"
    return special_map(out)


# -- g2p_en mode ---------------------------------------------------------------------------------------------
_VOWEL = {
    "AA": "ɑː", "AE": "æ", "AO": "ɔː", "AW": "aʊ", "AY": "aɪ", "EH": "ɛ", "EY": "eɪ", "IH": "ɪ", "IY": "iː",
    "OW": "oʊ", "OY": "ɔɪ", "UH": "ʊ", "UW": "uː",
}
_R_COLOURED = {"AA": "ɑːɹ", "AO": "ɔːɹ", "EH": "ɛɹ", "IH": "ɪɹ", "IY": "ɪɹ", "UH": "ʊɹ", "UW": "ʊɹ"}
_CONSONANT = {
    "B": "b", "CH": "tʃ", "D": "d", "DH": "ð", "F": "f", "G": "ɡ", "HH": "h", "JH": "dʒ", "K": "k", "L": "l",
    "M": "m", "N": "n", "NG": "ŋ", "P": "p", "R": "ɹ", "S": "s", "SH": "ʃ", "T": "t", "TH": "θ", "V": "v",
    "W": "w", "Y": "j", "Z": "z", "ZH": "ʒ",
}
_WORD_RE = re.compile(r"[a-z]+(?:'[a-z]+)*|[,.?!;:…]")


def _is_vowel(p: str) -> bool:
    return p[-1].isdigit()


def arpabet_to_ipa(phones: Sequence[str]) -> list[str]:
    """One word's ARPAbet -> the vocabulary's IPA symbols, with espeak's en-us habits."""
    out: list[str] = []
    i = 0
    n = len(phones)
    while i < n:
        p = phones[i]
        base, stress = (p[:-1], p[-1]) if _is_vowel(p) else (p, "")
        nxt = phones[i + 1] if i + 1 < n else ""
        if stress:
            if base == "ER":
                out.append("ɚ" if stress == "0" else "ɜː")
            elif base in _R_COLOURED and nxt == "R" and (i + 2 >= n or not _is_vowel(phones[i + 2])):
                out.append(_R_COLOURED[base])
                i += 1  # the R is part of the vowel
            elif base == "AH":
                if stress == "0" and nxt == "L" and i > 0 and not _is_vowel(phones[i - 1]) and \
                        (i + 2 >= n or not _is_vowel(phones[i + 2])):
                    pass  # syllabic l: "decimal" -> ...m|l
                elif stress == "0" and i == n - 2 and nxt in ("Z", "S") and i > 0 and \
                        phones[i - 1] in ("S", "Z", "SH", "ZH", "CH", "JH"):
                    out.append("ɪ")  # plural/verb -es after a sibilant: "spaces", "watches"
                else:
                    out.append("ə" if stress == "0" else "ʌ")
            elif base == "IY" and stress == "0":
                out.append("i" if i == n - 1 else "ɪ")  # espeak: "happy" -> i, "everywhere" -> ɪ
            elif base == "AY" and nxt == "AH0":
                out.append("aɪə")  # "quiet", "Brien": one symbol in espeak
                i += 1
            else:
                out.append(_VOWEL.get(base, "ə"))
        elif base in ("T", "D") and 0 < i < n - 1 and _is_vowel(nxt) and nxt[-1] == "0" and (
                phones[i - 1][-1] in "12" or (phones[i - 1] == "R" and i > 1 and phones[i - 2][-1] in "12")):
            out.append("ɾ")  # a flap between a stressed and an unstressed vowel: "city", "forty"
        else:
            out.append(_CONSONANT.get(base, base.lower()))
        i += 1
    # The merges espeak/the reference make inside a word.
    merged: list[str] = []
    for s in out:
        if merged and (merged[-1], s) in {("t", "ɹ"), ("d", "ɹ"), ("t", "s"), ("d", "z")}:
            merged[-1] = merged[-1] + s
        else:
            merged.append(s)
    return merged


def g2p_en_phonemes(text: str) -> str:
    """English text -> a phoneme string in the reference's format, from the CMU dictionary / g2p_en."""
    from engine.lyrics.g2p import default_g2p

    g2p = default_g2p()
    text = normalize_numbers(expand_abbreviations(text))
    text = text.replace("...", "…").replace("’", "'").replace("‘", "'").replace("-", " ")
    import unicodedata

    text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn").lower()
    items = _WORD_RE.findall(text)
    parts: list[str] = []
    prev_word = False
    for item in items:
        if item[0].isalpha():
            ipa = arpabet_to_ipa(g2p.word(item.strip("'")))
            if not ipa:
                continue
            if prev_word:
                parts.append("_")
            parts.extend(ipa)
            prev_word = True
        else:
            parts.append(item)
            prev_word = False
    out = "|".join(parts)
    if out and out[-1] in _APPEND_SEP_AFTER:
        out += "|_"
    return out


# -- encoding and placement ------------------------------------------------------------------------------------
def phoneme_string(text: str, mode: str = "g2p_en") -> str:
    """The whole line's phoneme string as ``chn_eng_g2p`` builds it (segments joined, final separator removed)."""
    if mode not in MODES:
        raise TokenizerError(f"G2P mode must be one of {', '.join(MODES)}, got {mode!r}")
    segs = segments(text)
    if segs and all(lang != "en" for _, lang in segs) and any(c.isdigit() for c in text):
        segs = segments(normalize_numbers(text))  # digit-only lines are read as numbers (the reference crashes)
    acc = ""
    last = ""
    for seg, lang in segs:
        if lang == "zh":
            raise TokenizerError(f"Chinese lyrics are not supported yet: {seg!r}")
        if lang != "en":
            continue  # punctuation or digits only: nothing to sing (the reference crashes here)
        ph = espeak_phonemes(seg) if mode == "espeak" else g2p_en_phonemes(seg)
        acc += ph + "|"
        last = lang
    if last == "en" and acc.endswith("_|"):
        acc = acc[:-2]
    return acc


def encode(text: str, vocab: Vocab, mode: str = "g2p_en") -> list[int]:
    """Tokens of one lyric line (ids + 1), without the end-of-line period that placement adds."""
    phonemes = phoneme_string(text, mode)
    return vocab.tokens(phonemes.rstrip("|"))


@dataclass(frozen=True)
class PlacedLyrics:
    tokens: list[int]  # one per latent frame, 0 = filler
    end_frame: int
    song_duration: float  # end_frame / max_frames
    line_frames: list[tuple[float, int, int]]  # (time s, first frame, token count) per placed line


def end_frame_for(max_frames: int, duration_s: float) -> int:
    """Frames generated: 2048 for the 95 s model; int(duration * 21.533) capped for the full model."""
    end = max_frames if max_frames == 2048 else int(duration_s * 44100 / 2048)
    return min(end, max_frames)


def place(lines: Sequence[tuple[float, list[int]]], end_frame: int) -> tuple[list[int], list[tuple[float, int, int]]]:
    """Write each line's tokens (inner periods -> commas, plus a final period) from its frame, pushed right past
    the previous line; cut at ``end_frame``."""
    lrc = [0] * end_frame
    last_end = 0
    placed = []
    for t, toks in lines:
        seq = [COMMA if x == PERIOD else x for x in toks] + [PERIOD]
        start = max(frame_of(t), last_end)
        n = min(len(seq), end_frame - start)
        if n <= 0:
            continue
        lrc[start:start + n] = seq[:n]
        last_end = start + n
        placed.append((t, start, n))
    return lrc, placed


def lyrics_tokens(lines: Sequence[tuple[float, str]], vocab: Vocab, *, max_frames: int, duration_s: float,
                  mode: str = "g2p_en", drop_last_for_base: bool = False,
                  end_frame: int | None = None) -> PlacedLyrics:
    """Timed lines (seconds, text) -> frame tokens. ``drop_last_for_base`` reproduces the reference's rule of
    dropping the last line for the 95 s model (its stamp marks the end in training); SongBridge keeps it.
    ``end_frame`` overrides the reference's ``int(duration * 21.533)`` (the backend rounds up to cover the song)."""
    kept = [(t, text) for t, text in lines if t < duration_s and text.strip()]
    if max_frames == 2048 and drop_last_for_base and kept:
        kept = kept[:-1]
    end = end_frame if end_frame is not None else end_frame_for(max_frames, duration_s)
    encoded = [(t, encode(text, vocab, mode)) for t, text in kept]
    lrc, placed = place(encoded, end)
    return PlacedLyrics(lrc, end, end / max_frames, placed)
