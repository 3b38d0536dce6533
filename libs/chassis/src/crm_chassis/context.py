"""Per-request context carried through logs, outgoing calls, errors and links."""

from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
# The prefix the gateway serves this service under (`/api/v1`), from its `X-Forwarded-Prefix`.
forwarded_prefix_var: ContextVar[str] = ContextVar("forwarded_prefix", default="")
# The path of the request as the client called it: the prefix, then the path as sent (encoded).
public_path_var: ContextVar[str | None] = ContextVar("public_path", default=None)


def current_request_id() -> str | None:
    return request_id_var.get()


def current_public_path() -> str | None:
    """The path the client called, through the gateway (`/api/v1/orders/42`)."""
    return public_path_var.get()


def public_link(path: str) -> str:
    """A link to one of this service's paths (`/exports/7/download`) as clients must call it."""
    return forwarded_prefix_var.get() + path
