from __future__ import annotations

from dataclasses import dataclass

from crm_chassis.identity import Principal


@dataclass(frozen=True)
class ImportContext:
    """What a kind's row handler needs besides the rows: the caller and the service's settings."""

    principal: Principal
    phone_region: str
