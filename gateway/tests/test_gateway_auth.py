"""Signing in, the current user, and refusing every request without a valid bearer token."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from pydantic import SecretStr

from crm_chassis.identity import Principal, sign_internal_token
from crm_gateway.auth import security
from crm_gateway.config import DEFAULT_ADMIN_PASSWORD, Settings
from crm_gateway.main import create_app
from crm_gateway.users import repository as user_repository
from crm_gateway.users.models import Role

PROBLEM = "application/problem+json"


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": security.ISSUER, "aud": security.AUDIENCE, "sub": "", "iat": now, "exp": now + 60}
    return claims | overrides


async def _admin_id(gateway: Any, headers: dict[str, str]) -> str:
    response = await gateway.client.get("/api/v1/auth/me", headers=headers)
    return str(response.json()["id"])


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_token_for_right_credentials_is_a_pinned_hs256_jwt(gateway):
    response = await gateway.client.post(
        "/api/v1/auth/token", data={"username": "ROOT@crm.test", "password": "correct horse battery staple"}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert jwt.get_unverified_header(body["access_token"])["alg"] == "HS256"
    claims = security.decode_access_token(
        body["access_token"], gateway.app.state.settings.jwt_secret.get_secret_value()
    )
    assert claims["exp"] - claims["iat"] == 900


@pytest.mark.parametrize(
    ("username", "password"),
    [("root@crm.test", "wrong password"), ("nobody@crm.test", "correct horse battery staple")],
    ids=["wrong-password", "unknown-user"],
)
async def test_wrong_credentials_get_the_same_401_problem(gateway, username, password):
    response = await gateway.client.post("/api/v1/auth/token", data={"username": username, "password": password})

    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["detail"] == "wrong email or password"
    assert response.json()["code"] == "invalid_credentials"


async def test_token_request_without_password_is_422(gateway):
    response = await gateway.client.post("/api/v1/auth/token", data={"username": "root@crm.test"})

    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM


async def test_me_returns_the_signed_in_user(gateway):
    email = await gateway.add_user(role=Role.analyst)
    headers = await gateway.login(email, "pass-word-123")

    response = await gateway.client.get("/api/v1/auth/me", headers=headers)

    assert response.status_code == 200
    body = response.json()
    assert body["email"] == email
    assert body["role"] == "analyst"
    assert body["name"] == "Test User"
    assert set(body) == {"id", "email", "name", "role"}


async def test_disabled_user_gets_no_token(gateway):
    email = await gateway.add_user(is_active=False)

    response = await gateway.client.post("/api/v1/auth/token", data={"username": email, "password": "pass-word-123"})

    assert response.status_code == 401
    assert response.json()["detail"] == "wrong email or password"


async def test_token_of_a_user_disabled_since_is_refused(gateway):
    email = await gateway.add_user()
    headers = await gateway.login(email, "pass-word-123")
    async with gateway.app.state.sessionmaker.begin() as session:
        user = await user_repository.get_by_email(session, email)
        assert user is not None
        user.is_active = False

    response = await gateway.client.get("/api/v1/customers", headers=headers)

    assert response.status_code == 401
    assert "Bearer" in response.headers["www-authenticate"]
    assert gateway.seen("customer") == []


@pytest.mark.parametrize("path", ["/api/v1/auth/me", "/api/v1/customers", "/api/v1/no-such-thing"])
async def test_no_token_is_401_with_bearer_challenge(gateway, path):
    response = await gateway.client.get(path)

    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["code"] == "not_authenticated"


def _bad_tokens(gateway: Any, admin_id: str) -> dict[str, str]:
    secret = gateway.app.state.settings.jwt_secret.get_secret_value()
    internal_secret = gateway.app.state.settings.internal_secret.get_secret_value()
    good = _claims(sub=admin_id, jti="a1b2c3")
    return {
        "garbage": "not-a-jwt",
        "expired": jwt.encode(good | {"iat": int(time.time()) - 3600, "exp": int(time.time()) - 600}, secret),
        "alg-none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(good)}.",
        "other-secret": jwt.encode(good, "another-secret-of-enough-length-0123456789"),
        "wrong-audience": jwt.encode(good | {"aud": "someone-else"}, secret),
        "no-expiry": jwt.encode({k: v for k, v in good.items() if k != "exp"}, secret),
        "hs512": jwt.encode(good, secret, algorithm="HS512"),
        "internal-token": sign_internal_token(Principal(subject=admin_id, kind="user", role="admin"), internal_secret),
        "unknown-user": jwt.encode(good | {"sub": "00000000-0000-0000-0000-000000000000"}, secret),
        "sub-not-uuid": jwt.encode(good | {"sub": "admin"}, secret),
        # Revocation is by `jti`: a token without one could never be revoked, so it is refused.
        "no-jti": jwt.encode({k: v for k, v in good.items() if k != "jti"}, secret),
    }


@pytest.mark.parametrize(
    "kind",
    [
        "garbage",
        "expired",
        "alg-none",
        "other-secret",
        "wrong-audience",
        "no-expiry",
        "hs512",
        "internal-token",
        "unknown-user",
        "sub-not-uuid",
        "no-jti",
    ],
)
async def test_invalid_tokens_are_401_with_bearer_challenge(gateway, admin_headers, kind):
    token = _bad_tokens(gateway, await _admin_id(gateway, admin_headers))[kind]

    for path in ("/api/v1/auth/me", "/api/v1/customers"):
        response = await gateway.client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, (kind, path)
        assert response.headers["content-type"] == PROBLEM
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert gateway.seen("customer") == []


async def test_non_bearer_scheme_is_refused(gateway):
    response = await gateway.client.get("/api/v1/auth/me", headers={"Authorization": "Basic cm9vdDpwdw=="})

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_bootstrap_admin_is_created_once(open_gateway):
    async with open_gateway() as first:
        headers = await first.login()
        first_id = await _admin_id(first, headers)
    async with open_gateway(bootstrap_admin_password="a different password") as second:
        # The existing account is kept: a changed variable does not reset the password.
        await second.login()
        assert await _admin_id(second, await second.login()) == first_id


async def test_production_refuses_to_bootstrap_with_the_demo_password(database_url):

    settings = Settings(
        database_url=database_url,
        environment="production",
        jwt_secret=SecretStr("production-jwt-secret-0123456789abcdef"),
        internal_secret=SecretStr("production-internal-secret-0123456789ab"),
        bootstrap_admin_email="fresh-admin@crm.test",
        bootstrap_admin_password=SecretStr(DEFAULT_ADMIN_PASSWORD),
    )
    app = create_app(settings)
    with pytest.raises(RuntimeError, match="CRM_BOOTSTRAP_ADMIN_PASSWORD"):
        async with app.router.lifespan_context(app):
            pass


async def test_a_well_formed_token_of_the_gateway_is_accepted(gateway, admin_headers):
    """The counterpart of the refusals above: the same claims, signed right and with a `jti`, pass."""
    secret = gateway.app.state.settings.jwt_secret.get_secret_value()
    token = jwt.encode(_claims(sub=await _admin_id(gateway, admin_headers), jti="a1b2c3"), secret)

    response = await gateway.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
