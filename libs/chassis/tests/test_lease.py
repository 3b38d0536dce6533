"""The leader lease: of several holders on one PostgreSQL database, one runs the workers; when it
goes, another takes over. On SQLite the workers simply run."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from crm_chassis.lease import hold_lease, lease_key
from crm_chassis.testing import scratch_database


async def _until(check, seconds: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


@pytest.mark.parametrize("backend", ["postgres"])
async def test_one_holder_runs_the_workers_and_another_takes_over(backend: str, tmp_path: Path) -> None:
    async with scratch_database(backend, tmp_path, "lease") as url:
        name = f"test-{uuid.uuid4().hex}"
        running: list[str] = []

        def work(holder: str):  # type: ignore[no-untyped-def]
            async def worker() -> None:
                running.append(holder)
                try:
                    await asyncio.Event().wait()
                finally:
                    running.remove(holder)

            return lambda: [worker()]

        a = asyncio.create_task(hold_lease(url, name, work("a"), check_seconds=0.1))
        assert await _until(lambda: running == ["a"])
        b = asyncio.create_task(hold_lease(url, name, work("b"), check_seconds=0.1))
        await asyncio.sleep(0.5)
        assert running == ["a"]  # b stands by
        a.cancel()
        await asyncio.gather(a, return_exceptions=True)
        assert await _until(lambda: running == ["b"]), running
        b.cancel()
        await asyncio.gather(b, return_exceptions=True)
        assert running == []


async def test_on_sqlite_the_workers_just_run(tmp_path: Path) -> None:
    ran = asyncio.Event()

    async def worker() -> None:
        ran.set()

    await asyncio.wait_for(hold_lease(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", "x", lambda: [worker()]), 5)
    assert ran.is_set()


def test_lease_keys_are_stable_and_distinct() -> None:
    assert lease_key("scoring-workers") == lease_key("scoring-workers")
    assert lease_key("scoring-workers") != lease_key("feedback-workers")
    assert -(2**63) <= lease_key("gateway-workers") < 2**63
