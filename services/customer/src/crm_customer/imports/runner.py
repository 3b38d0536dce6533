"""Running an accepted import: the file in chunks, progress per chunk.

Default mode commits each chunk with its progress and errors, so a crash leaves whole chunks
written and never part of a row. `atomic` and `dry_run` write every chunk into one transaction,
so that each row sees the rows before it exactly as in a default run (a refund finds its purchase
a thousand rows up), and decide at the end: an atomic import with no failed row commits, anything
else is rolled back. Their counts and errors are recorded then, so their progress shows at the end.
On SQLite their rows are read and validated first, all of them, and staged on disk; only then
does the one transaction open and apply them, so that it holds the database's single writer for
the writing alone. Their events are spooled to disk and written in bulk just before
the commit on PostgreSQL (none for a dry run), so that the outbox ordering lock, which every other
writer takes, is held only for that last step.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import pickle
import tempfile
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crm_chassis.events import spool_outbox
from crm_chassis.metrics import JOBS
from crm_customer import events
from crm_customer.db import Session, Sessionmaker, infra
from crm_customer.imports import campaign_responses, contacts, customers, interactions, orders
from crm_customer.imports import repository as job_repo
from crm_customer.imports.columns import KindSpec
from crm_customer.imports.context import ImportContext
from crm_customer.imports.csvfile import Layout, read_chunks
from crm_customer.imports.outcome import ChunkOutcome, Row, RowError
from crm_customer.imports.schemas import ImportKind, JobStatus
from crm_customer.job_schemas import finished_event

CHUNK_ROWS = 1000
MAX_STORED_ERRORS = 10_000  # a file of bad rows is reported by its first errors, its counts stay exact
logger = logging.getLogger("crm.imports")

# A kind reads a chunk's rows into what its handler applies (`prepare`, CPU work only, run in a
# worker thread while the chunk before is written), then applies them in a session.
Prepare = Callable[[list[str], list[Row], ImportContext], Any]
Handler = Callable[[Session, list[str], Any, ImportContext], Awaitable[ChunkOutcome]]


def _as_read(_columns: list[str], rows: list[Row], _ctx: ImportContext) -> list[Row]:
    return rows  # the handler reads its rows itself


KINDS: dict[ImportKind, tuple[KindSpec, Handler, Prepare]] = {
    ImportKind.customers: (customers.SPEC, customers.process, customers.prepare),
    ImportKind.orders: (orders.SPEC, orders.process, orders.prepare),
    ImportKind.interactions: (interactions.SPEC, interactions.process, _as_read),
    ImportKind.contacts: (contacts.SPEC, contacts.process, _as_read),
    ImportKind.campaign_responses: (campaign_responses.SPEC, campaign_responses.process, _as_read),
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
    sessionmaker: Sessionmaker
    stored_errors: int = 0

    def storable(self, errors: list[RowError]) -> list[RowError]:
        room = max(MAX_STORED_ERRORS - self.stored_errors, 0)
        self.stored_errors += min(room, len(errors))
        return errors[:room]

    async def run(self) -> None:
        async with JOBS.track("import") as outcome:
            await self._run(outcome)

    async def _run(self, outcome: Callable[[str], None]) -> None:
        try:
            async with self.sessionmaker.begin() as session:
                if not await job_repo.mark_running(session, self.job_id):
                    outcome("skipped")
                    return  # swept as orphaned before it could start
            if self.atomic or self.dry_run:
                await self._in_one_transaction()
            else:
                await self._chunked()
        except asyncio.CancelledError:
            await self._fail("the service shut down while the import ran; " + _RESEND)
            raise
        except Exception:
            outcome("failed")
            logger.exception("import failed", extra={"job_id": str(self.job_id)})
            await self._fail("the import stopped on an unexpected error; " + _RESEND)
        finally:
            self.path.unlink(missing_ok=True)

    async def _prepared(self) -> AsyncGenerator[tuple[int, Any], None]:
        """Each chunk's size and its prepared rows; the next chunk is read and prepared in a worker
        thread while the caller writes this one, so validation overlaps the database's work."""
        prepare = KINDS[self.kind][2]
        chunks = read_chunks(self.path, self.layout, CHUNK_ROWS)

        def next_prepared() -> tuple[int, Any] | None:
            chunk = next(chunks, None)
            return None if chunk is None else (len(chunk), prepare(self.layout.columns, chunk, self.context))

        pending = asyncio.ensure_future(asyncio.to_thread(next_prepared))
        try:
            while (item := await pending) is not None:
                pending = asyncio.ensure_future(asyncio.to_thread(next_prepared))
                yield item
        finally:
            if not pending.done():
                await asyncio.wait([pending])  # a thread cannot be cancelled: let it finish with the file
            # Cancelled while a thread still reads it, the generator is closed when it is collected.
            with contextlib.suppress(ValueError):
                chunks.close()

    async def _chunked(self) -> None:
        handler = KINDS[self.kind][1]
        failed = 0
        async with contextlib.aclosing(self._prepared()) as prepared:
            async for size, chunk in prepared:
                async with self.sessionmaker() as session:
                    outcome = await handler(session, self.layout.columns, chunk, self.context)
                    await job_repo.record_chunk(session, self.job_id, size, outcome, self.storable(outcome.errors))
                    await session.commit()
                failed += outcome.failed
        summary = f"{failed} rows failed and were not imported (see errors); the other rows were" if failed else None
        async with self.sessionmaker.begin() as session:
            await job_repo.finish(session, self.job_id, JobStatus.succeeded, summary)
            await announce_finished(session, self.job_id)

    async def _staged(self) -> AsyncGenerator[tuple[int, Any], None]:
        """Each chunk's size and its prepared rows, all of them read and prepared before the first is
        given out: they wait in a file beside the upload, so that the transaction that applies them
        spends no time reading or validating, and memory holds one chunk at a time."""
        with tempfile.TemporaryFile(dir=self.path.parent) as staged:
            chunks = 0
            async with contextlib.aclosing(self._prepared()) as prepared:
                async for item in prepared:
                    pickle.dump(item, staged, protocol=pickle.HIGHEST_PROTOCOL)
                    chunks += 1
            staged.seek(0)
            for _ in range(chunks):
                yield pickle.load(staged)  # noqa: S301 - written just above by this process

    async def _in_one_transaction(self) -> None:
        handler = KINDS[self.kind][1]
        totals, done = ChunkOutcome(), 0
        errors: list[RowError] = []
        async with self.sessionmaker() as session:
            # PostgreSQL: the events wait on disk and are written just before the commit, so the
            # transaction does not hold the outbox ordering lock, which every other writer needs, for
            # the whole file; nothing else it holds stops other writers, so the next chunk is prepared
            # while one is written, as in a default run. SQLite: its one writer is held from the first
            # write, so every chunk is staged before the transaction starts, and the events (no lock
            # to spare) go straight in.
            postgres = _ordering_lock(session)
            spool = spool_outbox(session, self.path.parent) if postgres else None
            chunks = self._prepared() if postgres else self._staged()
            async with contextlib.aclosing(chunks) as staged:
                async for size, chunk in staged:
                    outcome = await handler(session, self.layout.columns, chunk, self.context)
                    done += size
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
                if spool is not None:
                    spool.discard()
                    session.info.pop("outbox_spool", None)  # the job's own end is still announced
                await session.rollback()
            elif spool is not None:
                await spool.flush(session, infra.outbox)
            await job_repo.record_chunk(session, self.job_id, done, totals, errors)
            await job_repo.finish(session, self.job_id, status, summary)
            await announce_finished(session, self.job_id)
            await session.commit()

    async def _fail(self, summary: str) -> None:
        try:
            async with self.sessionmaker.begin() as session:
                await job_repo.finish(session, self.job_id, JobStatus.failed, summary)
                await announce_finished(session, self.job_id)
        except Exception:  # the sweeper marks it failed later
            logger.exception("could not mark the import failed", extra={"job_id": str(self.job_id)})


def _ordering_lock(session: Session) -> bool:
    """Whether writing events takes the outbox ordering lock (PostgreSQL's advisory lock)."""
    return session.get_bind().dialect.name == "postgresql"


async def announce_finished(session: Session, job_id: uuid.UUID) -> None:
    """`import.finished`, in the transaction that ends the job: its outcome and counts."""
    job = await job_repo.get(session, job_id)
    if job is None:
        return
    counts = {
        "created": job.created_count,
        "updated": job.updated_count,
        "skipped": job.skipped_count,
        "failed": job.failed_count,
    }
    data = finished_event(job, dry_run=job.dry_run, atomic=job.atomic, total=job.total, counts=counts)
    await events.publish(session, events.IMPORT_FINISHED, job.id, data, version=1)


_RESEND = (
    "rows of the chunks already committed stay written (none in atomic or dry-run mode). Sending the same"
    " file again is refused (409 duplicate_import) unless with ?force=true: rows already imported are matched"
    " by their natural key, but rows without external_ref, email or phone would be created a second time, so"
    " send only the rows from the first one not counted in `progress`, or use ?force=true knowingly"
)
