"""The survey analysis report (分析报告) in its four parts, as data; `report_html` renders it.

Conclusions come from the numbers: the weakest questions (satisfaction index below 1, or a mean
rating below 4, the CSAT line) and the complaint categories of the respondents, each mapped to a
countermeasure.
"""

from __future__ import annotations

from collections import Counter
from statistics import fmean
from typing import Any

from crm_feedback.analytics import metrics
from crm_feedback.analytics import repository as analytics_repo
from crm_feedback.analytics.satisfaction import response_rates, summary_from_totals
from crm_feedback.common.i18n import Language
from crm_feedback.db import Session
from crm_feedback.surveys import service as survey_service
from crm_feedback.surveys.models import Survey
from crm_feedback.surveys.schemas import Question, QuestionType

EN, ZH = Language.en, Language.zh_CN
PURPOSES = {
    EN: {
        "satisfaction": "Measure how customers' perception of our products and service compares with their "
        "expectations.",
        "nps": "Measure customers' willingness to recommend us (Net Promoter Score).",
        "csat": "Measure customers' satisfaction with a specific interaction (CSAT).",
        "mystery_shopping": "Assess service quality at stores and agents through inspectors posing as customers.",
        "exit": "Understand why customers left, to win back those worth keeping and prevent further losses.",
    },
    ZH: {
        "satisfaction": "衡量客户对我们产品和服务的实际感受与期望之间的差距。",
        "nps": "衡量客户向他人推荐我们的意愿（净推荐值 NPS）。",
        "csat": "衡量客户对某次具体服务的满意程度（CSAT）。",
        "mystery_shopping": "通过以顾客身份暗访的检查人员评估门店和业务员的服务质量。",
        "exit": "了解客户流失的原因，挽回值得挽留的客户，防止进一步流失。",
    },
}
CATEGORY_MEASURES = {
    EN: {
        "product_quality": "Review quality control with production and suppliers for the products complained about.",
        "service_attitude": "Retrain front-line staff in service etiquette and review incentives for courtesy.",
        "delivery": "Audit the delivery partners and packaging; set and monitor delivery-time targets.",
        "billing": "Reconcile billing rules and make invoices clearer; check for duplicate charges.",
        "after_sales": "Shorten after-sales response times and track repairs to completion.",
        "other": "Read these complaints individually and classify them to find recurring causes.",
    },
    ZH: {
        "product_quality": "针对被投诉的产品，与生产部门和供应商一起复查质量控制。",
        "service_attitude": "对一线员工重新进行服务礼仪培训，并检查服务态度的激励机制。",
        "delivery": "审查物流合作方和包装；制定并监控送达时限。",
        "billing": "核对计费规则，使发票更清晰；检查是否存在重复收费。",
        "after_sales": "缩短售后响应时间，跟踪维修直至完成。",
        "other": "逐条阅读这些投诉并加以分类，找出反复出现的原因。",
    },
}
TEXTS = {
    EN: {
        "improve": "Improve “{text}” (score {score}, below the satisfaction line of 1).",
        "detractors": "Detractors outnumber promoters: call every detractor back within a week.",
        "analysis": "NPS (promoters 9–10 minus detractors 0–6), CSAT (share of 4–5 ratings), "
        "satisfaction index (perception / expectation, < 1 dissatisfied), per question and overall.",
    },
    ZH: {
        "improve": "改进“{text}”（得分 {score}，低于满意线 1）。",
        "detractors": "贬损者多于推荐者：一周内逐一回访每位贬损者。",
        "analysis": "净推荐值 NPS（推荐者 9–10 分减去贬损者 0–6 分）、CSAT（4–5 分评价的占比）、"
        "满意度指数（实际感受 / 期望，小于 1 表示不满意），按题目和总体计算。",
    },
}


def _numbers(values: list[Any], low: int, high: int) -> list[int]:
    return [v for v in values if isinstance(v, int) and not isinstance(v, bool) and low <= v <= high]


def question_result(question: Question, values: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"key": question.key, "type": question.type, "text": question.text}
    if question.type == QuestionType.nps:
        scores = _numbers(values, 0, 10)
        out |= {"distribution": [scores.count(i) for i in range(11)], "nps": metrics.nps(scores)}
    elif question.type == QuestionType.rating:
        scores = _numbers(values, 1, 5)
        out |= {
            "distribution": [scores.count(i) for i in range(1, 6)],
            "mean": round(fmean(scores), 4) if scores else None,
            "csat": metrics.csat(scores),
        }
    elif question.type == QuestionType.expectation_perception:
        pairs = [v for v in values if isinstance(v, dict) and v.get("expectation")]
        ratios = [p["perception"] / p["expectation"] for p in pairs]
        out |= {
            "expectation_mean": round(fmean(p["expectation"] for p in pairs), 4) if pairs else None,
            "perception_mean": round(fmean(p["perception"] for p in pairs), 4) if pairs else None,
            "satisfaction_index": metrics.satisfaction_index(ratios),
        }
    elif question.type in (QuestionType.single_choice, QuestionType.multiple_choice):
        chosen = Counter(c for v in values for c in (v if isinstance(v, list) else [v]))
        out |= {"counts": {option: chosen.get(option, 0) for option in question.options or []}}
    else:
        texts = [v for v in values if isinstance(v, str)]
        out |= {"answers": len(texts), "latest": texts[-5:]}
    out["n"] = len(values)
    return out


def weakest(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Questions below the satisfaction line, weakest first (rating mean scaled so 4 ≙ index 1)."""
    scored = []
    for r in results:
        if r["type"] == QuestionType.expectation_perception and r["satisfaction_index"]["index"] is not None:
            scored.append((r["satisfaction_index"]["index"], r))
        elif r["type"] == QuestionType.rating and r["mean"] is not None:
            scored.append((r["mean"] / 4, r))
    return [
        {"key": r["key"], "text": r["text"], "score": round(score, 4)}
        for score, r in sorted(scored, key=lambda s: s[0])
        if score < 1
    ]


async def build(session: Session, survey: Survey, language: Language = Language.en) -> dict[str, Any]:
    """The report; the texts it writes itself (purpose, method, countermeasures) in `language`."""
    questions = await survey_service.questions(session, survey)
    answer_rows = await analytics_repo.answers(session, survey.id)
    totals = (await analytics_repo.score_totals(session, survey_id=survey.id)).get(0)
    counts = await analytics_repo.invitation_counts(session, survey_id=survey.id)
    invited = sum(total for total, _ in counts.values())
    answered = sum(done for _, done in counts.values())
    results = [question_result(q, [a[q.key] for a in answer_rows if q.key in a]) for q in questions]
    categories = await analytics_repo.complaint_categories_of_respondents(session, survey.id)
    weak = weakest(results)
    texts, measures = TEXTS[language], CATEGORY_MEASURES[language]
    countermeasures = [texts["improve"].format(text=w["text"], score=w["score"]) for w in weak]
    countermeasures += [measures[c] for c, _ in categories[:3] if c in measures]
    overall = summary_from_totals(totals)
    if overall["nps"]["score"] is not None and overall["nps"]["score"] < 0:
        countermeasures.append(texts["detractors"])
    return {
        "survey": {"id": survey.id, "title": survey.title, "kind": survey.kind, "version": survey.current_version},
        "language": language.value,
        "background": {"purpose": survey.description or PURPOSES[language].get(survey.kind, ""), "kind": survey.kind},
        "method": {
            "sample_size": invited,
            "responses": overall["responses"],
            "response_rate": metrics.rate(answered, invited),
            "channels": response_rates(counts),
            "period": {
                "first": totals.first_at if totals is not None else None,
                "last": totals.last_at if totals is not None else None,
            },
            "analysis": texts["analysis"],
        },
        "results": {**overall, "questions": results},
        "conclusions": {
            "weakest_questions": weak,
            "complaint_categories": [{"category": c, "complaints": n} for c, n in categories],
            "countermeasures": countermeasures,
        },
    }
