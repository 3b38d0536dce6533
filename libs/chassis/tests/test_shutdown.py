"""A stop that work left running cannot hold: cancelled workers get a bounded wait, and a thread
still alive once the server has returned does not keep the process from exiting."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import textwrap
import time

import pytest

from crm_chassis.app import stop_background


async def test_background_work_stuck_in_a_thread_does_not_hold_the_stop(caplog: pytest.LogCaptureFixture) -> None:
    async def stuck() -> None:
        try:
            await asyncio.sleep(3600)
        finally:  # cleanup that waits on a thread, as a rollback queued behind SQLite's busy wait
            await asyncio.to_thread(time.sleep, 3)

    async def quick() -> None:
        await asyncio.sleep(3600)

    tasks = [asyncio.create_task(stuck(), name="stuck"), asyncio.create_task(quick(), name="quick")]
    await asyncio.sleep(0.05)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="crm.app"):
        await stop_background(tasks, timeout=0.3)
    assert time.monotonic() - started < 2
    assert tasks[1].cancelled()
    [record] = [r for r in caplog.records if "still running" in r.getMessage()]
    assert record.tasks == ["stuck"]  # type: ignore[attr-defined]


def test_a_thread_left_running_does_not_keep_the_process_alive() -> None:
    program = textwrap.dedent(
        """
        import logging, sys, threading, time
        from crm_chassis.serve import leave_without_stragglers
        logging.basicConfig(stream=sys.stderr, format="%(message)s %(threads)s")
        threading.Thread(target=time.sleep, args=(3600,), name="left-behind").start()
        threading.Thread(target=time.sleep, args=(0.1,), name="finishing").start()
        leave_without_stragglers(timeout=0.5)
        """
    )
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert time.monotonic() - started < 30
    assert done.returncode == 0, done.stderr
    assert "threads still running after shutdown" in done.stderr
    assert "left-behind" in done.stderr and "finishing" not in done.stderr
