"""Writing an export: the kind's list endpoint read page by page into a CSV file, then renamed.

Pages come from the same service functions (and filters) as the list endpoints, in keyset order,
each read in its own short transaction, so memory stays flat and no reader is held open for long.
"""

from __future__ import annotations

import asyncio
import logging
import types
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Union, get_args, get_origin

from pydantic import BaseModel

from crm_chassis.db import utcnow
from crm_chassis.identity import Principal
from crm_chassis.metrics import JOBS
from crm_chassis.pagination import Page, counting_totals
from crm_customer import access, events
from crm_customer.customers import service as customer_service
from crm_customer.customers.schemas import CustomerFilters, CustomerRead, CustomerSort
from crm_customer.db import Session, Sessionmaker
from crm_customer.exports import cells
from crm_customer.exports import repository as export_repo
from crm_customer.exports.schemas import ExportKind
from crm_customer.imports.schemas import JobStatus
from crm_customer.interactions import service as interaction_service
from crm_customer.interactions.schemas import InteractionFilters, InteractionRead
from crm_customer.job_schemas import finished_event
from crm_customer.orders import service as order_service
from crm_customer.orders.schemas import OrderFilters, OrderRead

PAGE_ROWS = 1000
logger = logging.getLogger("crm.exports")
Lister = Callable[[Session, dict[str, Any], str | None, Principal, int], Awaitable[Page[Any]]]


async def _customers(
    session: Session, filters: dict[str, Any], cursor: str | None, who: Principal, limit: int
) -> Page[Any]:
    return await customer_service.list_page(
        session,
        filters=CustomerFilters(**filters),
        sort=CustomerSort.created_at,
        limit=limit,
        cursor=cursor,
        principal=who,
    )


async def _orders(
    session: Session, filters: dict[str, Any], cursor: str | None, who: Principal, limit: int
) -> Page[Any]:
    filters_ = OrderFilters(**filters)
    return await order_service.list_page(session, filters=filters_, limit=limit, cursor=cursor, principal=who)


async def _interactions(
    session: Session, filters: dict[str, Any], cursor: str | None, who: Principal, limit: int
) -> Page[Any]:
    filters_ = InteractionFilters(**filters)
    return await interaction_service.list_page(session, filters=filters_, limit=limit, cursor=cursor, principal=who)


async def count(session: Session, kind: ExportKind, filters: dict[str, Any], who: Principal) -> int:
    """How many rows the export will write, counted as its list endpoint counts `?include_total=true`."""
    with counting_totals():
        found = await KINDS[kind][1](session, filters, None, who, 1)
    return found.total or 0


KINDS: dict[ExportKind, tuple[type[BaseModel], Lister]] = {
    ExportKind.customers: (CustomerRead, _customers),
    ExportKind.orders: (OrderRead, _orders),
    ExportKind.interactions: (InteractionRead, _interactions),
}


def _numeric(annotation: Any) -> bool:
    if get_origin(annotation) in (Union, types.UnionType):
        return any(_numeric(a) for a in get_args(annotation))
    return annotation in (int, float, Decimal)


def _open(path: Path) -> IO[str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("w", encoding="utf-8", newline="")


@dataclass
class ExportRun:
    job_id: uuid.UUID
    kind: ExportKind
    filters: dict[str, Any]
    path: Path
    principal: Principal  # the export sees what its creator may see, as the list endpoint would
    sessionmaker: Sessionmaker
    read_sessionmaker: Sessionmaker

    async def run(self) -> None:
        async with JOBS.track("export") as outcome:
            await self._run(outcome)

    async def _run(self, outcome: Callable[[str], None]) -> None:
        partial = self.path.with_suffix(".part")
        try:
            async with self.sessionmaker.begin() as session:
                await export_repo.set_state(session, self.job_id, status=JobStatus.running.value, started_at=utcnow())
            done = await self._write(partial)
            partial.replace(self.path)  # a download never sees a half-written file
            async with self.sessionmaker.begin() as session:
                values = {"status": JobStatus.succeeded.value, "done": done, "total": done, "finished_at": utcnow()}
                await export_repo.set_state(session, self.job_id, **values)
                await announce_finished(session, self.job_id)
        except asyncio.CancelledError:
            await self._fail("the service shut down while the export ran; start it again")
            raise
        except Exception:
            outcome("failed")
            logger.exception("export failed", extra={"job_id": str(self.job_id)})
            await self._fail("the export stopped on an unexpected error; start it again")
        finally:
            partial.unlink(missing_ok=True)

    async def _write(self, partial: Path) -> int:
        model, lister = KINDS[self.kind]
        columns = list(model.model_fields)
        numeric = {name for name, info in model.model_fields.items() if _numeric(info.annotation)}
        done, cursor = 0, None
        with _open(partial) as out:
            out.write(cells.BOM + cells.lines([columns]))
            while True:
                async with self.read_sessionmaker() as session:
                    found = await lister(session, self.filters, cursor, self.principal, PAGE_ROWS)
                rows, cursor = found.items, found.next_cursor
                items = [model.model_validate(row) for row in rows]
                if self.kind == ExportKind.customers:
                    async with self.read_sessionmaker() as session:
                        items = await customer_service.with_owner_names(session, items)
                if self.kind == ExportKind.customers and access.masks_pii(self.principal):
                    items = [item.model_copy(update=access.PII_FIELDS) for item in items]
                dumped = [item.model_dump(mode="json") for item in items]
                out.write(cells.lines([[cells.cell(d[c], numeric=c in numeric) for c in columns] for d in dumped]))
                done += len(rows)
                async with self.sessionmaker.begin() as session:
                    await export_repo.set_state(session, self.job_id, done=done)
                if cursor is None:
                    return done

    async def _fail(self, summary: str) -> None:
        try:
            async with self.sessionmaker.begin() as session:
                values = {"status": JobStatus.failed.value, "error_summary": summary, "finished_at": utcnow()}
                await export_repo.set_state(session, self.job_id, **values)
                await announce_finished(session, self.job_id)
        except Exception:  # the sweeper marks it failed later
            logger.exception("could not mark the export failed", extra={"job_id": str(self.job_id)})


async def announce_finished(session: Session, job_id: uuid.UUID) -> None:
    """`export.finished`, in the transaction that ends the job: its outcome and row count."""
    job = await export_repo.get(session, job_id)
    if job is None:
        return
    data = finished_event(job, total=job.total)
    await events.publish(session, events.EXPORT_FINISHED, job.id, data, version=1)
