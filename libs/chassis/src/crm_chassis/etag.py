"""ETags from row versions: conditional reads (304) and guarded writes (428 / 412)."""

from __future__ import annotations

import hashlib

from fastapi import Request, Response
from pydantic import BaseModel

from crm_chassis.errors import PreconditionFailed, PreconditionRequired


def etag_for(version: int) -> str:
    return f'"{version}"'


def etag_of(representation: BaseModel) -> str:
    """A strong ETag for a representation that no one row's version covers (one worked out from
    several), changing whenever any of it does."""
    digest = hashlib.sha256(representation.model_dump_json().encode()).hexdigest()
    return f'"{digest[:24]}"'


def _tags(header: str) -> set[str]:
    return {t.strip().removeprefix("W/") for t in header.split(",") if t.strip()}


def not_modified(request: Request, etag: str) -> Response | None:
    """A 304 response when the client's If-None-Match already names this version."""
    header = request.headers.get("if-none-match")
    if header and (header.strip() == "*" or etag in _tags(header)):
        return Response(status_code=304, headers={"ETag": etag})
    return None


def require_if_match(request: Request, etag: str) -> None:
    """Refuse a write that does not name the current version (lost-update protection)."""
    header = request.headers.get("if-match")
    if header is None:
        raise PreconditionRequired("this request must carry an If-Match header with the ETag of the version it changes")
    if header.strip() != "*" and etag not in _tags(header):
        raise PreconditionFailed(
            "the resource has changed since it was read; fetch it again and retry", current_etag=etag
        )
