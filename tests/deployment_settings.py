"""What each process reads from its environment, taken from the settings classes themselves.

The deployment files (docker-compose.yml, deploy/k8s) are checked against this, so a variable
that nothing reads, or a required one that nobody sets, fails a test instead of a deployment.
"""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import BaseSettings

from crm_chassis.serve import ServerSettings
from crm_customer.config import Settings as CustomerSettings
from crm_feedback.config import Settings as FeedbackSettings
from crm_gateway.config import Settings as GatewaySettings
from crm_scoring.config import Settings as ScoringSettings

SETTINGS: dict[str, type[BaseSettings]] = {
    "customer": CustomerSettings,
    "scoring": ScoringSettings,
    "feedback": FeedbackSettings,
    "gateway": GatewaySettings,
}


def _names(settings: type[BaseSettings], prefix: str) -> dict[str, bool]:
    """Every variable the class reads, each with whether a production deployment must set it.

    Required: secrets, and URLs (the database and the other services), whose development
    defaults (SQLite files, 127.0.0.1 ports) are wrong anywhere else.
    """
    names = {}
    for field_name, info in settings.model_fields.items():
        alias = info.validation_alias
        name = alias if isinstance(alias, str) else prefix + field_name.upper()
        names[name] = info.annotation is SecretStr or field_name.endswith("_url")
    return names


def read_by(service: str) -> dict[str, bool]:
    """Variables the service's process reads (its settings and its server's), and which are required."""
    prefix = f"CRM_{service.upper()}_"
    names = _names(SETTINGS[service], str(SETTINGS[service].model_config.get("env_prefix", "")))
    names.update(_names(ServerSettings, prefix))
    return names


def required_by(service: str) -> set[str]:
    return {name for name, required in read_by(service).items() if required}
