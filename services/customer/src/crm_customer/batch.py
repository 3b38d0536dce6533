"""Batch writes (`POST /orders/batch`, `POST /customers/batch`): one result per item, in request order.

Each item is validated and applied on its own, so one bad item costs only itself. With
`?atomic=true` the batch applies all or nothing: if any item is refused, nothing is written and
the answer is a problem listing the refused items.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from crm_chassis.errors import AppError, Conflict, Unprocessable
from crm_customer.db import IntegrityError, Session, savepoint

MAX_ITEMS = 1000


class BatchRequest(BaseModel):
    """Items are read one by one, so that a bad item is reported in its result, not as a 422 of the call."""

    model_config = ConfigDict(extra="forbid")

    items: Annotated[list[dict[str, Any]], Field(min_length=1, max_length=MAX_ITEMS)]


class BatchStatus(StrEnum):
    created = "created"
    updated = "updated"
    existing = "existing"
    conflict = "conflict"
    invalid = "invalid"


class ItemFieldError(BaseModel):
    field: str
    code: str
    message: str


class ItemError(BaseModel):
    code: str
    message: str
    errors: list[ItemFieldError] = []
    differing: list[str] | None = Field(None, description="for external_ref_conflict: the fields that differ")


class BatchItemResult(BaseModel):
    index: int
    status: BatchStatus
    id: uuid.UUID | None = None
    error: ItemError | None = None


class BatchResult(BaseModel):
    items: list[BatchItemResult]


@dataclass(frozen=True)
class Outcome:
    """What became of one item of a bulk write: `created` or `existing` with the record's id, or the refusal."""

    created: bool = False
    id: uuid.UUID | None = None
    error: AppError | None = None


async def one_by_one(session: Session, write: Callable[[], Awaitable[tuple[Any, bool]]]) -> Outcome:
    """`write()` of a single record, `(record, created)`, in a savepoint of its own: the bulk path's
    fallback for an item the shared statements cannot take, and for one a concurrent writer raced."""
    try:
        async with savepoint(session):
            record, created = await write()
    except AppError as exc:
        return Outcome(error=exc)
    except IntegrityError:
        return Outcome(error=CONCURRENT)
    return Outcome(created=created, id=record.id)


def result(index: int, outcome: Outcome) -> BatchItemResult:
    """An item's result from its bulk outcome: `created`, `existing`, or the refusal."""
    if outcome.error is not None:
        return refused(index, outcome.error)
    status = BatchStatus.created if outcome.created else BatchStatus.existing
    return BatchItemResult(index=index, status=status, id=outcome.id)


REFUSED = frozenset({BatchStatus.conflict, BatchStatus.invalid})
CONCURRENT = Conflict("the item conflicts with data written meanwhile; send it again", code="concurrent_write")


def kind_mismatch(kind: str) -> Unprocessable:
    return Unprocessable.field("kind", "kind_mismatch", f"the customer with this external_ref is a {kind}")


def item_field(index: int, name: object) -> str:
    """An item's field as the client sent it: `body.items.3.amount` (`body.items.3` for the whole item)."""
    return f"body.items.{index}" + (f".{name}" if name else "")


def invalid(index: int, exc: ValidationError) -> BatchItemResult:
    errors = [
        ItemFieldError(
            field=item_field(index, ".".join(str(part) for part in err.get("loc", ()))),
            code=str(err.get("type", "invalid")),
            message=str(err.get("msg", "invalid value")),
        )
        for err in exc.errors()
    ]
    return BatchItemResult(
        index=index,
        status=BatchStatus.invalid,
        error=ItemError(code="validation_failed", message="the item is not valid", errors=errors),
    )


def refused(index: int, exc: AppError) -> BatchItemResult:
    """A refusal of the service for one item: a conflict (409 alone) or invalid input (422 alone)."""
    errors = [
        ItemFieldError.model_validate({**e, "field": item_field(index, e.get("field"))}) for e in exc.errors or []
    ]
    differing = exc.extra.get("differing")
    status = BatchStatus.conflict if exc.status == 409 else BatchStatus.invalid
    return BatchItemResult(
        index=index,
        status=status,
        error=ItemError(code=exc.code, message=exc.detail, errors=errors, differing=differing),
    )


class Rejected(Exception):
    """Raised inside an atomic batch's savepoint to undo it; carries the results."""

    def __init__(self, results: list[BatchItemResult]) -> None:
        super().__init__("batch rejected")
        self.results = results


async def apply(
    session: Session, items: Callable[[], Awaitable[list[BatchItemResult]]], *, atomic: bool
) -> list[BatchItemResult]:
    """The results of `items()`; with `atomic`, all its writes undone if any item was refused, and
    the refusal answered as one problem."""
    if not atomic:
        return await items()
    try:
        async with savepoint(session):
            results = await items()
            if any(r.status in REFUSED for r in results):
                raise Rejected(results)
    except Rejected as rejected:
        raise rejection(rejected.results) from None
    return results


def rejection(results: list[BatchItemResult]) -> AppError:
    """The problem an atomic batch answers when any item was refused: those items, nothing written."""
    failed = [r.model_dump(mode="json", exclude_none=True) for r in results if r.status in REFUSED]
    kind = Conflict if all(r["status"] == BatchStatus.conflict for r in failed) else Unprocessable
    return kind(
        f"{len(failed)} of {len(results)} items were refused; with atomic=true nothing was written",
        code="batch_rejected",
        items=failed,
    )
