"""What `q` searches: the search columns written with every customer, and the needles of a query.

Everything that depends on the script is done here once, when a customer is written, so that a
query only compares strings (and on PostgreSQL a trigram index answers the comparison):

- `search_text`: the name, email, phone digits and other contacts, width- and case-folded, with
  traditional characters turned simplified (OpenCC `t2s`), so that 張偉 and 张伟 are one string;
- `search_pinyin`: for a name with Chinese characters, its tone-less pinyin written out
  (`zhangwei`) and as initials (`zw`); a surname character with several readings (单 dan / shan,
  曾 ceng / zeng) adds a form for each of them. A Latin name of several words ('Zhang Wei') gets
  its spaceless form (`zhangwei`), not initials.

- `search_han`: the Chinese characters of `search_text` written as four hex digits each (张伟 →
  `5f204f1f`). PostgreSQL's trigram index needs three characters, and most Chinese names and
  queries have two or three: as codes, one character gives the index two trigrams and two give
  six, so `张伟` is found through the index instead of a scan of the table. It only narrows the
  rows: the comparison with `search_text` decides.

A query is folded the same way (the query string only, never the table), and Chinese characters
in a mixed query (`张w`) are turned into pinyin to be compared with the pinyin forms.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import opencc
from pypinyin import Style, lazy_pinyin, pinyin

SEPARATOR = "\x1f"
# pypinyin's `errors`: each character of a run of other text becomes an item of its own, so the
# items line up with the characters (its stubs name only callables returning a str; a list works).
_ONE_ITEM_EACH: Any = list
# At most this many readings of a name's first character get a pinyin form of their own.
SURNAME_READINGS = 3


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


_HAN_RANGES = "\u3400-\u9fff\uf900-\ufaff"  # CJK unified ideographs (basic, extension A), compatibility ones
_HAN = re.compile(f"[{_HAN_RANGES}]")
_HAN_RUN = re.compile(f"[{_HAN_RANGES}]+")


def is_han(ch: str) -> bool:
    """A CJK unified ideograph (basic block, extension A, compatibility ideographs)."""
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def has_han(value: str) -> bool:
    return _HAN.search(value) is not None


def fold(value: str) -> str:
    """Width, case and script folded: 'Ｚｈａｎｇ' == 'zhang', '張偉' == '张伟'."""
    folded = unicodedata.normalize("NFKC", value).casefold()
    return _t2s().convert(folded) if has_han(folded) else folded


def _letters(value: str) -> str:
    return "".join(ch for ch in value if ch.isascii() and ch.isalnum())


def _spellings(simplified: str) -> list[tuple[str, str]]:
    """(full pinyin, initials) of a name with Chinese characters, one pair per surname reading."""
    full = lazy_pinyin(simplified, style=Style.NORMAL, errors=_ONE_ITEM_EACH)
    initials = lazy_pinyin(simplified, style=Style.FIRST_LETTER, errors=_ONE_ITEM_EACH)
    out = [(_letters("".join(full)), _letters("".join(initials)))]
    first = simplified[:1]
    if is_han(first):
        for reading in pinyin(first, style=Style.NORMAL, heteronym=True)[0][:SURNAME_READINGS]:
            if reading != full[0]:
                out.append((_letters(reading + "".join(full[1:])), _letters(reading[0] + "".join(initials[1:]))))
    return out


def full_pinyin(name: str) -> set[str]:
    """The full tone-less pinyin of a name with Chinese characters, one per surname reading."""
    simplified = fold(name).strip()
    return {full for full, _ in _spellings(simplified)} if has_han(simplified) else set()


def pinyin_forms(name: str) -> list[str]:
    """The name's full tone-less pinyin and initials (`['zhangwei', 'zw']`); for a Latin name of
    several words its spaceless form (`['zhangwei']` for 'Zhang Wei'); else []."""
    simplified = fold(name).strip()
    if not has_han(simplified):
        # A name written in pinyin or another Latin script, in several words: its spaceless form,
        # so that `zhangwei` finds 'Zhang Wei' as it finds 张伟.
        words = simplified.replace("-", " ").replace("'", " ").split()
        latin = len(words) > 1 and all(w.isascii() and w.isalpha() for w in words)
        return ["".join(words)] if latin else []
    forms = [form for pair in _spellings(simplified) for form in pair]
    return list(dict.fromkeys(f for f in forms if f))


def han_codes(text: str) -> str:
    """Each Chinese character as four hex digits, runs of them separated by spaces: '张伟 x' → '5f204f1f'."""
    return " ".join("".join(f"{ord(ch):04x}" for ch in run) for run in _han_runs(text))


def _han_runs(text: str) -> list[str]:
    return _HAN_RUN.findall(text)


def columns(name: str, email: str | None, phone: str | None, other_values: Iterable[str]) -> tuple[str, str, str]:
    """(`search_text`, `search_pinyin`, `search_han`) of a customer."""
    parts = [fold(name), fold(email or ""), (phone or "").lstrip("+"), *(fold(v) for v in other_values)]
    text = SEPARATOR.join(parts)
    return text, SEPARATOR.join(pinyin_forms(name)), han_codes(text)


@dataclass(frozen=True)
class Needles:
    """What a query looks for: `text` in `search_text`, or one of `pinyin` in `search_pinyin`
    provided that each of the query's runs of Chinese characters (`han`) is in `search_text`.
    Either way each run's codes are in `search_han` (`han_codes`), which the index can answer."""

    text: str
    pinyin: tuple[str, ...] = ()
    han: tuple[str, ...] = ()
    # the pinyin decides alone: a name holding the query as written holds it in its pinyin too
    sound_only: bool = False

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(han_codes(run) for run in self.han)


def needles(q: str, *, phone: bool = True) -> Needles:
    """`zhangwei`, `zw`: pinyin or initials; `张w`, `z伟`: characters and pinyin mixed; `張偉`: the
    characters (simplified), never a homophone; digits: a phone number; anything else: plain text."""
    digits = "".join(ch for ch in q if ch.isdigit())
    if phone and len(digits) >= 3 and all(ch.isdigit() or ch in "+-() " for ch in q):
        return Needles(text=digits)
    folded = fold(q)
    others = [ch for ch in folded if not is_han(ch) and not ch.isspace() and ch != "'"]
    if not others:
        return Needles(text=folded, han=tuple(_han_runs(folded)))
    if not all(ch.isascii() and ch.isalpha() for ch in others):
        return Needles(text=folded)
    if not any(is_han(ch) for ch in folded):
        return Needles(text=folded, pinyin=(_letters(folded),))
    full = _letters("".join(lazy_pinyin(folded, style=Style.NORMAL, errors=_ONE_ITEM_EACH)))
    initials = _letters("".join(lazy_pinyin(folded, style=Style.FIRST_LETTER, errors=_ONE_ITEM_EACH)))
    if _letters_last(folded):
        # 张w, 张伟w: characters, then the start of the next syllable. The full pinyin (`zhangw`)
        # says all the initials (`zw`) say, and more precisely, and so does it for a name written
        # mixed (张Wei: `zhangwei`); as a needle of three letters or more the trigram index can
        # answer it, which it cannot for the initials or for one character and a letter as written.
        return Needles(text=folded, pinyin=(full,), han=tuple(_han_runs(folded)), sound_only=True)
    return Needles(text=folded, pinyin=tuple(dict.fromkeys((full, initials))), han=tuple(_han_runs(folded)))


def _letters_last(folded: str) -> bool:
    """Whether the query is characters followed by letters only (`张w`), not letters then characters."""
    kinds = [is_han(ch) for ch in folded if not ch.isspace() and ch != "'"]
    first_letter = kinds.index(False)
    return first_letter > 0 and not any(kinds[first_letter:])
