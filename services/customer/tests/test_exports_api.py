"""CSV exports: the list endpoints' filters, a file Excel opens, and cells that cannot run as formulas."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY

from crm_chassis.testing import internal_headers

HOSTILE = {"name": "=cmd|' /C calc'!A0", "tags": ["@SUM(1)"], "notes": "+1"}


@pytest.fixture(autouse=True)
async def data_dir(app: FastAPI, tmp_path: Path) -> AsyncIterator[Path]:
    settings = app.state.settings
    before = settings.data_dir
    settings.data_dir = tmp_path
    yield tmp_path
    settings.data_dir = before


async def finished(client: httpx.AsyncClient, path: str) -> dict[str, Any]:
    for _ in range(1000):
        body: dict[str, Any] = (await client.get(path)).json()
        if body["status"] in ("succeeded", "failed"):
            return body
        await asyncio.sleep(0.01)
    raise AssertionError(f"{path} did not finish")


async def export(client: httpx.AsyncClient, kind: str, **filters: Any) -> tuple[dict[str, Any], bytes]:
    response = await client.post("/exports", json={"kind": kind, "filters": filters})
    assert response.status_code == 202, response.text
    job = await finished(client, response.headers["location"])
    assert job["status"] == "succeeded", job
    download = await client.get(job["download"])
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    return job, download.content


def rows(content: bytes) -> list[dict[str, str]]:
    assert content.startswith(b"\xef\xbb\xbf")  # Excel opens UTF-8 (Chinese) correctly only with the BOM
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


async def test_formula_cells_get_a_quote_numbers_stay_numbers_and_the_file_imports_back(
    client: httpx.AsyncClient,
) -> None:
    body = {"kind": "individual", "external_ref": "H-1", "phone": "+8613800138000", **HOSTILE}
    customer = (await client.post("/customers", json=body)).json()
    order = {"customer_id": customer["id"], "occurred_at": "2026-03-01T10:00:00Z", "amount": "40.00", "currency": "CNY"}
    paid = (await client.post("/orders", json=order)).json()
    refund = {"amount": "40.00", "occurred_at": "2026-03-02T10:00:00Z"}
    assert (await client.post(f"/orders/{paid['id']}/refunds", json=refund)).status_code == 201

    job, content = await export(client, "customers")
    (row,) = rows(content)
    assert (row["name"], row["tags"], row["notes"]) == ("'=cmd|' /C calc'!A0", "'@SUM(1)", "'+1")
    assert row["phone"] == "'+8613800138000"
    assert job["progress"] == {"done": 1, "total": 1}

    _, orders = await export(client, "orders", customer_id=customer["id"])
    assert sorted(r["amount"] for r in rows(orders)) == ["-40.00", "40.00"]

    files = {"file": ("customers.csv", content, "text/csv")}
    started = await client.post("/imports", params={"kind": "customers"}, files=files)
    assert started.status_code == 202, started.text
    imported = await finished(client, started.headers["location"])
    assert imported["counts"] == {"created": 0, "updated": 0, "skipped": 1, "failed": 0}, imported["errors"]
    assert "id" in imported["ignored_columns"]
    again = (await client.get(f"/customers/{customer['id']}")).json()
    assert (again["name"], again["tags"], again["notes"]) == (HOSTILE["name"], HOSTILE["tags"], HOSTILE["notes"])


async def test_filters_are_those_of_the_list_endpoint(client: httpx.AsyncClient) -> None:
    await client.post("/customers", json={"kind": "individual", "name": "张伟", "tags": ["vip"]})
    await client.post("/customers", json={"kind": "organization", "name": "Acme"})
    _, content = await export(client, "customers", tag="vip")
    assert [r["name"] for r in rows(content)] == ["张伟"]
    _, content = await export(client, "customers")
    assert len(rows(content)) == 2
    unknown = await client.post("/exports", json={"kind": "customers", "filters": {"shoe_size": 42}})
    assert unknown.status_code == 422
    assert "shoe_size" in unknown.text
    bad = await client.post("/exports", json={"kind": "orders", "filters": {"occurred_after": "yesterday"}})
    assert bad.status_code == 422


async def test_exports_are_private_to_their_creator(client: httpx.AsyncClient) -> None:
    job, _ = await export(client, "interactions")
    agent = internal_headers(role="agent", subject="00000000-0000-0000-0000-0000000000a1")
    assert (await client.get(f"/exports/{job['id']}", headers=agent)).status_code == 404
    assert (await client.get(f"/exports/{job['id']}/download", headers=agent)).status_code == 404
    assert [j["id"] for j in (await client.get("/exports")).json()["items"]] == [job["id"]]


async def test_an_export_is_counted_as_a_succeeded_job_with_its_duration(client: httpx.AsyncClient) -> None:
    def counted() -> float:
        labels = {"kind": "export", "outcome": "succeeded"}
        return REGISTRY.get_sample_value("crm_jobs_total", labels) or 0.0

    before = counted()
    await export(client, "customers")
    for _ in range(200):  # recorded as the job's task ends, just after its status is stored
        if counted() > before:
            break
        await asyncio.sleep(0.01)

    assert counted() == before + 1
    assert (
        b'crm_job_duration_seconds_count{kind="export",outcome="succeeded"}' in (await client.get("/metrics")).content
    )
