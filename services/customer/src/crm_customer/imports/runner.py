"""Running an accepted import: the file in chunks, progress per chunk.

Default mode commits each chunk with its progress and errors, so a crash leaves whole chunks
written and never part of a row. `atomic` and `dry_run` write every chunk into one transaction,
so that each row sees the rows before it exactly as in a default run (a refund finds its purchase
a thousand rows up), and decide at the end: an atomic import with no failed row commits, anything
else is rolled back. Their counts and errors are recorded then, so their progress shows at the end.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_customer.imports import contacts, customers, interactions, orders
from crm_customer.imports import repository as job_repo
from crm_customer.imports.columns import KindSpec
from crm_customer.imports.context import ImportContext
from crm_customer.imports.csvfile import Layout, read_chunks
from crm_customer.imports.outcome import ChunkOutcome, Row, RowError
from crm_customer.imports.schemas import ImportKind, JobStatus

CHUNK_ROWS = 1000
MAX_STORED_ERRORS = 10_000  # a file of bad rows is reported by its first errors, its counts stay exact
logger = logging.getLogger("crm.imports")

Handler = Callable[[AsyncSession, list[str], list[Row], ImportContext], Awaitable[ChunkOutcome]]
KINDS: dict[ImportKind, tuple[KindSpec, Handler]] = {
    ImportKind.customers: (customers.SPEC, customers.process),
    ImportKind.orders: (orders.SPEC, orders.process),
    ImportKind.interactions: (interactions.SPEC, interactions.process),
    ImportKind.contacts: (contacts.SPEC, contacts.process),
}


@dataclass
class ImportRun:
    job_id: uuid.UUID
    kind: ImportKind
    path: Path
    layout: Layout
    dry_run: bool
    atomic: bool
    context: ImportContext
    sessionmaker: async_sessionmaker[AsyncSession]
    stored_errors: int = 0

    def storable(self, errors: list[RowError]) -> list[RowError]:
        room = max(MAX_STORED_ERRORS - self.stored_errors, 0)
        self.stored_errors += min(room, len(errors))
        return errors[:room]

    async def run(self) -> None:
        try:
            async with self.sessionmaker.begin() as session:
                if not await job_repo.mark_running(session, self.job_id):
                    return  # swept as orphaned before it could start
            if self.atomic or self.dry_run:
                await self._in_one_transaction()
            else:
                await self._chunked()
        except asyncio.CancelledError:
            await self._fail("the service shut down while the import ran; " + _RESEND)
            raise
        except Exception:
            logger.exception("import failed", extra={"job_id": str(self.job_id)})
            await self._fail("the import stopped on an unexpected error; " + _RESEND)
        finally:
            self.path.unlink(missing_ok=True)

    async def _chunked(self) -> None:
        handler = KINDS[self.kind][1]
        failed = 0
        for chunk in read_chunks(self.path, self.layout, CHUNK_ROWS):
            async with self.sessionmaker() as session:
                outcome = await handler(session, self.layout.columns, chunk, self.context)
                await job_repo.record_chunk(session, self.job_id, len(chunk), outcome, self.storable(outcome.errors))
                await session.commit()
            failed += outcome.failed
        summary = f"{failed} rows failed and were not imported (see errors); the other rows were" if failed else None
        async with self.sessionmaker.begin() as session:
            await job_repo.finish(session, self.job_id, JobStatus.succeeded, summary)

    async def _in_one_transaction(self) -> None:
        handler = KINDS[self.kind][1]
        totals, done = ChunkOutcome(), 0
        errors: list[RowError] = []
        async with self.sessionmaker() as session:
            for chunk in read_chunks(self.path, self.layout, CHUNK_ROWS):
                outcome = await handler(session, self.layout.columns, chunk, self.context)
                done += len(chunk)
                errors += self.storable(outcome.errors)
                totals.add(dataclasses.replace(outcome, errors=[]))
                session.expunge_all()  # written rows stay in the transaction, not in memory
            status, summary = JobStatus.succeeded, None
            if self.dry_run:
                summary = "dry run: nothing was written; the counts say what the import would do"
            elif totals.failed:
                status, summary = (
                    JobStatus.failed,
                    "atomic import: some rows failed (see errors), so nothing was written",
                )
                totals = ChunkOutcome(failed=totals.failed)
            if self.dry_run or totals.failed:
                await session.rollback()
            await job_repo.record_chunk(session, self.job_id, done, totals, errors)
            await job_repo.finish(session, self.job_id, status, summary)
            await session.commit()

    async def _fail(self, summary: str) -> None:
        try:
            async with self.sessionmaker.begin() as session:
                await job_repo.finish(session, self.job_id, JobStatus.failed, summary)
        except Exception:  # the sweeper marks it failed later
            logger.exception("could not mark the import failed", extra={"job_id": str(self.job_id)})


_RESEND = (
    "rows of the chunks already committed stay written (none in atomic or dry-run mode); send the file again: "
    "rows already imported are matched by their natural key"
)
