"""`/api/v1/meta/enums`: every enum's values with labels for people, in their language."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response
from pydantic import BaseModel, Field

from crm_gateway.auth.principals import AuthorisedDep
from crm_gateway.config import PUBLIC_PREFIX
from crm_gateway.meta.labels import LABELS

router = APIRouter(prefix=PUBLIC_PREFIX + "/meta", tags=["meta"])
Language = Literal["zh-CN", "en"]
DEFAULT_LANGUAGE: Language = "zh-CN"  # the staff of the business; English on request


class EnumValue(BaseModel):
    value: str
    label: str


class EnumCatalogue(BaseModel):
    lang: Language = Field(description="the language of the labels")
    enums: dict[str, list[EnumValue]] = Field(description="by enum name, its values in display order")


def preferred_language(accept_language: str | None) -> Language:
    """The first supported language of an `Accept-Language` header, by weight; zh-CN without one."""
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and weight > 0:
            ranked.append((-weight, position, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        if tag == "zh" or tag.startswith(("zh-cn", "zh-hans", "zh-sg")):
            return "zh-CN"
        if tag == "en" or tag.startswith("en-"):
            return "en"
    return DEFAULT_LANGUAGE


@router.get("/enums", response_model=EnumCatalogue, summary="Every enum's values with display labels")
async def list_enums(
    principal: AuthorisedDep,
    response: Response,
    lang: Annotated[Language | None, Query(description="zh-CN or en; wins over Accept-Language")] = None,
    accept_language: Annotated[str | None, Header(max_length=500)] = None,
) -> EnumCatalogue:
    """Channels, stages, segments, categories, roles and the rest, as a picker should show them."""
    chosen = lang or preferred_language(accept_language)
    column = 1 if chosen == "zh-CN" else 0
    response.headers["Content-Language"] = chosen
    response.headers["Vary"] = "Accept-Language"
    enums = {
        name: [EnumValue(value=value, label=labels[column]) for value, labels in values.items()]
        for name, values in LABELS.items()
    }
    return EnumCatalogue(lang=chosen, enums=enums)
