"""Candidate duplicate pairs: same normalised email, same phone, or similar names in any script."""

from __future__ import annotations

import unicodedata
import uuid
from collections import defaultdict
from difflib import SequenceMatcher
from itertools import combinations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from crm_chassis.identity import Principal
from crm_customer import access
from crm_customer.customers.models import Customer
from crm_customer.merge.schemas import DuplicatePair, MatchedField

WEIGHTS = {MatchedField.email: 0.9, MatchedField.phone: 0.8, MatchedField.name: 0.6}
NAME_SIMILARITY = 0.85


def name_key(name: str) -> str:
    """Accents, case, width, punctuation and word order removed: 'Zoë  MARTIN' == 'martin zoe', '张 伟' == '张伟'."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    tokens = "".join(ch if ch.isalnum() else " " for ch in plain).split()
    if all(_is_cjk(t) for t in tokens):
        return "".join(tokens)  # Chinese names are written with or without spaces between the parts
    return " ".join(sorted(tokens))


def _is_cjk(token: str) -> bool:
    return all("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in token)


async def _exact_pairs(session: AsyncSession, column: str, principal: Principal) -> list[tuple[uuid.UUID, uuid.UUID]]:
    a, b = aliased(Customer), aliased(Customer)
    stmt = (
        select(a.id, b.id)
        .join(b, getattr(a, column) == getattr(b, column))
        .where(
            a.id < b.id,
            getattr(a, column).is_not(None),
            a.deleted_at.is_(None),
            b.deleted_at.is_(None),
            a.kind == b.kind,
            access.owner_clause(principal, a.owner_id),
            access.owner_clause(principal, b.owner_id),
        )
    )
    return [(x, y) for x, y in await session.execute(stmt)]


async def _name_pairs(session: AsyncSession, principal: Principal) -> dict[tuple[uuid.UUID, uuid.UUID], float]:
    blocks: dict[tuple[str, str, int], list[tuple[uuid.UUID, str]]] = defaultdict(list)
    rows = await session.stream(
        select(Customer.id, Customer.name, Customer.kind).where(
            Customer.deleted_at.is_(None), access.owner_clause(principal, Customer.owner_id)
        )
    )
    async for cid, name, kind in rows:
        key = name_key(name)
        if key:
            # Compare only names that share their first two characters and have similar lengths.
            blocks[(kind, key[:2], len(key) // 4)].append((cid, key))
    found: dict[tuple[uuid.UUID, uuid.UUID], float] = {}
    for members in blocks.values():
        for (id_a, key_a), (id_b, key_b) in combinations(members, 2):
            ratio = 1.0 if key_a == key_b else SequenceMatcher(None, key_a, key_b).ratio()
            if ratio >= NAME_SIMILARITY:
                found[(min(id_a, id_b), max(id_a, id_b))] = ratio
    return found


async def candidate_pairs(session: AsyncSession, principal: Principal) -> list[DuplicatePair]:
    """Every candidate pair, best first; the score combines the evidence as independent signals."""
    evidence: dict[tuple[uuid.UUID, uuid.UUID], dict[MatchedField, float]] = defaultdict(dict)
    for field in (MatchedField.email, MatchedField.phone):
        for pair in await _exact_pairs(session, field.value, principal):
            evidence[pair][field] = WEIGHTS[field]
    for pair, ratio in (await _name_pairs(session, principal)).items():
        evidence[pair][MatchedField.name] = WEIGHTS[MatchedField.name] * ratio
    if not evidence:
        return []
    ids = {i for pair in evidence for i in pair}
    rows = await session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(ids)))
    names = {cid: name for cid, name in rows}
    pairs = []
    for (a, b), signals in evidence.items():
        miss = 1.0
        for weight in signals.values():
            miss *= 1 - weight
        pairs.append(
            DuplicatePair(
                a_id=a,
                a_name=names[a],
                b_id=b,
                b_name=names[b],
                score=round(1 - miss, 4),
                matched=sorted(signals, key=list(MatchedField).index),
            )
        )
    pairs.sort(key=lambda p: (-p.score, str(p.a_id), str(p.b_id)))
    return pairs
