"""English text normalisation as the DiffRhythm reference does it before G2P (docs/reference/diffrhythm-spec.md §6.3, steps 1-2): whole-word
abbreviations, then numbers, currency, fractions, percentages and ordinals to words (years read in pairs)."""

from __future__ import annotations

import re
from functools import lru_cache

ABBREVIATIONS = (
    ("mrs", "misess"), ("mr", "mister"), ("dr", "doctor"), ("st", "saint"), ("co", "company"), ("jr", "junior"),
    ("maj", "major"), ("gen", "general"), ("drs", "doctors"), ("rev", "reverend"), ("lt", "lieutenant"),
    ("hon", "honorable"), ("sgt", "sergeant"), ("capt", "captain"), ("esq", "esquire"), ("ltd", "limited"),
    ("col", "colonel"), ("ft", "fort"), ("etc", "et cetera"), ("btw", "by the way"),
)
_ABBREV_RE = [(re.compile(rf"\b{a}\b", re.IGNORECASE), b) for a, b in ABBREVIATIONS]
_COMMA_NUMBER = re.compile(r"([0-9][0-9,]+[0-9])")
_DECIMAL = re.compile(r"([0-9]+\.[0-9]+)")
_PERCENT = re.compile(r"([0-9.,]*[0-9]+%)")
_POUNDS = re.compile(r"£([0-9,]*[0-9]+)")
_DOLLARS = re.compile(r"\$([0-9.,]*[0-9]+)")
_FRACTION = re.compile(r"([0-9]+)/([0-9]+)")
_ORDINAL = re.compile(r"[0-9]+(st|nd|rd|th)")
_NUMBER = re.compile(r"[0-9]+")


@lru_cache(maxsize=1)
def _inflect():  # type: ignore[no-untyped-def]
    import inflect  # seconds to import; only lines with digits need it

    return inflect.engine()


def expand_abbreviations(text: str) -> str:
    for rx, word in _ABBREV_RE:
        text = rx.sub(word, text)
    return text


def _dollars(m: re.Match[str]) -> str:
    parts = m.group(1).split(".")
    if len(parts) > 2:
        return f" {m.group(1)} dollars "
    dollars = int(parts[0].replace(",", "")) if parts[0] else 0
    cents = int(parts[1]) if len(parts) > 1 and parts[1] else 0
    du, cu = ("dollar" if dollars == 1 else "dollars"), ("cent" if cents == 1 else "cents")
    if dollars and cents:
        return f" {dollars} {du}, {cents} {cu} "
    if dollars:
        return f" {dollars} {du} "
    if cents:
        return f" {cents} {cu} "
    return " zero dollars "


def _fraction(m: re.Match[str]) -> str:
    p = _inflect()
    num, den = int(m.group(1)), int(m.group(2))
    if num == 1 and den == 2:
        return " one half "
    if num == 1 and den == 4:
        return " one quarter "
    if den == 2:
        return f" {p.number_to_words(num)} halves "
    if den == 4:
        return f" {p.number_to_words(num)} quarters "
    return f" {p.number_to_words(num)} {p.ordinal(p.number_to_words(den))} "


def _number(m: re.Match[str]) -> str:
    p = _inflect()
    num = int(m.group(0))
    if 1000 < num < 3000:
        if num == 2000:
            return " two thousand "
        if 2000 < num < 2010:
            return f" two thousand {p.number_to_words(num % 100)} "
        if num % 100 == 0:
            return f" {p.number_to_words(num // 100)} hundred "
        return " " + p.number_to_words(num, andword="", zero="oh", group=2).replace(", ", " ") + " "
    return " " + p.number_to_words(num, andword="") + " "


def normalize_numbers(text: str) -> str:
    if not any(c.isdigit() for c in text):
        return text
    text = _COMMA_NUMBER.sub(lambda m: m.group(1).replace(",", ""), text)
    text = _POUNDS.sub(r"\1 pounds", text)
    text = _DOLLARS.sub(_dollars, text)
    text = _FRACTION.sub(_fraction, text)
    text = _DECIMAL.sub(lambda m: m.group(1).replace(".", " point "), text)
    text = _PERCENT.sub(lambda m: m.group(1).replace("%", " percent "), text)
    text = _ORDINAL.sub(lambda m: " " + _inflect().number_to_words(m.group(0)) + " ", text)
    return _NUMBER.sub(_number, text)


PUNCTUATION = ",.?!;:'…"


def clean_for_espeak(text: str) -> str:
    """The reference TextTokenizer's text pass: map CJK punctuation, unify ellipses, delete every character outside
    [word, space, , . ? ! ; : ' …], glue punctuation to its neighbours and collapse spaces."""
    for a, b in (("，", ","), ("。", "."), ("！", "!"), ("？", "?"), ("；", ";"), ("：", ":"), ("、", ","),
                 ("‘", "'"), ("’", "'"), ("⋯", "…"), ("···", "…"), ("・・・", "…"), ("...", "…")):
        text = text.replace(a, b)
    text = re.sub(r"[^\w\s_,.?!;:'…]", "", text.strip())
    text = re.sub(r"\s*([,.?!;:'…])\s*", r"\1", text)
    return re.sub(r"\s+", " ", text)
