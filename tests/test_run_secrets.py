"""`make run` signs with secrets of its own: made on the first start into the data folder, readable by
their owner only, reused after; and no process starts with the built-in secrets unless asked to."""

from __future__ import annotations

import importlib.util
import stat
import sys
from pathlib import Path
from types import ModuleType

import pytest
from pydantic import SecretStr

from crm_chassis.settings import DEV_INTERNAL_SECRET, ServiceSettings
from crm_customer.config import Settings as CustomerSettings
from crm_customer.main import create_app as create_customer
from crm_gateway.config import DEV_JWT_SECRET
from crm_gateway.config import Settings as GatewaySettings
from crm_gateway.main import create_app as create_gateway

ROOT = Path(__file__).parents[1]


def run_all() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_all_under_test", ROOT / "scripts/run_all.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for variable in ("CRM_INTERNAL_SECRET", "CRM_GATEWAY_JWT_SECRET"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("CRM_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_first_start_makes_private_secrets_and_later_starts_reuse_them(clean_env: Path) -> None:
    module = run_all()
    first = module.build_env()
    internal, jwt = first["CRM_INTERNAL_SECRET"], first["CRM_GATEWAY_JWT_SECRET"]
    assert internal != jwt
    assert DEV_INTERNAL_SECRET not in (internal, jwt) and DEV_JWT_SECRET not in (internal, jwt)
    assert len(internal) >= 32 and len(jwt) >= 32
    for name, value in (("internal_secret", internal), ("jwt_secret", jwt)):
        path = clean_env / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_text().strip() == value
    again = module.build_env()
    assert (again["CRM_INTERNAL_SECRET"], again["CRM_GATEWAY_JWT_SECRET"]) == (internal, jwt)


def test_a_secret_others_could_read_is_closed_and_a_set_variable_wins(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = run_all()
    made = module.build_env()["CRM_INTERNAL_SECRET"]
    (clean_env / "internal_secret").chmod(0o644)
    assert module.build_env()["CRM_INTERNAL_SECRET"] == made
    assert stat.S_IMODE((clean_env / "internal_secret").stat().st_mode) == 0o600
    monkeypatch.setenv("CRM_GATEWAY_JWT_SECRET", "x" * 40)
    assert module.build_env()["CRM_GATEWAY_JWT_SECRET"] == "x" * 40


def test_no_process_starts_with_a_built_in_secret_unless_development_or_test_is_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable in ("CRM_ENVIRONMENT", "CRM_INTERNAL_SECRET", "CRM_GATEWAY_JWT_SECRET"):
        monkeypatch.delenv(variable, raising=False)
    with pytest.raises(RuntimeError, match="CRM_INTERNAL_SECRET is not set"):
        create_customer(CustomerSettings())
    with pytest.raises(RuntimeError, match="CRM_INTERNAL_SECRET"):
        create_customer(CustomerSettings(environment="production"))
    with pytest.raises(RuntimeError, match="CRM_GATEWAY_JWT_SECRET is not set"):
        create_gateway(GatewaySettings(internal_secret=SecretStr("i" * 40)))
    with pytest.raises(RuntimeError, match="CRM_INTERNAL_SECRET is not set"):
        create_gateway(GatewaySettings(jwt_secret=SecretStr("j" * 40)))
    # what the migrations read needs no secret
    assert CustomerSettings().database_url
    create_customer(CustomerSettings(environment="development"))
    create_gateway(GatewaySettings(environment="test"))
    monkeypatch.setenv("CRM_ENVIRONMENT", "development")
    assert ServiceSettings().allows_dev_secrets
    chosen = GatewaySettings(
        environment="production", jwt_secret=SecretStr("j" * 40), internal_secret=SecretStr("i" * 40)
    )
    create_gateway(chosen)
