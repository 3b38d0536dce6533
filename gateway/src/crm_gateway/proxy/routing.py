"""Which service owns a public path: an ordered table, most specific route first.

The table is an allow-list. A path it does not name (`/internal/...` among them) is never
forwarded, so nothing a service keeps for its peers can be reached from outside.
"""

from __future__ import annotations

from dataclasses import dataclass

ANY = "*"  # matches exactly one path segment


@dataclass(frozen=True)
class Route:
    pattern: tuple[str, ...]
    upstream: str

    def matches(self, segments: list[str]) -> bool:
        if len(segments) < len(self.pattern):
            return False
        return all(want in (ANY, got) for want, got in zip(self.pattern, segments, strict=False))


def _routes(upstream: str, *paths: str) -> list[Route]:
    return [Route(tuple(path.split("/")), upstream) for path in paths]


ROUTES: tuple[Route, ...] = (
    *_routes("scoring", "customers/*/scores", "customers/*/churn-reasons"),
    *_routes(
        "scoring",
        "scores",
        "scoring",
        "care",
        "retention",
        "analytics/retention",
        "analytics/segments",
        "analytics/abc",
        "analytics/churn",
    ),
    *_routes(
        "feedback",
        "complaints",
        "sla-policies",
        "sla-calendars",
        "suggestions",
        "service-records",
        "surveys",
        "analytics/satisfaction",
        "analytics/complaints",
    ),
    *_routes("customer", "analytics/care-budget"),
    *_routes(
        "customer",
        "customers",
        "orders",
        "interactions",
        "merges",
        "imports",
        "exports",
        "prospects",
        "campaigns",
        "loyalty",
    ),
)


def split_path(path: str) -> list[str] | None:
    """The segments of a service path, or None when it could escape its route.

    Dot segments are refused because URL normalisation (httpx does it) would turn
    `customers/../internal/events` into `/internal/events` after the route was chosen.
    """
    segments = path.removeprefix("/").removesuffix("/").split("/")
    if any(segment in {"", ".", ".."} for segment in segments):
        return None
    return segments


def resolve(path: str, routes: tuple[Route, ...] = ROUTES) -> str | None:
    """The upstream that owns `path` (a service path such as `customers/42/scores`), or None."""
    segments = split_path(path)
    if not segments:
        return None
    for route in routes:
        if route.matches(segments):
            return route.upstream
    return None
