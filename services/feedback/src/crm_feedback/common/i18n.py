"""The languages the service writes its texts in, and which one a request asks for.

`Accept-Language` decides (RFC 9110 weights; `zh`, `zh-CN`, `zh-Hans`, `zh-SG` read as zh-CN);
without a language we write, `CRM_DEFAULT_LANGUAGE` does (default `en`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Request

from crm_feedback.common.deps import SettingsDep


class Language(StrEnum):
    en = "en"
    zh_CN = "zh-CN"


_ZH_TRADITIONAL = {"zh-tw", "zh-hk", "zh-mo", "zh-hant"}


def _match(tag: str) -> Language | None:
    tag = tag.strip().lower()
    if tag == "en" or tag.startswith("en-"):
        return Language.en
    if (tag == "zh" or tag.startswith("zh-")) and tag not in _ZH_TRADITIONAL:
        return Language.zh_CN
    return None


def negotiate(accept_language: str | None, default: Language) -> Language:
    """The best of our languages for an `Accept-Language` header; `default` when none fits."""
    choices: list[tuple[float, int, Language]] = []
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        language = _match(tag)
        if language is not None and weight > 0:
            choices.append((-weight, i, language))
    return min(choices)[2] if choices else default


async def request_language(request: Request, settings: SettingsDep) -> Language:
    return negotiate(request.headers.get("accept-language"), Language(settings.default_language))


LanguageDep = Annotated[Language, Depends(request_language)]


def language_headers(language: Language) -> dict[str, str]:
    """What a response rendered in `language` says about it."""
    return {"Content-Language": language.value, "Vary": "Accept-Language"}
