"""`/api/v1/meta/enums`: labels in the caller's language."""

from __future__ import annotations

import pytest

from crm_gateway.meta.router import preferred_language
from crm_gateway.users.models import Role


async def _enums(gateway, headers, **params):
    return await gateway.client.get("/api/v1/meta/enums", headers=headers, params=params)


@pytest.mark.parametrize("role", list(Role))
async def test_labels_follow_accept_language_and_lang_wins(gateway, role):
    _, headers = await gateway.signed_in(role)

    english = await _enums(gateway, headers | {"Accept-Language": "fr;q=1, en-GB;q=0.8, zh;q=0.5"})
    chinese = await _enums(gateway, headers | {"Accept-Language": "en"}, lang="zh-CN")
    default = await _enums(gateway, headers)

    assert english.status_code == 200, english.text
    assert english.headers["content-language"] == "en" and english.json()["lang"] == "en"
    stages = {v["value"]: v["label"] for v in english.json()["enums"]["lifecycle_stage"]}
    assert stages["at_risk"] == "At risk"
    assert {v["value"]: v["label"] for v in chinese.json()["enums"]["lifecycle_stage"]}["at_risk"] == "流失风险"
    assert chinese.headers["content-language"] == "zh-CN"
    assert default.json()["lang"] == "zh-CN"
    names = set(english.json()["enums"])
    assert {"interaction_channel", "lifecycle_stage", "value_segment", "complaint_category", "user_role"} <= names


async def test_an_unknown_language_is_422_listing_the_supported_ones(gateway):
    _, headers = await gateway.signed_in(Role.agent)

    response = await _enums(gateway, headers, lang="fr")

    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["field"] == "query.lang" and "zh-CN" in error["message"] and "en" in error["message"]


def test_accept_language_weights_and_defaults():
    assert preferred_language("en-US,en;q=0.9,zh-CN;q=0.8") == "en"
    assert preferred_language("zh-Hans-CN, en;q=0.5") == "zh-CN"
    assert preferred_language("en;q=0.2, zh-CN;q=0.9") == "zh-CN"
    assert preferred_language("de, fr") == "zh-CN"
    assert preferred_language("en;q=bogus, zh;q=0") == "zh-CN"
    assert preferred_language(None) == "zh-CN"
