"""Texts in zh-CN: the built-in survey templates, reports in the language of Accept-Language (or
CRM_DEFAULT_LANGUAGE), the built-in CSAT survey, and a survey fetched by its token without login."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from feedback_helpers import act, create_complaint, make_customer
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_chassis.testing import internal_headers
from crm_feedback.common.i18n import Language, negotiate
from crm_feedback.surveys.models import SurveyInvitation

Db = async_sessionmaker[AsyncSession]
ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}
EN = {"Accept-Language": "en-GB"}
KINDS = ["satisfaction", "nps", "csat", "exit", "mystery_shopping"]


@pytest.fixture
def chinese_by_default(app: FastAPI) -> Iterator[None]:
    """The service as started with CRM_DEFAULT_LANGUAGE=zh-CN."""
    settings = app.state.settings
    before = settings.default_language
    settings.default_language = "zh-CN"
    yield
    settings.default_language = before


def test_accept_language_negotiation() -> None:
    assert negotiate("zh-CN,zh;q=0.9,en;q=0.8", Language.en) == Language.zh_CN
    assert negotiate("en;q=0.4, zh-Hans;q=0.6", Language.en) == Language.zh_CN
    assert negotiate("fr-FR, en;q=0.5", Language.zh_CN) == Language.en
    assert negotiate("zh-TW", Language.en) == Language.en  # traditional Chinese: not what we write
    assert negotiate("fr, de", Language.zh_CN) == Language.zh_CN
    assert negotiate("zh;q=0, en;q=bad", Language.en) == Language.en
    assert negotiate(None, Language.zh_CN) == Language.zh_CN


async def test_built_in_templates_in_both_languages(client: httpx.AsyncClient) -> None:
    zh = await client.get("/surveys/templates", headers=ZH)
    en = await client.get("/surveys/templates", headers=EN)
    assert zh.status_code == en.status_code == 200
    assert zh.headers["content-language"] == "zh-CN" and en.headers["content-language"] == "en"
    assert "accept-language" in zh.headers["vary"].lower()
    assert [t["kind"] for t in zh.json()] == [t["kind"] for t in en.json()] == KINDS
    for zh_t, en_t in zip(zh.json(), en.json(), strict=True):
        assert [q["key"] for q in zh_t["questions"]] == [q["key"] for q in en_t["questions"]]
        assert [q["type"] for q in zh_t["questions"]] == [q["type"] for q in en_t["questions"]]
        assert all(_has_han(q["text"]) for q in zh_t["questions"]) and _has_han(zh_t["title"])
        assert not any(_has_han(q["text"]) for q in en_t["questions"]) and not _has_han(en_t["title"])
        for zq, eq in zip(zh_t["questions"], en_t["questions"], strict=True):
            assert (zq.get("options") is None) == (eq.get("options") is None)
            if zq.get("options"):
                assert len(zq["options"]) == len(eq["options"]) and all(_has_han(o) for o in zq["options"])
    nps = (await client.get("/surveys/templates/nps", headers=ZH)).json()
    assert nps["title"] == "您会推荐我们吗？" and nps["questions"][0]["type"] == "nps"
    assert (await client.get("/surveys/templates/poll")).status_code == 422
    made = await client.post("/surveys/templates/exit", headers=ZH)
    assert made.status_code == 201, made.text
    survey = (await client.get(made.headers["location"])).json()
    assert survey["kind"] == "exit" and survey["title"] == "流失客户回访"
    assert survey["questions"][0]["options"][0] == "价格"


async def test_templates_follow_the_default_language(client: httpx.AsyncClient, chinese_by_default: None) -> None:
    plain = await client.get("/surveys/templates/csat")
    assert plain.headers["content-language"] == "zh-CN" and plain.json()["title"] == "投诉处理满意度"
    asked = await client.get("/surveys/templates/csat", headers=EN)
    assert asked.json()["title"] == "Complaint handling satisfaction"


async def test_report_in_the_language_asked(client: httpx.AsyncClient, chinese_by_default: None) -> None:
    survey = (await client.post("/surveys/templates/satisfaction", headers=EN)).json()
    url = f"/surveys/{survey['id']}/report"
    zh_json = await client.get(url)  # no Accept-Language: CRM_DEFAULT_LANGUAGE
    assert zh_json.headers["content-language"] == "zh-CN" and zh_json.json()["language"] == "zh-CN"
    assert _has_han(zh_json.json()["method"]["analysis"])
    en_json = (await client.get(url, headers=EN)).json()
    assert en_json["language"] == "en" and not _has_han(en_json["method"]["analysis"])
    zh_html = await client.get(url, params={"format": "html"})
    assert zh_html.headers["content-language"] == "zh-CN"
    page = zh_html.text
    assert '<html lang="zh-CN">' in page
    for heading in ("一、调查背景与目的", "二、调查方法", "三、分析与结果", "四、结论与改进措施"):
        assert heading in page
    assert "Background and purpose" not in page
    en_page = (await client.get(url, params={"format": "html"}, headers=EN)).text
    assert '<html lang="en">' in en_page and "Background and purpose" in en_page and "调查背景" not in en_page


async def test_built_in_csat_in_the_default_language(
    client: httpx.AsyncClient, customer_id: uuid.UUID, chinese_by_default: None
) -> None:
    complaint = await create_complaint(client, customer_id)
    for action in ("acknowledge", "start", "resolve"):
        response = await act(client, complaint["id"], action)
        assert response.status_code == 200, response.text
    invitation = response.json()["csat_invitation"]
    survey = (await client.get(f"/surveys/{invitation['survey_id']}")).json()
    assert survey["title"] == "投诉处理满意度" and [q["key"] for q in survey["questions"]] == [
        "satisfaction",
        "comment",
    ]


def anonymous() -> dict[str, str]:
    return internal_headers(role=None, subject="anonymous", kind="api_key")  # type: ignore[arg-type]


async def test_survey_by_token_without_login(client: httpx.AsyncClient, db: Db) -> None:
    customer = await make_customer(db, display_name="王芳")
    other = await make_customer(db)
    survey = (await client.post("/surveys/templates/nps", headers=ZH)).json()
    invited = await client.post(
        f"/surveys/{survey['id']}/invitations", json={"customer_ids": [str(customer), str(other)], "channel": "online"}
    )
    first, second = (i["token"] for i in invited.json()["items"])
    shown = await client.get(f"/surveys/by-token/{first}", headers=anonymous())
    assert shown.status_code == 200, shown.text
    body: dict[str, Any] = shown.json()
    assert set(body) == {"title", "questions"}
    assert body["title"] == "您会推荐我们吗？" and [q["key"] for q in body["questions"]] == ["recommend", "reason"]
    assert str(customer) not in shown.text and "王芳" not in shown.text and survey["id"] not in shown.text
    assert shown.headers["cache-control"] == "no-store"

    unknown = await client.get(f"/surveys/by-token/{'x' * 43}", headers=anonymous())
    assert unknown.status_code == 404 and unknown.json()["code"] == "invitation_not_found"
    assert (await client.get("/surveys/by-token/short", headers=anonymous())).status_code == 422
    answered = await client.post(
        "/surveys/responses", json={"token": first, "answers": {"recommend": 9}}, headers=anonymous()
    )
    assert answered.status_code == 201, answered.text
    again = await client.get(f"/surveys/by-token/{first}", headers=anonymous())
    assert again.status_code == 409 and again.json()["code"] == "already_responded"
    async with db.begin() as session:
        await session.execute(update(SurveyInvitation).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert (await client.get(f"/surveys/by-token/{second}", headers=anonymous())).status_code == 410


def _has_han(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)
