"""The survey analysis report (分析报告) in its four parts, as data; `report_html` renders it.

Conclusions come from the numbers: the weakest questions (satisfaction index below 1, or a mean
rating below 4, the CSAT line) and the complaint categories of the respondents, each mapped to a
countermeasure.
"""

from __future__ import annotations

from collections import Counter
from statistics import fmean
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_feedback.analytics import metrics
from crm_feedback.analytics import repository as analytics_repo
from crm_feedback.analytics.satisfaction import response_rates, summary_from_totals
from crm_feedback.surveys import service as survey_service
from crm_feedback.surveys.models import Survey
from crm_feedback.surveys.schemas import Question, QuestionType

PURPOSES = {
    "satisfaction": "Measure how customers' perception of our products and service compares with their expectations.",
    "nps": "Measure customers' willingness to recommend us (Net Promoter Score).",
    "csat": "Measure customers' satisfaction with a specific interaction (CSAT).",
    "mystery_shopping": "Assess service quality at stores and agents through inspectors posing as customers.",
    "exit": "Understand why customers left, to win back those worth keeping and prevent further losses.",
}
CATEGORY_MEASURES = {
    "product_quality": "Review quality control with production and suppliers for the products complained about.",
    "service_attitude": "Retrain front-line staff in service etiquette and review incentives for courtesy.",
    "delivery": "Audit the delivery partners and packaging; set and monitor delivery-time targets.",
    "billing": "Reconcile billing rules and make invoices clearer; check for duplicate charges.",
    "after_sales": "Shorten after-sales response times and track repairs to completion.",
    "other": "Read these complaints individually and classify them to find recurring causes.",
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


async def build(session: AsyncSession, survey: Survey) -> dict[str, Any]:
    questions = await survey_service.questions(session, survey)
    answer_rows = await analytics_repo.answers(session, survey.id)
    totals = (await analytics_repo.score_totals(session, survey_id=survey.id)).get(0)
    counts = await analytics_repo.invitation_counts(session, survey_id=survey.id)
    invited = sum(total for total, _ in counts.values())
    answered = sum(done for _, done in counts.values())
    results = [question_result(q, [a[q.key] for a in answer_rows if q.key in a]) for q in questions]
    categories = await analytics_repo.complaint_categories_of_respondents(session, survey.id)
    weak = weakest(results)
    countermeasures = [f"Improve “{w['text']}” (score {w['score']}, below the satisfaction line of 1)." for w in weak]
    countermeasures += [CATEGORY_MEASURES[c] for c, _ in categories[:3] if c in CATEGORY_MEASURES]
    overall = summary_from_totals(totals)
    if overall["nps"]["score"] is not None and overall["nps"]["score"] < 0:
        countermeasures.append("Detractors outnumber promoters: call every detractor back within a week.")
    return {
        "survey": {"id": survey.id, "title": survey.title, "kind": survey.kind, "version": survey.current_version},
        "background": {"purpose": survey.description or PURPOSES.get(survey.kind, ""), "kind": survey.kind},
        "method": {
            "sample_size": invited,
            "responses": overall["responses"],
            "response_rate": metrics.rate(answered, invited),
            "channels": response_rates(counts),
            "period": {
                "first": totals.first_at if totals is not None else None,
                "last": totals.last_at if totals is not None else None,
            },
            "analysis": "NPS (promoters 9–10 minus detractors 0–6), CSAT (share of 4–5 ratings), "
            "satisfaction index (perception / expectation, < 1 dissatisfied), per question and overall.",
        },
        "results": {**overall, "questions": results},
        "conclusions": {
            "weakest_questions": weak,
            "complaint_categories": [{"category": c, "complaints": n} for c, n in categories],
            "countermeasures": countermeasures,
        },
    }
