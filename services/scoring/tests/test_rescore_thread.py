"""The re-scoring worker runs on an event loop of its own: what it raises reaches the service, a
cancellation reaches it and waits for its cleanup, and its commits wake the service's feed readers."""

from __future__ import annotations

import asyncio
import threading

import pytest

from crm_chassis.events import OutboxSignal
from crm_scoring.workers import ThreadSafeSignal, in_own_loop


async def test_the_work_runs_on_another_thread_and_loop() -> None:
    here = (threading.get_ident(), asyncio.get_running_loop())
    seen: list[tuple[int, asyncio.AbstractEventLoop]] = []

    async def work() -> None:
        seen.append((threading.get_ident(), asyncio.get_running_loop()))

    await in_own_loop(work, "test")
    assert len(seen) == 1
    assert seen[0][0] != here[0] and seen[0][1] is not here[1]


async def test_what_the_work_raises_is_raised_here() -> None:
    async def work() -> None:
        raise LookupError("no such customer")

    with pytest.raises(LookupError, match="no such customer"):
        await in_own_loop(work, "test")


async def test_a_cancellation_reaches_the_work_and_waits_for_its_cleanup() -> None:
    running, cleaned = threading.Event(), threading.Event()

    async def work() -> None:
        running.set()
        try:
            await asyncio.sleep(3600)
        finally:
            await asyncio.sleep(0.05)  # a cleanup that itself awaits (a rollback, a disposal)
            cleaned.set()

    task = asyncio.create_task(in_own_loop(work, "test"))
    await asyncio.to_thread(running.wait, 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned.is_set()


async def test_a_notify_from_the_thread_wakes_a_reader_of_this_loop() -> None:
    signal = OutboxSignal()
    woken = asyncio.create_task(signal.wait(10))
    await asyncio.sleep(0)  # the reader waits

    async def commit_there() -> None:
        ThreadSafeSignal(signal, here).notify()

    here = asyncio.get_running_loop()
    await in_own_loop(commit_there, "test")
    await asyncio.wait_for(woken, 5)  # woken at once, not after its 10 s
