"""Lists, filters, dates, errors and jobs as a client meets them: through the gateway, with the
four real processes (tests/e2e_system.py)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from e2e_system import System, poll, token

from crm_chassis.testing import internal_headers

PROBLEM = "application/problem+json"
# Known to this module, so that it may read the services' feeds as a peer service would.
INTERNAL_SECRET = secrets.token_urlsafe(48)


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    running = System(tmp_path_factory.mktemp("grammar"), {"CRM_INTERNAL_SECRET": INTERNAL_SECRET})
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.stop()


@pytest.fixture(scope="module")
def client(system: System) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=system.url("gateway"), timeout=30) as plain:
        bearer = {"Authorization": f"Bearer {token(plain)}"}
    with httpx.Client(base_url=system.url("gateway"), timeout=30, headers=bearer) as signed_in:
        yield signed_in


def customer(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    created = client.post("/api/v1/customers", json={"kind": "individual", "name": "Grammar", **fields})
    assert created.status_code == 201, created.text
    return dict(created.json())


def finished_event(system: System, service: str, type_: str, job_id: str) -> dict[str, Any] | None:
    """The service's feed event of `type_` about `job_id`, if it has been published (the whole feed
    is read, page by page: a run publishes an event per customer scored before its own)."""
    after = 0
    while True:
        feed = httpx.get(
            f"{system.url(service)}/internal/events",
            params={"after": after, "limit": 1000},
            headers=internal_headers(role="service", secret=INTERNAL_SECRET),
        )
        assert feed.status_code == 200, feed.text
        items = feed.json()["items"]
        found = [e for e in items if e["type"] == type_ and e["aggregate_id"] == job_id]
        if found or not items:
            return found[0] if found else None
        after = items[-1]["seq"]


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    return dict(response.json())


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/scores", {"segmnet": "champions"}),  # a service's route
        ("/api/v1/customers", {"lifecycle": "prospect"}),
        ("/api/v1/complaints", {"opened_since": "2025-01-01"}),
        ("/api/v1/users", {"roles": "agent"}),  # the gateway's own routes
        ("/api/v1/audit", {"from": "2025-01-01"}),
    ],
)
def test_an_unknown_query_parameter_is_refused_by_name(client: httpx.Client, path: str, params: dict[str, str]) -> None:
    (name,) = params
    body = problem(client.get(path, params=params), 422)
    assert [(e["field"], e["code"]) for e in body["errors"]] == [(f"query.{name}", "unknown_parameter")]
    assert name in body["detail"]
    assert body["instance"] == path


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("path", "name", "allowed"),
    [
        ("/api/v1/scores", "segment", {"champions", "low_value", "strategic_customer"}),
        ("/api/v1/customers", "lifecycle_stage", {"prospect", "won_back"}),
        ("/api/v1/complaints", "severity", {"low", "critical"}),
    ],
)
def test_an_unknown_enum_value_lists_the_allowed_ones(
    client: httpx.Client, path: str, name: str, allowed: set[str]
) -> None:
    body = problem(client.get(path, params={name: "bogus"}), 422)
    (error,) = body["errors"]
    assert error["field"] == f"query.{name}"
    listed = {value.strip() for value in error["message"].split("allowed:", 1)[1].split(",")}
    assert allowed <= listed


@pytest.mark.e2e
def test_the_lists_that_were_bare_arrays_are_pages(client: httpx.Client) -> None:
    person = customer(client)
    org = client.post("/api/v1/customers", json={"kind": "organization", "name": "Grammar Org"}).json()
    added = client.post(
        f"/api/v1/customers/{org['id']}/contacts", json={"customer_id": person["id"], "roles": ["user"]}
    )
    assert added.status_code == 201, added.text
    agent = client.post(
        "/api/v1/users",
        json={"email": "grammar-agent@example.com", "password": "Plum-orchard-1987!", "role": "agent", "name": "G"},
    )
    assert agent.status_code == 201, agent.text
    # owners must be active agents or managers, known to the customer service from the gateway's feed
    moved = poll(
        lambda: (
            (
                r := client.post(
                    f"/api/v1/customers/{person['id']}/owner", json={"owner_id": agent.json()["id"], "reason": "test"}
                )
            ).status_code
            == 200
            and r
        ),
        seconds=30,
    )
    assert moved, "the customer service never learned of the new agent"
    survey = {"title": "Pages", "kind": "satisfaction", "questions": [{"key": "a", "type": "text", "text": "?"}]}
    created = client.post("/api/v1/surveys", json=survey)
    assert created.status_code == 201, created.text

    organizations = client.get(f"/api/v1/customers/{person['id']}/organizations").json()
    history = client.get(f"/api/v1/customers/{person['id']}/owner-history", params={"limit": 1}).json()
    versions = client.get(f"/api/v1/surveys/{created.json()['id']}/versions").json()

    assert [m["organization_id"] for m in organizations["items"]] == [org["id"]]
    assert [h["to_owner_id"] for h in history["items"]] == [agent.json()["id"]]
    assert len(versions["items"]) == 1
    assert all("next_cursor" in page for page in (organizations, history, versions))


@pytest.mark.e2e
def test_include_total_counts_every_page(client: httpx.Client) -> None:
    tag = f"t{uuid.uuid4().hex[:8]}"
    for _ in range(3):
        customer(client, tags=[tag])
    first = client.get("/api/v1/customers", params={"tag": tag, "limit": 2, "include_total": "true"}).json()
    second = client.get(
        "/api/v1/customers", params={"tag": tag, "limit": 2, "include_total": "true", "cursor": first["next_cursor"]}
    ).json()
    plain = client.get("/api/v1/customers", params={"tag": tag}).json()

    assert (len(first["items"]), first["total"], len(second["items"]), second["total"]) == (2, 3, 1, 3)
    assert "total" not in plain and len(plain["items"]) == 3


@pytest.mark.e2e
def test_plain_dates_work_wherever_date_times_do(client: httpx.Client) -> None:
    tag = f"d{uuid.uuid4().hex[:8]}"
    customer(client, tags=[tag])
    # Far from any real date, so the answer does not depend on today.
    since = client.get("/api/v1/customers", params={"tag": tag, "created_after": "2000-01-01"})
    until = client.get("/api/v1/customers", params={"tag": tag, "created_before": "2000-01-01"})

    def audited() -> httpx.Response | None:  # the audit trail is written in batches, about once a second
        answer = client.get("/api/v1/audit", params={"occurred_after": "2000-01-01", "limit": 1})
        return answer if answer.status_code != 200 or answer.json()["items"] else None

    audit = poll(audited, 15)
    report = client.get("/api/v1/analytics/satisfaction", params={"from": "2000-01-01", "to": "2000-02-01"})
    records = client.get("/api/v1/service-records", params={"service_date_after": "2000-01-01"})

    assert [len(r.json()["items"]) for r in (since, until)] == [1, 0]
    assert audit is not None and audit.status_code == 200 and len(audit.json()["items"]) == 1
    assert report.status_code == 200, report.text
    assert records.status_code == 200, records.text
    assert (
        problem(client.get("/api/v1/customers", params={"created_after": "2000-13-01"}), 422)["errors"][0]["field"]
        == "query.created_after"
    )


@pytest.mark.e2e
def test_error_fields_name_their_location_and_instance_is_the_public_path(client: httpx.Client) -> None:
    buyer = customer(client)
    bad_amount = {"customer_id": buyer["id"], "occurred_at": "2025-01-01", "amount": "lots", "currency": "CNY"}
    amount = problem(client.post("/api/v1/orders", json=bad_amount), 422)
    not_json = problem(client.post("/api/v1/orders", content=b"{", headers={"Content-Type": "application/json"}), 422)
    unknown = {**bad_amount, "amount": "1.00", "customer_id": str(uuid.uuid4())}
    no_customer = problem(client.post("/api/v1/orders", json=unknown), 422)  # raised by the service itself
    missing_id = str(uuid.uuid4())
    not_found = problem(client.get(f"/api/v1/customers/{missing_id}"), 404)
    bad_cursor = problem(client.get("/api/v1/orders", params={"cursor": "nonsense"}), 422)

    assert [e["field"] for e in amount["errors"]] == ["body.amount"]
    assert [e["field"] for e in not_json["errors"]] == ["body.$"]
    assert [e["field"] for e in no_customer["errors"]] == ["body.customer_id"]
    assert [e["field"] for e in bad_cursor["errors"]] == ["query.cursor"]
    assert {amount["instance"], not_json["instance"], no_customer["instance"]} == {"/api/v1/orders"}
    assert not_found["instance"] == f"/api/v1/customers/{missing_id}"


@pytest.mark.e2e
def test_an_export_counts_from_the_start_and_links_to_its_public_download(system: System, client: httpx.Client) -> None:
    tag = f"e{uuid.uuid4().hex[:8]}"
    for _ in range(2):
        customer(client, tags=[tag])
    started = client.post("/api/v1/exports", json={"kind": "customers", "filters": {"tag": tag}})
    assert started.status_code == 202, started.text
    assert started.json()["progress"]["total"] == 2
    job_url = f"/api/v1/exports/{started.json()['id']}"
    job = poll(lambda: (j := client.get(job_url).json())["status"] in ("succeeded", "failed") and j)

    assert job and job["status"] == "succeeded", job
    assert job["download"] == f"{job_url}/download"
    download = client.get(job["download"])
    assert download.status_code == 200, download.text
    assert download.text.count("\n") == 3  # the header and two customers
    finished = poll(lambda: finished_event(system, "customer", "export.finished", job["id"]))
    assert finished and (finished["data"]["status"], finished["data"]["total"]) == ("succeeded", 2)


@pytest.mark.e2e
def test_an_import_announces_its_end(system: System, client: httpx.Client) -> None:
    rows = "kind,name,external_ref\nindividual,Imported,IMP-G-1\n"
    upload = {"file": ("customers.csv", rows.encode(), "text/csv")}
    started = client.post("/api/v1/imports", params={"kind": "customers"}, files=upload)
    assert started.status_code == 202, started.text
    job_id = started.json()["id"]

    finished = poll(lambda: finished_event(system, "customer", "import.finished", job_id))
    assert finished, "no import.finished event"
    assert (finished["data"]["status"], finished["data"]["counts"]["created"]) == ("succeeded", 1)


@pytest.mark.e2e
def test_a_scoring_run_reports_its_stages(system: System, client: httpx.Client) -> None:
    started = client.post("/api/v1/scoring/runs", json={"as_of": "2026-06-30"})
    assert started.status_code == 202, started.text
    assert started.json()["as_of"].startswith("2026-06-29T16:00:00")  # midnight in Asia/Shanghai
    assert [s["status"] for s in started.json()["progress"]["stages"]] == ["pending"] * 4
    run_url = f"/api/v1/scoring/runs/{started.json()['id']}"
    run = poll(lambda: (r := client.get(run_url).json())["status"] in ("succeeded", "failed") and r, seconds=60)

    assert run and run["status"] == "succeeded", run
    stages = run["progress"]["stages"]
    assert [(s["name"], s["status"]) for s in stages] == [
        ("load", "done"),
        ("fit", "done"),
        ("score", "done"),
        ("write", "done"),
    ]
    assert all(s["seconds"] is not None for s in stages) and run["progress"]["stage"] is None
    # a past as_of is a backtest, which announces nothing; a live run announces its end
    assert run["mode"] == "backtest" and finished_event(system, "scoring", "scoring_run.finished", run["id"]) is None
    live = client.post("/api/v1/scoring/runs", json={})
    assert live.status_code == 202, live.text
    finished = poll(lambda: finished_event(system, "scoring", "scoring_run.finished", live.json()["id"]), seconds=60)
    assert finished and finished["data"]["status"] == "succeeded"


# Enums that are parameters of the API's machinery, not words people read.
TECHNICAL_ENUMS = [
    {"created_at", "-created_at", "name", "-name", "updated_at", "-updated_at"},  # sort orders
    {"opened_at", "-opened_at"},
    {"auto", "comma", "semicolon"},  # CSV delimiters
    {"utf-8", "gb18030"},  # CSV encodings
    {"csv", "json"},  # answer formats
    {"html", "json"},
    {"create", "upsert"},  # batch modes
    {"created", "updated", "existing", "conflict", "invalid"},  # batch item outcomes
    {"duplicate", "survivor"},  # sides of a merge
    {"email", "name", "phone"},  # fields a duplicate matched on
    {"week", "month"},  # report intervals
    {"en", "zh-CN"},  # the languages of the labels themselves
    {"json", "svg"},  # chart formats
    {"customer", "feedback", "gateway", "scoring"},  # the services (dead letters)
]


def _enums_of(node: Any) -> Iterator[frozenset[str]]:
    if isinstance(node, dict):
        if isinstance(node.get("enum"), list):
            yield frozenset(str(value) for value in node["enum"])
        for value in node.values():
            yield from _enums_of(value)
    elif isinstance(node, list):
        for value in node:
            yield from _enums_of(value)


@pytest.mark.e2e
def test_every_enum_of_the_api_has_labels_in_both_languages(client: httpx.Client) -> None:
    document = client.get("/api/v1/openapi.json")
    assert document.status_code == 200, document.text
    english = client.get("/api/v1/meta/enums", params={"lang": "en"}).json()["enums"]
    chinese = client.get("/api/v1/meta/enums", params={"lang": "zh-CN"}).json()["enums"]
    labelled = [frozenset(v["value"] for v in values) for values in english.values()]
    technical = [frozenset(values) for values in TECHNICAL_ENUMS]

    missing = []
    for values in set(_enums_of(document.json())):
        # equal to one labelled enum, or the union of some (a filter on value and RFM segments)
        if values in technical or values in labelled:
            continue
        if not values - frozenset().union(*[enum for enum in labelled if enum <= values]):
            continue
        missing.append(sorted(values))

    assert missing == [], f"enums without labels: {missing}"
    assert english.keys() == chinese.keys()
    for name in english:
        assert [v["value"] for v in english[name]] == [v["value"] for v in chinese[name]]
        assert all(v["label"] for v in english[name] + chinese[name])
