"""User accounts travel from the gateway's outbox into the customer service's read model of users."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from alembic import command
from alembic.config import Config
from fastapi import FastAPI
from pydantic import SecretStr

from crm_chassis.consumer import EventConsumer, HttpFeedSource
from crm_chassis.identity import Principal, sign_internal_token
from crm_chassis.settings import DEV_INTERNAL_SECRET
from crm_chassis.testing import BACKENDS, internal_headers, migrate, scratch_database
from crm_customer.config import Settings as CustomerSettings
from crm_customer.db import infra as customer_infra
from crm_customer.main import create_app as create_customer
from crm_customer.users.handlers import USER_HANDLERS
from crm_gateway.config import Settings as GatewaySettings
from crm_gateway.main import create_app as create_gateway

ROOT = Path(__file__).parents[1]
ADMIN = ("flow-admin@crm.test", "flow-admin-password-2026")
STRONG = "plum-orchard-1987"


async def _migrate_gateway(url: str) -> None:
    config = Config(str(ROOT / "gateway/alembic.ini"))
    config.cmd_opts = argparse.Namespace(x=[f"url={url}"])
    await asyncio.to_thread(command.upgrade, config, "head")


@pytest.fixture(scope="module", params=BACKENDS)
async def apps(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, FastAPI]]:
    tmp = tmp_path_factory.mktemp("userflow")
    async with (
        scratch_database(request.param, tmp, "userflowgateway") as gateway_url,
        scratch_database(request.param, tmp, "userflowcustomer") as customer_url,
    ):
        await _migrate_gateway(gateway_url)
        await migrate(ROOT / "services/customer/alembic.ini", customer_url)
        gateway_settings = GatewaySettings(
            database_url=gateway_url,
            environment="test",
            webhook_workers=False,
            bootstrap_admin_email=ADMIN[0],
            bootstrap_admin_password=SecretStr(ADMIN[1]),
            log_level="WARNING",
        )
        customer = create_customer(CustomerSettings(database_url=customer_url, consume_events=False))
        apps = {
            "gateway": create_gateway(gateway_settings, transports={"customer": httpx.ASGITransport(app=customer)}),
            "customer": customer,
        }
        async with (
            apps["gateway"].router.lifespan_context(apps["gateway"]),
            apps["customer"].router.lifespan_context(apps["customer"]),
        ):
            yield apps


def _feed_token() -> str:
    return sign_internal_token(Principal.service("customer"), DEV_INTERNAL_SECRET)


async def test_users_made_in_the_gateway_own_customers_until_disabled(apps: dict[str, FastAPI]) -> None:
    gateway_transport = httpx.ASGITransport(app=apps["gateway"])
    customer_transport = httpx.ASGITransport(app=apps["customer"])
    async with (
        httpx.AsyncClient(transport=gateway_transport, base_url="http://gateway") as gateway,
        httpx.AsyncClient(
            transport=customer_transport, base_url="http://customer", headers=internal_headers()
        ) as customer,
    ):
        consumer = EventConsumer(
            name="gateway-events",
            source=HttpFeedSource(gateway, "http://gateway", _feed_token),
            sessionmaker=apps["customer"].state.sessionmaker,
            tables=customer_infra,
            handlers=USER_HANDLERS,
        )

        async def catch_up() -> None:
            while await consumer.poll_once(wait=0):
                pass

        login = await gateway.post("/api/v1/auth/token", data={"username": ADMIN[0], "password": ADMIN[1]})
        admin = {"Authorization": f"Bearer {login.json()['access_token']}"}
        me = (await gateway.get("/api/v1/auth/me", headers=admin)).json()
        made = await gateway.post(
            "/api/v1/users",
            headers=admin,
            json={"email": "li.na@crm.test", "password": STRONG, "role": "agent", "name": "Li Na"},
        )
        agent = made.json()["id"]
        body = {"kind": "individual", "name": "Zhang Wei", "owner_id": agent}

        early = await customer.post("/customers", json=body)
        assert early.status_code == 422 and early.json()["code"] == "invalid_owner"  # not heard of yet

        await catch_up()
        owned = await customer.post("/customers", json=body)
        assert owned.status_code == 201, owned.text
        assert owned.json()["owner_name"] == "Li Na"
        # the bootstrap admin is known too, as an approver
        concession = await customer.post(
            f"/customers/{owned.json()['id']}/concessions",
            json={"kind": "gift", "reason": "goodwill", "approver_id": me["id"]},
        )
        assert concession.status_code == 201, concession.text

        renamed = await gateway.patch(
            f"/api/v1/users/{agent}", headers={**admin, "If-Match": '"1"'}, json={"name": "Li Na (East)"}
        )
        assert renamed.status_code == 200
        await catch_up()
        assert (await customer.get(f"/customers/{owned.json()['id']}")).json()["owner_name"] == "Li Na (East)"

        # Li Na leaves: she still owns a customer, so disabling her needs a successor
        refused = await gateway.delete(f"/api/v1/users/{agent}", headers=admin)
        assert (refused.status_code, refused.json()["code"], refused.json()["customers"]) == (
            409,
            "user_owns_customers",
            1,
        )
        made = await gateway.post(
            "/api/v1/users",
            headers=admin,
            json={"email": "wang.fang@crm.test", "password": STRONG, "role": "manager", "name": "Wang Fang"},
        )
        successor = made.json()["id"]
        early = await gateway.delete(f"/api/v1/users/{agent}", headers=admin, params={"reassign_to": successor})
        assert (early.status_code, early.json()["errors"][0]["code"]) == (422, "invalid_owner")  # not heard of yet
        await catch_up()
        handed = await gateway.delete(
            f"/api/v1/users/{agent}", headers=admin, params={"reassign_to": successor, "reason": "Li Na left"}
        )
        assert handed.status_code == 204, handed.text
        await catch_up()

        read = (await customer.get(f"/customers/{owned.json()['id']}")).json()
        assert (read["owner_id"], read["owner_name"]) == (successor, "Wang Fang")
        history = (await customer.get(f"/customers/{owned.json()['id']}/owner-history")).json()["items"]
        assert [(h["from_owner_id"], h["to_owner_id"], h["reason"], h["changed_by"]) for h in history][-1] == (
            agent,
            successor,
            "Li Na left",
            me["id"],
        )
        gone = await customer.post("/customers", json=body)
        assert gone.status_code == 422 and "disabled" in gone.json()["detail"]
