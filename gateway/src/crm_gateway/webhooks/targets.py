"""Where a webhook may be sent: http(s) URLs whose host resolves only to public addresses (SSRF).

Checked when a subscription is created or changed, and again before every attempt, because what a
name resolves to can change after it was accepted. The attempt then connects to the very address
that was checked (the name goes in `Host` and in TLS SNI, so certificates are still verified
against it): resolving twice would let a rebinding DNS server answer a public address to the check
and a private one to the connection.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

Resolver = Callable[[str, int], Awaitable[list[str]]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeTarget(ValueError):
    """The URL may not receive webhooks; the message says why, for the admin who gave it."""


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def refusal(address: IPAddress) -> str | None:
    """Why `address` is not a public one, or None when it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is loopback, whatever its spelling
    # The specific kinds first: 0.0.0.0 and 127.0.0.1 are also "private" to the ipaddress module.
    for reason, flagged in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        # Shared address space (100.64/10), documentation ranges and the like.
        ("non-public", not address.is_global),
    ):
        if flagged:
            return reason
    return None


@dataclass(frozen=True)
class Target:
    url: httpx.URL
    address: str  # the checked address the request connects to

    def request_parts(self) -> tuple[httpx.URL, dict[str, str], dict[str, str]]:
        """URL pointing at the checked address, the `Host` header, and the TLS server name."""
        host_header = self.url.netloc.decode("ascii")
        extensions = {"sni_hostname": self.url.host} if self.url.scheme == "https" else {}
        return self.url.copy_with(host=self.address), {"Host": host_header}, extensions


async def check(url: str, resolver: Resolver, *, allow_private: bool) -> Target:
    """The target of `url`; `UnsafeTarget` when webhooks may not go there."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise UnsafeTarget(f"not a valid URL: {exc}") from exc
    if parsed.scheme not in {"http", "https"}:
        raise UnsafeTarget("the URL must start with http:// or https://")
    if not parsed.host:
        raise UnsafeTarget("the URL has no host")
    if parsed.userinfo:
        raise UnsafeTarget("the URL may not carry a user name or password; authenticate with the signature")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    literal = True
    try:
        addresses = [ipaddress.ip_address(parsed.host)]
    except ValueError:
        literal = False
        try:
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in await resolver(parsed.host, port)]
        except (OSError, UnicodeError, ValueError) as exc:
            raise UnsafeTarget(f"the host {parsed.host} does not resolve") from exc
    if not addresses:
        raise UnsafeTarget(f"the host {parsed.host} does not resolve")
    if not allow_private:
        for address in addresses:
            reason = refusal(address)
            if reason is not None:
                where = f"{address} is" if literal else f"the host {parsed.host} resolves to {address},"
                raise UnsafeTarget(
                    f"{where} a {reason} address; webhooks go only to public addresses "
                    "unless CRM_GATEWAY_WEBHOOK_ALLOW_PRIVATE is set"
                )
    return Target(parsed, str(addresses[0]))
