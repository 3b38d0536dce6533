"""Control characters are refused at the door: in the path, the query, JSON and form bodies.

A NUL byte cannot be stored in a PostgreSQL text column (it answered 500), and other control
characters in a name or a reference only ever come from broken or hostile clients. Free text in a
body may hold tab, line feed and carriage return; the path and the query may hold none. Unpaired
UTF-16 surrogates (which JSON's `\\ud800` escapes can produce) are refused for the same reason: no
database can store them as text. CSV cells are checked by the import's own reader (`find_control`).
A JSON body that is not UTF-8 is a 400, as the documents say, whatever its first bytes look like.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_chassis.middleware import send_problem

# C0 controls except tab, LF and CR; DEL; C1 controls; lone surrogates.
TEXT_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# The same, tab, LF and CR included: for paths, query strings, keys.
ALL_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
CODE = "control_character"
MESSAGE = "control characters (such as NUL) are not allowed here"


def find_control(text: str, *, free_text: bool = True) -> int | None:
    """The position of the first forbidden character in `text`, or None."""
    match = (TEXT_CONTROLS if free_text else ALL_CONTROLS).search(text)
    return match.start() if match else None


def _printable(name: str) -> str:
    return name.encode("unicode_escape").decode("ascii") if ALL_CONTROLS.search(name) else name


def _walk(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, str):
        if TEXT_CONTROLS.search(value):
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{_printable(key)}"
            if ALL_CONTROLS.search(key):
                yield child
            else:
                yield from _walk(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}.{index}")


def _query_fields(raw: bytes) -> list[str]:
    text = raw.decode("latin-1")
    fields = []
    for name, value in parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="surrogateescape"):
        if ALL_CONTROLS.search(name) or ALL_CONTROLS.search(value):
            fields.append(f"query.{_printable(name)}")
    return fields


def _media_type(scope: Scope) -> str:
    for key, value in scope.get("headers", ()):
        if key == b"content-type":
            return str(value.decode("latin-1")).split(";", 1)[0].strip().lower()
    return ""


class ControlCharacterMiddleware:
    """422 `validation_failed` (each field's code `control_character`) before the app sees the request.

    JSON and form bodies are read whole (the body limit, outside this middleware, bounds them) and
    handed on unchanged; other bodies (CSV uploads) stream through untouched.
    """

    def __init__(self, app: ASGIApp, max_errors: int = 20) -> None:
        self.app = app
        self.max_errors = max_errors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        fields: list[str] = []
        if ALL_CONTROLS.search(scope["path"]):
            fields.append("path")
        fields += _query_fields(scope.get("query_string", b""))
        media = _media_type(scope)
        is_json = media == "application/json" or media.endswith("+json")
        is_form = media == "application/x-www-form-urlencoded"
        if not fields and (is_json or is_form):
            body, receive = await _buffer(receive)
            if is_json:
                try:
                    text = body.decode("utf-8")
                except UnicodeDecodeError:
                    # JSON travels as UTF-8 (RFC 8259); json.loads would guess UTF-16 from a BOM-like start
                    await send_problem(send, 400, "bad_request", "the body is not UTF-8 text", scope=scope)
                    return
                try:
                    document = json.loads(text) if text.strip() else None
                except (ValueError, RecursionError):
                    document = None  # not JSON: the app's own validation says so
                fields += list(_walk(document, "body"))
            else:
                fields += [f"body.{f.removeprefix('query.')}" for f in _query_fields(body)]
        if fields:
            shown = fields[: self.max_errors]
            errors = [{"field": f, "code": CODE, "message": MESSAGE} for f in shown]
            await send_problem(
                send, 422, "validation_failed", f"invalid input: {', '.join(shown)}", errors=errors, scope=scope
            )
            return
        await self.app(scope, receive, send)


async def _buffer(receive: Receive) -> tuple[bytes, Receive]:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away; the app sees an empty body
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay
