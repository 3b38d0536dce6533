from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class Side(StrEnum):
    survivor = "survivor"
    duplicate = "duplicate"


class MergeRequest(BaseModel):
    """Merge `duplicate_id` into the customer in the path.

    A field empty on one side takes the other's value; lists are united; where both sides hold
    different values, `prefer` decides, and `fields` can decide field by field.
    """

    model_config = ConfigDict(extra="forbid")

    duplicate_id: uuid.UUID
    prefer: Side = Side.survivor
    fields: Annotated[dict[str, Side], Field(max_length=60)] = {}


class MergeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    survivor_id: uuid.UUID
    duplicate_id: uuid.UUID
    moved: dict[str, list[str]]
    conflicts: dict[str, Side] = {}
    merged_by: str
    merged_at: datetime
    undo_until: datetime
    undone_at: datetime | None


class MatchedField(StrEnum):
    email = "email"
    phone = "phone"
    name = "name"
    # A Latin name that spells a Chinese name's pinyin ('Zhang Wei' / 张伟): weaker than `name`,
    # as many people share the sound of a name.
    name_pinyin = "name_pinyin"


class DuplicatePair(BaseModel):
    a_id: uuid.UUID
    a_name: str
    b_id: uuid.UUID
    b_name: str
    score: float
    matched: list[MatchedField]
    reasons: list[str] = Field(
        default_factory=list, description="why, one line per signal: e.g. the same name in traditional characters"
    )


class DuplicatePage(BaseModel):
    items: list[DuplicatePair]
    next_cursor: str | None = None
