"""The client's address: the TCP peer, or what a trusted proxy says in X-Forwarded-For."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Sequence[str]) -> list[Network]:
    return [ipaddress.ip_network(entry.strip(), strict=False) for entry in entries]


def _trusted(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str | None:
    """The address of whoever is calling.

    X-Forwarded-For is read only when the peer is a trusted proxy, and then from the right: each
    trusted proxy appended the address it saw, and the first untrusted one is the client. Anything
    left of it was written by the client and could be invented, so it is never believed.
    """
    if peer is None or not forwarded_for or not _trusted(peer, trusted):
        return peer
    candidate = peer
    for hop in reversed([part.strip() for part in forwarded_for.split(",")]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return candidate
        candidate = hop
        if not _trusted(hop, trusted):
            return hop
    return candidate
