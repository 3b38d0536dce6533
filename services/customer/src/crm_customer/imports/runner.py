"""Running an accepted import: the file in chunks, each chunk one transaction, progress per chunk.

Default mode commits each chunk with its progress and errors, so a crash leaves whole chunks
written and never part of a row. `dry_run` rolls every chunk back and keeps only the counts and
errors. `atomic` writes every chunk in one transaction committed at the end; at the first failed
row it is rolled back and the remaining rows are only validated, to report all their errors.
"""

from __future__ import annotations

import asyncio
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
            if self.atomic and not self.dry_run:
                await self._atomic()
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
                if self.dry_run:
                    await session.rollback()
                await job_repo.record_chunk(session, self.job_id, len(chunk), outcome, self.storable(outcome.errors))
                await session.commit()
            failed += outcome.failed
        summary = "dry run: nothing was written; the counts say what the import would do" if self.dry_run else None
        if failed and not self.dry_run:
            summary = f"{failed} rows failed and were not imported (see errors); the other rows were"
        async with self.sessionmaker.begin() as session:
            await job_repo.finish(session, self.job_id, JobStatus.succeeded, summary)

    async def _atomic(self) -> None:
        handler = KINDS[self.kind][1]
        totals, done, failed = ChunkOutcome(), 0, False
        async with self.sessionmaker() as session:
            for chunk in read_chunks(self.path, self.layout, CHUNK_ROWS):
                outcome = await handler(session, self.layout.columns, chunk, self.context)
                done += len(chunk)
                if not failed and not outcome.failed:
                    totals.add(outcome)
                    session.expunge_all()  # written rows stay in the transaction, not in memory
                    continue
                failed = True
                await session.rollback()  # nothing will be written: free the database for others now
                only_failures = ChunkOutcome(failed=outcome.failed)
                await job_repo.record_chunk(session, self.job_id, done, only_failures, self.storable(outcome.errors))
                await session.commit()
                done = 0
            if failed:
                summary = "atomic import: some rows failed (see errors), so nothing was written"
                await job_repo.finish(session, self.job_id, JobStatus.failed, summary)
            else:
                await job_repo.record_chunk(session, self.job_id, done, totals, [])
                await job_repo.finish(session, self.job_id, JobStatus.succeeded, None)
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
