"""What the kinds that name customers by reference share in a chunk: its rows read and resolved,
validated, and, for the kinds that only add (responses, contact-log entries), each new row written
once.

A row's failures are recorded in the chunk's outcome in the order the steps run: unreadable cells
and unknown references for the whole chunk first, then each row's schema and write.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from crm_chassis.errors import AppError
from crm_chassis.identity import Principal
from crm_customer.db import IntegrityError, Session
from crm_customer.imports import references
from crm_customer.imports.columns import KindSpec, row_values
from crm_customer.imports.outcome import CONFLICTED, ChunkOutcome, Row, from_app_error, from_validation, savepoint

M = TypeVar("M", bound=BaseModel)
K = TypeVar("K", bound=Hashable)


async def resolved(
    session: Session, spec: KindSpec, columns: list[str], rows: list[Row], principal: Principal, out: ChunkOutcome
) -> list[tuple[int, references.Values]]:
    """The rows as input for the kind's schema, each reference replaced by the customer's id; a row
    whose cells cannot be read or whose reference names no customer the caller sees fails in `out`."""
    read = []
    for number, cells in rows:
        values, problems = row_values(spec, columns, cells)
        if problems:
            out.fail(number, problems)
        else:
            read.append((number, values))
    found, unknown = await references.resolve(session, spec, read, principal)
    for number, problems in unknown:
        out.fail(number, problems)
    return found


async def validated(
    session: Session,
    spec: KindSpec,
    model: type[M],
    columns: list[str],
    rows: list[Row],
    principal: Principal,
    out: ChunkOutcome,
) -> list[tuple[int, M]]:
    """The resolved rows that `model` accepts; the others fail in `out` with the schema's complaints."""
    parsed: list[tuple[int, M]] = []
    for number, values in await resolved(session, spec, columns, rows, principal, out):
        try:
            parsed.append((number, model.model_validate(values)))
        except ValidationError as exc:
            out.fail(number, from_validation(exc))
    return parsed


async def add_new(
    session: Session,
    parsed: list[tuple[int, M]],
    key: Callable[[M], K],
    known: set[K],
    write: Callable[[M], Awaitable[object]],
    out: ChunkOutcome,
    columns: Mapping[str, str] | None = None,
) -> None:
    """Write each row whose `key` is not `known` (nor that of an earlier row) in its own savepoint,
    and skip the others, so that a file can be sent again; `columns` as for `from_app_error`."""
    for number, data in parsed:
        if key(data) in known:
            out.skipped += 1
            continue
        try:
            async with savepoint(session):
                await write(data)
        except AppError as exc:
            out.fail(number, from_app_error(exc, columns))
            continue
        except IntegrityError:
            out.fail(number, [CONFLICTED])
            continue
        known.add(key(data))
        out.created += 1
