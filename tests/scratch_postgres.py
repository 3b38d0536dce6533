"""A PostgreSQL cluster of its own, on a free port, that a test may stop and start at will.

Made with `pg_createcluster` (Debian's postgresql-common, as root) or, elsewhere, with `initdb` and
`pg_ctl` as the current user; never the shared server that the other tests use.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from crm_chassis.testing import postgres_url_or_skip
from tests.e2e_system import free_port


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class ScratchCluster:
    def __init__(self, tmp: Path) -> None:
        postgres_url_or_skip()  # the PostgreSQL tests' rule: skipped loudly without PostgreSQL, never in CI
        bin_dir = _bin_dir()
        if bin_dir is None:
            pytest.skip("no PostgreSQL server binaries (initdb) on this machine")
        self.port = free_port()
        self.version = bin_dir.parent.name
        self.name = f"crmscratch{uuid.uuid4().hex[:8]}"
        self.debian = os.geteuid() == 0 and shutil.which("pg_createcluster") is not None
        self.bin_dir = bin_dir
        self.data = tmp / "pgdata"
        if self.debian:
            subprocess.run(
                ["pg_createcluster", self.version, self.name, "-p", str(self.port), "--", "--auth=trust"],
                check=True,
                capture_output=True,
            )
        else:
            subprocess.run(
                [bin_dir / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust"], check=True, capture_output=True
            )
        self.start()

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, action: str) -> None:
        if self.debian:
            command = ["pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, action]
            if action == "stop":
                command += ["--", "-m", "fast"]
        else:
            command = [str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-w", "-m", "fast", action]
            if action == "start":
                command += ["-o", f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1"]
        subprocess.run(command, check=True, capture_output=True)

    def start(self) -> None:
        self._ctl("start")

    def stop(self) -> None:
        self._ctl("stop")

    def drop(self) -> None:
        if self.debian:
            subprocess.run(["pg_dropcluster", "--stop", self.version, self.name], check=False, capture_output=True)
        else:
            subprocess.run(
                [str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
                check=False,
                capture_output=True,
            )
