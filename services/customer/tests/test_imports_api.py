"""CSV imports: each kind, upserts by natural key, dry runs, atomic imports, bad rows and bad files."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import httpx
import pytest
from customer_import_helpers import counts, events_of, post_csv, run_import

from crm_chassis.testing import internal_headers
from crm_customer.config import Settings
from crm_customer.main import create_app

WHEN = "2026-03-01T10:00:00+08:00"
pytestmark = pytest.mark.usefixtures("data_dir")  # uploads go to a scratch directory


async def find(client: httpx.AsyncClient, **query: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await client.get("/customers", params=query)).json()["items"]
    return items


async def test_customers_are_upserted_by_external_ref_email_and_phone(client: httpx.AsyncClient, db: Any) -> None:
    first = (
        "kind,name,external_ref,email,phone,tags\n"
        "individual,Ann,C-1,,,vip|gold;new\n"
        "individual,Bob,,bob@example.com,,\n"
        "individual,Cai,,,138 0013 8000,\n"
        "individual,Dee,,,,\n"
    )
    job = await run_import(client, "customers", first)
    assert (job["status"], counts(job), job["progress"]) == ("succeeded", (4, 0, 0, 0), {"done": 4, "total": 4})
    assert job["natural_key"].startswith("external_ref, else email")
    assert (await find(client, external_ref="C-1"))[0]["tags"] == ["vip", "gold", "new"]
    second = (
        "kind,name,external_ref,email,phone,occupation\n"
        "individual,Ann,C-1,,,\n"  # unchanged: skipped
        "individual,Bob,,BOB@Example.com,,baker\n"
        "individual,Cai Lei,,,+8613800138000,\n"
        "individual,Dee,,,,\n"  # no key: a new customer
    )
    job = await run_import(client, "customers", second)
    assert counts(job) == (1, 2, 1, 0)
    assert (await find(client, q="bob@example.com"))[0]["occupation"] == "baker"
    cai = await find(client, q="13800138000")
    assert [c["name"] for c in cai] == ["Cai Lei"]
    assert len(await find(client, q="Dee")) == 2
    assert await events_of(db, "customer.created") == 5
    assert await events_of(db, "customer.updated") == 2


async def test_a_customer_row_the_service_refuses_leaves_the_rest_of_its_chunk_written(
    client: httpx.AsyncClient, db: Any
) -> None:
    await run_import(client, "customers", "kind,name,external_ref\nindividual,Ann,C-1\n")
    content = (
        "kind,name,external_ref,phone\n"
        "individual,Ann B,C-1,\n"
        "individual,Bad,C-2,12\n"  # the service refuses the number
        "organization,Ann Ltd,C-1,\n"  # C-1 is an individual
        "individual,Cy,C-3,\n"
    )
    job = await run_import(client, "customers", content)
    assert counts(job) == (1, 1, 0, 2)
    assert [(e["row"], e["column"]) for e in job["errors"]] == [(3, "phone"), (4, "kind")]
    assert [c["name"] for c in await find(client, external_ref="C-1")] == ["Ann B"]
    assert await find(client, external_ref="C-2") == []
    assert len(await find(client, external_ref="C-3")) == 1
    assert await events_of(db, "customer.created") == 2


async def test_orders_by_customer_id_or_reference_and_reposting_creates_nothing(
    client: httpx.AsyncClient, db: Any
) -> None:
    ann = (await client.post("/customers", json={"kind": "individual", "name": "Ann", "external_ref": "C-1"})).json()
    content = (
        "customer_id,customer_external_ref,external_ref,source,occurred_at,amount,currency,quantity,items\n"
        f'{ann["id"]},,O-1,shop,{WHEN},129.90,cny,2,"[{{""name"": ""Tea"", ""quantity"": 2}}]"\n'
        f",C-1,O-2,shop,{WHEN},-5.00,CNY,1,\n"  # a negative purchase (only refunds are negative)
        f",C-1,O-3,shop,{WHEN},10.00,CNY,1,\n"
        f",C-1,O-3,shop,{WHEN},10.00,CNY,1,\n"  # the same order twice in one file
    )
    job = await run_import(client, "orders", content)
    assert counts(job) == (2, 0, 1, 1)
    orders = (await client.get(f"/customers/{ann['id']}/orders")).json()["items"]
    assert sorted((o["external_ref"], o["amount"], o["currency"]) for o in orders) == [
        ("O-1", "129.90", "CNY"),
        ("O-3", "10.00", "CNY"),
    ]
    assert next(o for o in orders if o["external_ref"] == "O-1")["items"] == [{"name": "Tea", "quantity": 2}]
    assert await events_of(db, "order.recorded") == 2
    again = await run_import(client, "orders", content, force="true")  # the same file: forced
    assert counts(again) == (0, 0, 3, 1)
    assert await events_of(db, "order.recorded") == 2


async def test_interactions_are_logged_once(client: httpx.AsyncClient, db: Any) -> None:
    ann = (await client.post("/customers", json={"kind": "individual", "name": "Ann"})).json()
    content = (
        "customer_id,occurred_at,channel,direction,summary,next_follow_up_date\n"
        f"{ann['id']},{WHEN},phone,outbound,Called about renewal,2026-03-08\n"
        f"{ann['id']},2026-03-02T09:00:00Z,visit,inbound,Came to the store,\n"
    )
    job = await run_import(client, "interactions", content)
    assert counts(job) == (2, 0, 0, 0)
    assert await events_of(db, "interaction.logged") == 2
    assert counts(await run_import(client, "interactions", content, force="true")) == (0, 0, 2, 0)
    listed = (await client.get(f"/customers/{ann['id']}/interactions")).json()["items"]
    assert [i["channel"] for i in listed] == ["visit", "phone"]


async def test_contacts_are_added_once_with_their_roles(client: httpx.AsyncClient) -> None:
    org = (await client.post("/customers", json={"kind": "organization", "name": "Acme"})).json()
    person = (await client.post("/customers", json={"kind": "individual", "name": "李雷"})).json()
    content = (
        "organization_id,customer_id,name,roles,title\n"
        f"{org['id']},{person['id']},,decision_maker|senior_leader,CEO\n"
        f"{org['id']},,Front desk,user,\n"
        f"{org['id']},,Nobody,chief,\n"
        f"{person['id']},,Wrong kind,user,\n"
    )
    job = await run_import(client, "contacts", content)
    assert counts(job) == (2, 0, 0, 2)
    assert {e["row"] for e in (await client.get(f"/imports/{job['id']}/errors")).json()["items"]} == {4, 5}
    assert counts(await run_import(client, "contacts", content, force="true")) == (0, 0, 2, 2)
    listed = (await client.get(f"/customers/{org['id']}/contacts")).json()["items"]
    assert [(c["name"], c["roles"]) for c in listed] == [
        ("李雷", ["decision_maker", "senior_leader"]),
        ("Front desk", ["user"]),
    ]


BAD_ORDERS = (
    "customer_external_ref,external_ref,occurred_at,amount,currency\n"
    f"C-1,O-1,{WHEN},10.00,CNY\n"
    f"C-1,O-2,{WHEN},abc,CNY\n"
    f"C-1,O-3,{WHEN},5.00,XYZ\n"
    f"NOPE,O-4,{WHEN},5.00,CNY\n"
)


async def test_default_mode_writes_good_rows_and_reports_bad_ones(client: httpx.AsyncClient) -> None:
    await client.post("/customers", json={"kind": "individual", "name": "Ann", "external_ref": "C-1"})
    job = await run_import(client, "orders", BAD_ORDERS)
    assert (job["status"], counts(job), job["error_count"]) == ("succeeded", (1, 0, 0, 3), 3)
    assert [(e["row"], e["column"]) for e in job["errors"]] == [
        (3, "amount"),
        (4, "currency"),
        (5, "customer_external_ref"),
    ]
    assert "XYZ" in job["errors"][1]["message"]
    assert [e["code"] for e in job["errors"]] == ["decimal_parsing", "value_error", "unknown_customer"]
    page = (await client.get(f"/imports/{job['id']}/errors", params={"limit": 2})).json()
    assert [e["row"] for e in page["items"]] == [3, 4]
    rest = (await client.get(f"/imports/{job['id']}/errors", params={"cursor": page["next_cursor"]})).json()
    assert [e["row"] for e in rest["items"]] == [5]
    for path in (f"/imports/{job['id']}/errors.csv", f"/imports/{job['id']}/errors?format=csv"):
        download = await client.get(path)
        assert download.status_code == 200
        assert download.headers["content-type"].startswith("text/csv")
        assert download.content.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
        assert rows[0] == ["row", "column", "code", "message"]
        assert [r[:3] for r in rows[1:]] == [
            ["3", "amount", "decimal_parsing"],
            ["4", "currency", "value_error"],
            ["5", "customer_external_ref", "unknown_customer"],
        ]


async def test_atomic_import_with_a_bad_row_writes_nothing(client: httpx.AsyncClient, db: Any) -> None:
    await client.post("/customers", json={"kind": "individual", "name": "Ann", "external_ref": "C-1"})
    job = await run_import(client, "orders", BAD_ORDERS, atomic="true")
    assert job["status"] == "failed"
    assert counts(job) == (0, 0, 0, 3)
    assert "nothing was written" in job["error_summary"]
    assert (await client.get("/orders")).json()["items"] == []
    assert await events_of(db, "order.recorded") == 0
    good = "\n".join(BAD_ORDERS.splitlines()[:2]) + "\n"
    job = await run_import(client, "orders", good, atomic="true")
    assert (job["status"], counts(job), job["progress"]["done"]) == ("succeeded", (1, 0, 0, 0), 1)
    assert await events_of(db, "order.recorded") == 1


async def test_dry_run_validates_everything_and_writes_nothing(client: httpx.AsyncClient, db: Any) -> None:
    content = "kind,name,email\nindividual,Ann,ann@example.com\norganization,Acme,\nrobot,Bad,\n"
    job = await run_import(client, "customers", content, dry_run="true")
    assert (job["status"], job["dry_run"], counts(job)) == ("succeeded", True, (2, 0, 0, 1))
    assert job["errors"][0]["row"] == 4 and job["errors"][0]["column"] == "kind"
    assert await find(client) == []
    assert await events_of(db, "customer.created") == 0


async def test_bom_gb18030_and_semicolons(client: httpx.AsyncClient) -> None:
    bom = "\ufeffkind,name,external_ref\nindividual,张伟,C-1\n".encode()
    assert counts(await run_import(client, "customers", bom)) == (1, 0, 0, 0)
    gb = "kind;name;external_ref;tags\nindividual;王芳;C-2;老客户|重点\n".encode("gb18030")
    job = await run_import(client, "customers", gb, encoding="gb18030")
    assert (counts(job), job["delimiter"], job["encoding"]) == ((1, 0, 0, 0), ";", "gb18030")
    assert [c["name"] for c in await find(client, external_ref="C-1")] == ["张伟"]
    assert (await find(client, external_ref="C-2"))[0]["tags"] == ["老客户", "重点"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty"),
        (b"PK\x03\x04\x14\x00\x00\x00\x08\x00binary", "binary"),
        (b"individual,Ann\nindividual,Bob\n", "header"),
        (b"kind,name,shoe_size\nindividual,Ann,42\n", "unknown columns: shoe_size"),
        (b"kind,email\nindividual,a@example.com\n", "missing required columns: name"),
        ("kind,name\nindividual,张伟\n".encode("gb18030"), "not valid utf-8"),
        (b'kind,name\nindividual,"Ann"x\n', "well-formed"),
    ],
    ids=["empty", "binary", "no-header", "unknown-column", "missing-column", "wrong-encoding", "bad-quoting"],
)
async def test_bad_files_are_refused_up_front(client: httpx.AsyncClient, content: bytes, expected: str) -> None:
    response = await post_csv(client, "customers", content)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert expected in response.json()["detail"]
    assert (await client.get("/imports")).json()["items"] == []


async def test_orders_need_a_customer_column(client: httpx.AsyncClient) -> None:
    response = await post_csv(client, "orders", f"occurred_at,amount,currency\n{WHEN},1.00,CNY\n")
    assert response.status_code == 422
    assert "customer_external_ref or customer_id" in response.json()["detail"]


async def test_oversize_upload_is_refused(database_url: str) -> None:
    small = create_app(Settings(database_url=database_url, environment="test", import_max_bytes=2048))
    transport = httpx.ASGITransport(app=small)
    async with httpx.AsyncClient(transport=transport, base_url="http://c", headers=internal_headers()) as client:
        response = await post_csv(client, "customers", "kind,name\n" + "individual,Ann\n" * 500)
    assert response.status_code == 413


async def test_jobs_are_private_to_their_creator(client: httpx.AsyncClient) -> None:
    job = await run_import(client, "customers", "kind,name\nindividual,Ann\n")
    agent = internal_headers(role="agent", subject="00000000-0000-0000-0000-0000000000a1")
    assert (await client.get(f"/imports/{job['id']}", headers=agent)).status_code == 404
    assert (await client.get("/imports", headers=agent)).json()["items"] == []
    assert [j["id"] for j in (await client.get("/imports")).json()["items"]] == [job["id"]]


async def test_too_many_running_imports_are_refused(client: httpx.AsyncClient, db: Any) -> None:
    from sqlalchemy import update

    from crm_customer.imports.models import ImportJob

    content = "kind,name\nindividual,A\n"
    jobs = [await run_import(client, "customers", content, force="true") for _ in range(3)]
    async with db() as session:  # as if the three were still running
        await session.execute(update(ImportJob).values(status="running"))
        await session.commit()
    refused = await post_csv(client, "customers", content, force="true")
    assert refused.status_code == 429
    assert refused.json()["code"] == "too_many_imports" and refused.headers["retry-after"]
    async with db() as session:
        await session.execute(update(ImportJob).where(ImportJob.id == uuid.UUID(jobs[0]["id"])).values(status="failed"))
        await session.commit()
    await run_import(client, "customers", content, force="true")  # accepted (202), and finished before the next test


async def test_the_same_file_again_is_409_naming_the_earlier_import_unless_forced(
    client: httpx.AsyncClient, db: Any
) -> None:
    # rows without external_ref, email or phone: sent twice they would be created twice
    content = "name,kind\nNo Key 1,individual\nNo Key 2,individual\nNo Key 3,individual\n"
    first = await run_import(client, "customers", content)
    assert counts(first)[0] == 3
    again = await post_csv(client, "customers", content)
    assert again.status_code == 409, again.text
    body = again.json()
    assert body["code"] == "duplicate_import"
    assert body["earlier_import_id"] == first["id"]
    assert first["id"] in body["detail"] and "force=true" in body["detail"]
    assert await events_of(db, "customer.created") == 3  # nothing more written
    # a dry run of it writes nothing, so it is allowed and does not count as an import
    dry = await run_import(client, "customers", content, dry_run="true")
    assert counts(dry)[0] == 3
    assert (await post_csv(client, "customers", content)).json()["earlier_import_id"] == first["id"]
    forced = await run_import(client, "customers", content, force="true")
    assert counts(forced)[0] == 3
    assert forced["file_sha256"] == first["file_sha256"] and len(first["file_sha256"]) == 64
    # another file, or the same one as another kind of import, is not a repeat
    assert counts(await run_import(client, "customers", content + "No Key 4,individual\n"))[0] == 4


async def test_a_failed_atomic_import_may_be_sent_again(client: httpx.AsyncClient) -> None:
    content = "name,kind\nGood,individual\n,individual\n"
    failed = await run_import(client, "customers", content, atomic="true")
    assert failed["status"] == "failed" and counts(failed)[0] == 0
    retried = await post_csv(client, "customers", content, atomic="true")
    assert retried.status_code == 202, retried.text
