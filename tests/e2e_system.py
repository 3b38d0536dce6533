"""The four real processes, started the way `make run` starts them, on free ports and SQLite files.

Shared by the end-to-end modules; each starts its own system in a module-scoped fixture.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from crm_gateway.config import DEFAULT_RATE_LIMITS

ROOT = Path(__file__).parents[1]
ADMIN = ("e2e-admin@example.com", "e2e-admin-password-long-enough")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class System:
    def __init__(self, tmp: Path, extra_env: dict[str, str] | None = None) -> None:
        self.ports = {name: free_port() for name in ("gateway", "customer", "scoring", "feedback")}
        self.data_dir = tmp
        env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
        env.update({f"CRM_{name.upper()}_PORT": str(port) for name, port in self.ports.items()})
        env.update(
            CRM_DATA_DIR=str(tmp),
            CRM_BOOTSTRAP_ADMIN_EMAIL=ADMIN[0],
            CRM_BOOTSTRAP_ADMIN_PASSWORD=ADMIN[1],
            CRM_SCORING_FEED_WAIT_SECONDS="5",
            CRM_FEEDBACK_FEED_WAIT_SECONDS="5",
            # the API fuzzing sends thousands of requests a minute, imports and scoring runs included
            CRM_GATEWAY_RATE_LIMIT_PER_MINUTE="1000000",
            CRM_GATEWAY_RATE_LIMITS=json.dumps(dict.fromkeys(DEFAULT_RATE_LIMITS, 1_000_000)),
        )
        env.update(extra_env or {})
        self.log = (tmp / "system.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts/run_all.py")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            start_new_session=True,  # its own process group, so that a hung stop can be killed whole
        )
        self.banner = self._wait_for_banner()

    def _wait_for_banner(self) -> str:
        assert self.process.stdout is not None
        lines = []
        deadline = time.monotonic() + 200  # a loaded machine starts four processes slowly
        for line in self.process.stdout:
            lines.append(line)
            if "Press Ctrl-C to stop." in line:
                return "".join(lines)
            if time.monotonic() > deadline:
                break
        raise AssertionError(
            "the system did not start:\n" + "".join(lines) + (self.data_dir / "system.log").read_text()
        )

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def stop(self) -> int:
        """SIGTERM, as an operator stops `make run`; run_all gives its processes 30 s together and
        kills what is left (exit code 1), so a wait beyond that means run_all itself hangs."""
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # run_all and the services it started
            self.process.wait()
            raise AssertionError("run_all did not stop within 60 s of SIGTERM") from None
        finally:
            self.log.close()
        return code

    def kill(self) -> None:
        """For a test that failed before its own stop: leave nothing running."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def token(client: httpx.Client) -> str:
    response = client.post("/api/v1/auth/token", data={"username": ADMIN[0], "password": ADMIN[1]})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def poll(check, seconds: float = 10):  # type: ignore[no-untyped-def]
    """The first truthy result of `check()` within `seconds`, else the last one."""
    deadline = time.monotonic() + seconds
    result = check()
    while not result and time.monotonic() < deadline:
        time.sleep(0.1)
        result = check()
    return result
