"""Every (status, action) pair of the complaint workflow, legal and illegal, through the API."""

from __future__ import annotations

import itertools
import uuid

import httpx
import pytest
from feedback_helpers import act, create_complaint

PATHS = {
    "open": [],
    "acknowledged": ["acknowledge"],
    "in_progress": ["acknowledge", "start"],
    "waiting_on_customer": ["acknowledge", "start", "wait_on_customer"],
    "resolved": ["acknowledge", "start", "resolve"],
    "closed": ["acknowledge", "start", "resolve", "close"],
}
ACTIONS = ["acknowledge", "start", "wait_on_customer", "resolve", "close", "reopen", "escalate"]
# The specification, written out independently of the implementation's table.
LEGAL = {
    ("open", "acknowledge"): "acknowledged",
    ("acknowledged", "start"): "in_progress",
    ("in_progress", "wait_on_customer"): "waiting_on_customer",
    ("waiting_on_customer", "start"): "in_progress",
    ("in_progress", "resolve"): "resolved",
    ("waiting_on_customer", "resolve"): "resolved",
    ("resolved", "close"): "closed",
    ("resolved", "reopen"): "in_progress",
    ("closed", "reopen"): "in_progress",
    ("open", "escalate"): "open",
    ("acknowledged", "escalate"): "acknowledged",
    ("in_progress", "escalate"): "in_progress",
    ("waiting_on_customer", "escalate"): "waiting_on_customer",
}


async def _complaint_in(client: httpx.AsyncClient, customer_id: uuid.UUID, status: str) -> dict[str, object]:
    complaint = await create_complaint(client, customer_id, assignee_id=str(uuid.UUID(int=1)))
    for step in PATHS[status]:
        response = await act(client, str(complaint["id"]), step)
        assert response.status_code == 200, response.text
    current = (await client.get(f"/complaints/{complaint['id']}")).json()
    assert current["status"] == status
    return current


@pytest.mark.parametrize(("status", "action"), list(itertools.product(PATHS, ACTIONS)))
async def test_transition(client: httpx.AsyncClient, customer_id: uuid.UUID, status: str, action: str) -> None:
    before = await _complaint_in(client, customer_id, status)
    response = await act(client, str(before["id"]), action, note=f"{action} please")
    after = (await client.get(f"/complaints/{before['id']}")).json()
    expected = LEGAL.get((status, action))
    if expected is None:
        assert response.status_code == 409, response.text
        problem = response.json()
        assert problem["code"] == "illegal_transition"
        assert problem["allowed"] == [a for a in ACTIONS if (status, a) in LEGAL]
        assert after == before, "an illegal transition must change nothing"
        return
    assert response.status_code == 200, response.text
    assert after["status"] == expected
    last = after["history"][-1]
    assert (last["action"], last["from_status"], last["to_status"]) == (action, status, expected)
    assert last["actor"] == "agent-1"
    assert last["note"] == f"{action} please"
    assert after["allowed_actions"] == [a for a in ACTIONS if (expected, a) in LEGAL]
    if action == "escalate":
        assert after["escalated"] is True and after["escalation_level"] == 1
        assert after["escalated_to"] == str(uuid.UUID(int=101))
    if action == "reopen":
        assert after["resolved_at"] is None and after["closed_at"] is None
