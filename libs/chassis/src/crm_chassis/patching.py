"""PATCH bodies: the fields a client sent, with the ones that may not be cleared refused."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from crm_chassis.errors import Unprocessable


def changes_of(data: BaseModel, *, not_nullable: Iterable[str] = (), mode: str = "python") -> dict[str, Any]:
    """The fields sent in `data` (absent ones are left alone, `null` clears), as a dict.

    A field named in `not_nullable` sent as `null` is a 422 with code `required`, in the same
    `errors[]` shape as request validation, before anything is changed.
    """
    changes = data.model_dump(exclude_unset=True, mode=mode)
    for name in not_nullable:
        if name in changes and changes[name] is None:
            raise Unprocessable.field(name, "required", f"{name} cannot be cleared")
    return changes
