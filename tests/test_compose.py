"""docker-compose.yml is valid compose and wires every service to its own schema."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from deployment_settings import SETTINGS, read_by, required_by

ROOT = Path(__file__).parents[1]


def test_compose_file_validates() -> None:
    if shutil.which("docker-compose") is None:
        pytest.fail("docker-compose is not installed (Debian package docker-compose); .ci/run installs it")
    result = subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_each_service_has_its_own_schema_role_and_migration() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    for name in ("customer", "scoring", "feedback", "gateway"):
        url = services[name]["environment"][f"CRM_{name.upper()}_DATABASE_URL"]
        assert url.startswith(f"postgresql+asyncpg://{name}:")
        assert services[name]["depends_on"][f"{name}-migrate"]["condition"] == "service_completed_successfully"
        assert "healthcheck" in services[name]
    assert "-js" in services["nats"]["command"]


def test_every_variable_compose_sets_is_read_and_every_required_one_is_set() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name, service in services.items():
        process = name.removesuffix("-migrate")
        if process not in SETTINGS:
            continue
        env = {key for key in service.get("environment", {}) if key.startswith("CRM_")}
        unread = env - set(read_by(process))
        assert not unread, f"{name} sets variables no settings class reads: {sorted(unread)}"
        if name == process:
            missing = required_by(process) - env
            assert not missing, f"{name} does not set {sorted(missing)}"
