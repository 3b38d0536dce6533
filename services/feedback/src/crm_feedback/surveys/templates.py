"""The built-in survey templates, one per survey kind, with every text in English and Chinese.

A template is what `POST /surveys` takes, in one language; `GET /surveys/templates` shows them and
`POST /surveys/templates/{kind}` defines a survey from one. The CSAT sent after a resolved complaint
is the `csat` template in `CRM_DEFAULT_LANGUAGE`. Question keys are the same in both languages,
so answers in either are analysed together.
"""

from __future__ import annotations

from typing import Any

from crm_feedback.common.i18n import Language
from crm_feedback.surveys.schemas import SurveyKind

T = dict[Language, str]
EN, ZH = Language.en, Language.zh_CN


def _q(
    key: str,
    type: str,
    text: T,
    options: dict[Language, list[str]] | None = None,
    required: bool = True,
    reason_codes: list[str] | None = None,
) -> Any:
    """`reason_codes`: the question is the survey's reason question, its options' codes in order."""
    return {"key": key, "type": type, "text": text, "options": options, "required": required, "codes": reason_codes}


def _choices(*pairs: tuple[str, str]) -> dict[Language, list[str]]:
    return {EN: [en for en, _ in pairs], ZH: [zh for _, zh in pairs]}


_TEMPLATES: dict[SurveyKind, dict[str, Any]] = {
    SurveyKind.satisfaction: {
        "title": {EN: "Customer satisfaction survey", ZH: "客户满意度调查"},
        "description": {
            EN: "How our products and service compare with what customers expected of them.",
            ZH: "了解客户对我们产品和服务的实际感受与期望之间的差距。",
        },
        "questions": [
            _q(
                "product_quality",
                "expectation_perception",
                {EN: "Product quality: what you expected, and what you got", ZH: "产品质量：您的期望与实际感受"},
            ),
            _q(
                "service_attitude",
                "expectation_perception",
                {EN: "Our staff's service: what you expected, and what you got", ZH: "服务态度：您的期望与实际感受"},
            ),
            _q(
                "delivery_speed",
                "expectation_perception",
                {EN: "Delivery speed: what you expected, and what you got", ZH: "交付速度：您的期望与实际感受"},
            ),
            _q(
                "value_for_money",
                "expectation_perception",
                {EN: "Value for money: what you expected, and what you got", ZH: "性价比：您的期望与实际感受"},
            ),
            _q("overall", "rating", {EN: "Overall, how satisfied are you with us?", ZH: "总体而言，您对我们满意吗？"}),
            _q(
                "improve",
                "text",
                {EN: "What should we improve first?", ZH: "您最希望我们首先改进哪些方面？"},
                required=False,
            ),
        ],
    },
    SurveyKind.nps: {
        "title": {EN: "Would you recommend us?", ZH: "您会推荐我们吗？"},
        "description": {
            EN: "Net Promoter Score: customers' willingness to recommend us.",
            ZH: "净推荐值（NPS）：衡量客户向他人推荐我们的意愿。",
        },
        "questions": [
            _q(
                "recommend",
                "nps",
                {
                    EN: "How likely are you to recommend us to a friend or colleague? (0–10)",
                    ZH: "您有多大可能向朋友或同事推荐我们？（0–10 分）",
                },
            ),
            _q(
                "reason",
                "text",
                {EN: "What is the main reason for your score?", ZH: "您给出这个分数的主要原因是什么？"},
                required=False,
            ),
        ],
    },
    SurveyKind.csat: {
        "title": {EN: "Complaint handling satisfaction", ZH: "投诉处理满意度"},
        "description": {
            EN: "Sent when a complaint is resolved, to measure how its handling was received.",
            ZH: "投诉处理完毕后发送，了解客户对处理过程的满意程度。",
        },
        "questions": [
            _q(
                "satisfaction",
                "rating",
                {
                    EN: "How satisfied are you with how we handled your complaint?",
                    ZH: "您对我们处理您投诉的方式满意吗？",
                },
            ),
            _q(
                "comment",
                "text",
                {EN: "Anything we could have done better?", ZH: "我们还有哪些地方可以做得更好？"},
                required=False,
            ),
        ],
    },
    SurveyKind.exit: {
        "title": {EN: "Why did you leave us?", ZH: "流失客户回访"},
        "description": {
            EN: "Why customers left: to win back those worth keeping and prevent further losses.",
            ZH: "了解客户流失的原因，挽回值得挽留的客户，防止进一步流失。",
        },
        "questions": [
            _q(
                "reason",
                "single_choice",
                {
                    EN: "What was the main reason you stopped buying from us?",
                    ZH: "您不再购买我们产品的主要原因是什么？",
                },
                _choices(
                    ("Price", "价格"),
                    ("Product quality", "产品质量"),
                    ("Service", "服务"),
                    ("A competitor's offer", "竞争对手的优惠"),
                    ("No longer needed", "不再需要"),
                    ("Other", "其他"),
                ),
                reason_codes=["price", "product_quality", "service", "competitor", "no_longer_needed", "other"],
            ),
            _q(
                "come_back",
                "rating",
                {
                    EN: "How likely are you to buy from us again? (1–5)",
                    ZH: "您再次购买我们产品的可能性有多大？（1–5 分）",
                },
            ),
            _q(
                "win_back",
                "text",
                {EN: "What would make you come back?", ZH: "我们怎样做才能让您回来？"},
                required=False,
            ),
        ],
    },
    SurveyKind.mystery_shopping: {
        "title": {EN: "Mystery shopping inspection", ZH: "神秘顾客暗访"},
        "description": {
            EN: "Service quality at a store or agent, assessed by an inspector posing as a customer.",
            ZH: "由暗访人员以普通顾客身份评估门店或业务员的服务质量。",
        },
        "questions": [
            _q(
                "greeting",
                "rating",
                {EN: "Were you greeted promptly and politely? (1–5)", ZH: "是否及时、礼貌地接待？（1–5 分）"},
            ),
            _q(
                "product_knowledge",
                "rating",
                {EN: "How well did the staff know the products? (1–5)", ZH: "员工对产品的熟悉程度如何？（1–5 分）"},
            ),
            _q(
                "environment",
                "rating",
                {EN: "How clean and orderly was the place? (1–5)", ZH: "环境是否整洁有序？（1–5 分）"},
            ),
            _q(
                "followed_process",
                "single_choice",
                {EN: "Did the staff follow the service process?", ZH: "员工是否按服务流程操作？"},
                _choices(("Yes", "是"), ("Partly", "部分"), ("No", "否")),
            ),
            _q("notes", "text", {EN: "What did you observe?", ZH: "暗访记录"}, required=False),
        ],
    },
}


def template(kind: SurveyKind, language: Language) -> dict[str, Any]:
    """The template of `kind` in `language`, shaped like a `POST /surveys` body."""
    data = _TEMPLATES[kind]
    questions = []
    for q in data["questions"]:
        question = {"key": q["key"], "type": q["type"], "text": q["text"][language], "required": q["required"]}
        if q["options"] is not None:
            question["options"] = q["options"][language]
        if q["codes"] is not None:
            question["churn_reason"] = True
            question["reason_codes"] = dict(zip(q["options"][language], q["codes"], strict=True))
        questions.append(question)
    return {
        "kind": kind,
        "language": language,
        "title": data["title"][language],
        "description": data["description"][language],
        "questions": questions,
    }


def kinds() -> list[SurveyKind]:
    return list(_TEMPLATES)
