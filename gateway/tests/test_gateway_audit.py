"""The audit log: every call recorded after its response, partner reads of personal data flagged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crm_gateway.users.models import Role


async def _audit(gateway, headers, **params):
    await gateway.app.state.audit.flush()
    response = await gateway.client.get("/api/v1/audit", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_calls_are_recorded_with_who_what_where_and_outcome(gateway, admin_headers):
    agent_id, agent = await gateway.signed_in(Role.agent)
    await gateway.client.get("/api/v1/customers/probe", headers=agent | {"X-Request-ID": "trace-audit-1"})
    await gateway.client.get("/api/v1/users", headers=agent)

    page = await _audit(gateway, admin_headers, principal_id=agent_id)

    entries = {(e["method"], e["path"], e["status"]): e for e in page["items"]}
    read = entries[("GET", "/api/v1/customers/probe", 200)]
    assert read["principal_kind"] == "user" and read["role"] == "agent"
    assert read["client_address"] == "203.0.113.7"
    assert read["request_id"] == "trace-audit-1"
    assert read["personal_data"] is False
    assert ("GET", "/api/v1/users", 403) in entries


async def test_partner_reads_of_personal_data_are_flagged_and_filterable(gateway, admin_headers):
    key_id, secret = await gateway.add_key({"customers:read", "scores:read"})
    await gateway.client.get("/api/v1/customers/probe", headers={"X-API-Key": secret})
    await gateway.client.get("/api/v1/scores/probe", headers={"X-API-Key": secret})

    page = await _audit(gateway, admin_headers, principal_id=key_id, personal_data="true")

    assert [(e["path"], e["principal_kind"]) for e in page["items"]] == [("/api/v1/customers/probe", "api_key")]


async def test_failed_sign_ins_are_recorded_without_a_principal(gateway, admin_headers):
    since = datetime.now(UTC) - timedelta(seconds=1)
    await gateway.client.post("/api/v1/auth/token", data={"username": "intruder@crm.test", "password": "guess"})

    page = await _audit(gateway, admin_headers, path_prefix="/api/v1/auth/token", occurred_after=since.isoformat())

    assert any(e["status"] == 401 and e["principal_id"] is None for e in page["items"])


async def test_audit_pages_are_newest_first_and_cursor_linked(gateway, admin_headers):
    for _ in range(3):
        await gateway.client.get("/api/v1/auth/me", headers=admin_headers)

    first = await _audit(gateway, admin_headers, path_prefix="/api/v1/auth/me", limit=2)
    second = await _audit(gateway, admin_headers, path_prefix="/api/v1/auth/me", limit=2, cursor=first["next_cursor"])

    seqs = [e["seq"] for e in first["items"] + second["items"]]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == len(seqs) >= 3


async def test_only_admins_read_the_audit_log(gateway):
    _, manager = await gateway.signed_in(Role.manager)

    assert (await gateway.client.get("/api/v1/audit", headers=manager)).status_code == 403
