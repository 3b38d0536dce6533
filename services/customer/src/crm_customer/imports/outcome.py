"""What a chunk of rows came to, and the error messages of the API turned into per-row errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from pydantic import ValidationError

from crm_chassis.errors import AppError
from crm_customer.db import savepoint as savepoint  # one per row; rows of imports use it from here

Row = tuple[int, list[str]]  # (row number as a spreadsheet shows it, cells)

# Conflicts carry no field; these codes say which column they are about.
_CONFLICT_COLUMNS = {
    "duplicate_external_ref": "external_ref",
    "duplicate_contact": "customer_id",
    "refund_exceeds_amount": "amount",
}


class Problem(NamedTuple):
    """What is wrong with a row: the column at fault ("" for the whole row), a stable code, a message."""

    column: str
    code: str
    message: str


# A unique key that the chunk's own checks found free was taken by another writer meanwhile.
CONFLICTED = Problem("", "concurrent_write", "the row conflicts with data written meanwhile; import it again")


@dataclass(frozen=True)
class RowError:
    row: int
    column: str | None
    code: str
    message: str


@dataclass
class ChunkOutcome:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[RowError] = field(default_factory=list)

    def fail(self, row: int, problems: list[Problem]) -> None:
        self.failed += 1
        self.errors += [RowError(row, p.column or None, p.code, p.message) for p in problems]

    def add(self, other: ChunkOutcome) -> None:
        self.created += other.created
        self.updated += other.updated
        self.skipped += other.skipped
        self.failed += other.failed
        self.errors += other.errors


def from_validation(exc: ValidationError) -> list[Problem]:
    """The schema's complaints, coded as the API codes them (pydantic's error type)."""
    problems = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ())]
        column = loc[0] if loc else ""
        where = ".".join(loc[1:])
        message = err.get("msg", "invalid value")
        problems.append(Problem(column, err.get("type", "invalid"), f"{where}: {message}" if where else message))
    return problems


def from_app_error(exc: AppError, columns: Mapping[str, str] | None = None) -> list[Problem]:
    """The service's refusal with the API's codes; `columns` names the column of field-less codes."""
    if exc.errors:
        return [
            Problem(str(e.get("field", "")), str(e.get("code", exc.code)), str(e.get("message", exc.detail)))
            for e in exc.errors
        ]
    column = (columns or {}).get(exc.code) or _CONFLICT_COLUMNS.get(exc.code, "")
    return [Problem(column, exc.code, exc.detail)]
