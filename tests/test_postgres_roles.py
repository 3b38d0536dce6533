"""The roles of deploy/postgres/init.sql can run the migrations: on a scratch cluster of its own
(roles belong to a whole server, so never the shared one), the file is applied to a fresh database
and `make migrate` runs with each service connected as its own role."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from tests.e2e_system import ROOT
from tests.scratch_postgres import ScratchCluster

pytestmark = pytest.mark.e2e
SERVICES = ("customer", "scoring", "feedback", "gateway")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScratchCluster]:
    scratch = ScratchCluster(tmp_path_factory.mktemp("roles"))
    try:
        yield scratch
    finally:
        scratch.drop()


def psql_command(cluster: ScratchCluster, database: str, user: str = "postgres") -> list[str]:
    return [
        *(str(cluster.bin_dir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"),
        *("-p", str(cluster.port), "-U", user, "-d", database, "-At"),
    ]


def psql(cluster: ScratchCluster, database: str, sql: str, user: str = "postgres") -> str:
    command = [*psql_command(cluster, database, user), "-c", sql]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def make_migrate(cluster: ScratchCluster) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    for service in SERVICES:
        url = f"postgresql+asyncpg://{service}:{service}@127.0.0.1:{cluster.port}/crm"
        env[f"CRM_{service.upper()}_DATABASE_URL"] = url
    # -o: the environment is installed already; run the migrate target as it is
    return subprocess.run(
        ["make", "-s", "-o", ".venv/.synced", "migrate"], cwd=ROOT, env=env, capture_output=True, text=True
    )


def test_each_role_migrates_its_own_schema_and_no_other(cluster: ScratchCluster) -> None:
    psql(cluster, "postgres", "CREATE DATABASE crm")
    init = (ROOT / "deploy/postgres/init.sql").read_text()
    subprocess.run(
        psql_command(cluster, "crm"),
        input=init,
        check=True,
        capture_output=True,
        text=True,
    )
    first = make_migrate(cluster)
    assert first.returncode == 0, first.stdout + first.stderr
    again = make_migrate(cluster)  # a second run (the next release's migrate step) finds nothing to do
    assert again.returncode == 0, again.stdout + again.stderr

    for service in SERVICES:
        owners = psql(
            cluster,
            "crm",
            f"SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = '{service}'",
        ).split()
        assert owners == [service]
        tables = psql(cluster, "crm", f"SELECT count(*) FROM pg_tables WHERE schemaname = '{service}'")
        assert int(tables) > 1  # the version table and the service's own
    # a service's role cannot read another's schema
    refused = subprocess.run(
        [*psql_command(cluster, "crm", user="scoring"), "-c", "SELECT count(*) FROM customer.customer"],
        capture_output=True,
        text=True,
    )
    assert refused.returncode != 0 and "permission denied" in refused.stderr
