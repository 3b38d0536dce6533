"""Candidate duplicate pairs: same normalised email, same phone, or similar names in any script.

Names are compared after folding accents, case, width, word order and the script of Chinese
characters (張偉 and 张伟 are one name). A Latin name that spells a Chinese name's pinyin, in
either word order ('Zhang Wei', 'Wei Zhang' / 张伟), is a weaker signal of its own, `name_pinyin`.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections import defaultdict
from dataclasses import dataclass
from difflib import SequenceMatcher
from itertools import combinations, permutations

from crm_chassis.identity import Principal
from crm_customer.customers import repository as customer_repo
from crm_customer.customers import search
from crm_customer.db import Session
from crm_customer.merge.schemas import DuplicatePair, MatchedField

WEIGHTS = {MatchedField.email: 0.9, MatchedField.phone: 0.8, MatchedField.name: 0.6, MatchedField.name_pinyin: 0.5}
NAME_SIMILARITY = 0.85
# Latin names of more words than this are not tried in every word order.
MAX_LATIN_WORDS = 3

Pair = tuple[uuid.UUID, uuid.UUID]


@dataclass(frozen=True)
class Signal:
    weight: float
    reason: str


def name_key(name: str) -> str:
    """Accents, case, width, punctuation, word order and script removed: 'Zoë  MARTIN' == 'martin zoe',
    '张 伟' == '张伟' == '張偉'."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = search.fold("".join(ch for ch in decomposed if not unicodedata.combining(ch)))
    tokens = "".join(ch if ch.isalnum() else " " for ch in plain).split()
    if all(_is_cjk(t) for t in tokens):
        return "".join(tokens)  # Chinese names are written with or without spaces between the parts
    return " ".join(sorted(tokens))


def _is_cjk(token: str) -> bool:
    return all(search.is_han(ch) for ch in token)


def latin_spellings(name: str) -> set[str]:
    """The spaceless forms of a Latin name in every word order ('Zhang Wei' → zhangwei, weizhang)."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    words = "".join(ch if ch.isalnum() else " " for ch in plain).split()
    if not 1 < len(words) <= MAX_LATIN_WORDS or not all(w.isascii() and w.isalpha() for w in words):
        return set()
    return {"".join(order) for order in permutations(words)}


def _traditional(name: str) -> bool:
    """Whether the name holds characters that OpenCC writes otherwise in simplified Chinese."""
    plain = unicodedata.normalize("NFKC", name).casefold()
    return search.fold(plain) != plain


def _pair(a: uuid.UUID, b: uuid.UUID) -> Pair:
    return (min(a, b), max(a, b))


async def _name_pairs(session: Session, principal: Principal) -> dict[Pair, tuple[MatchedField, Signal]]:
    blocks: dict[tuple[str, str, int], list[tuple[uuid.UUID, str, str]]] = defaultdict(list)
    chinese_by_sound: dict[tuple[str, str], list[uuid.UUID]] = defaultdict(list)
    latin: list[tuple[uuid.UUID, str, str]] = []
    names: dict[uuid.UUID, str] = {}
    async for cid, name, kind, pinyin in customer_repo.names_and_kinds(session, principal):
        key = name_key(name)
        if key:
            # Compare only names that share their first two characters and have similar lengths.
            blocks[(kind, key[:2], len(key) // 4)].append((cid, key, name))
        if pinyin and any(search.is_han(ch) for ch in name):
            names[cid] = name
            for form in pinyin.split(search.SEPARATOR):
                chinese_by_sound[(kind, form)].append(cid)
        elif pinyin:
            latin.append((cid, name, kind))
    found: dict[Pair, tuple[MatchedField, Signal]] = {}
    for members in blocks.values():
        for (id_a, key_a, name_a), (id_b, key_b, name_b) in combinations(members, 2):
            ratio = 1.0 if key_a == key_b else SequenceMatcher(None, key_a, key_b).ratio()
            if ratio < NAME_SIMILARITY:
                continue
            if ratio == 1.0 and _traditional(name_a) != _traditional(name_b):
                reason = "the same name in traditional and simplified characters"
            else:
                reason = "the same name" if ratio == 1.0 else f"similar names ({ratio:.2f})"
            found[_pair(id_a, id_b)] = (MatchedField.name, Signal(WEIGHTS[MatchedField.name] * ratio, reason))
    for cid, name, kind in latin:
        for spelling in latin_spellings(name):
            for other in chinese_by_sound.get((kind, spelling), ()):
                pair = _pair(cid, other)
                # The stored forms hold initials too: only the full pinyin of the name counts.
                if pair not in found and spelling in search.full_pinyin(names[other]):
                    reason = f"{name!r} spells the pinyin of {names[other]} ({spelling})"
                    found[pair] = (MatchedField.name_pinyin, Signal(WEIGHTS[MatchedField.name_pinyin], reason))
    return found


async def candidate_pairs(session: Session, principal: Principal) -> list[DuplicatePair]:
    """Every candidate pair, best first; the score combines the evidence as independent signals."""
    evidence: dict[Pair, dict[MatchedField, Signal]] = defaultdict(dict)
    for field, reason in ((MatchedField.email, "the same email"), (MatchedField.phone, "the same phone number")):
        for pair in await customer_repo.pairs_sharing(session, field.value, principal):
            evidence[pair][field] = Signal(WEIGHTS[field], reason)
    for pair, (field, signal) in (await _name_pairs(session, principal)).items():
        evidence[pair][field] = signal
    if not evidence:
        return []
    ids = {i for pair in evidence for i in pair}
    names = await customer_repo.names(session, ids)
    pairs = []
    for (a, b), signals in evidence.items():
        miss = 1.0
        for signal in signals.values():
            miss *= 1 - signal.weight
        order = sorted(signals, key=list(MatchedField).index)
        pairs.append(
            DuplicatePair(
                a_id=a,
                a_name=names[a],
                b_id=b,
                b_name=names[b],
                score=round(1 - miss, 4),
                matched=order,
                reasons=[signals[f].reason for f in order],
            )
        )
    pairs.sort(key=lambda p: (-p.score, str(p.a_id), str(p.b_id)))
    return pairs
