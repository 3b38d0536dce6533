"""What webhooks take from the outside world, replaceable in tests: time, DNS, network, chance."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from crm_chassis.db import utcnow
from crm_gateway.webhooks.targets import Resolver, system_resolver

Clock = Callable[[], datetime]


@dataclass
class WebhookRuntime:
    clock: Clock = utcnow
    resolver: Resolver = system_resolver
    transport: httpx.AsyncBaseTransport | None = None  # None: the real network
    random: Callable[[], float] = field(default_factory=lambda: random.SystemRandom().random)
