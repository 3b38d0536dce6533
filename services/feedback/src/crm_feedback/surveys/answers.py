"""Checking answers against their questions, and the scores one response carries.

A response's scores: `nps` is its 0–10 answer; `csat` the mean of its 1–5 ratings; and the
`satisfaction_index` the mean over its expectation/perception pairs of perception / expectation
(DOMAIN.md §3: < 1 dissatisfied). Each is None when the survey asks no such question.
"""

from __future__ import annotations

from statistics import fmean
from typing import Any

from crm_feedback.surveys.schemas import Question, QuestionType


def _is_int(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _problem(question: Question, value: Any) -> tuple[str, str] | None:
    kind = question.type
    if kind == QuestionType.nps and not _is_int(value, 0, 10):
        return "out_of_range", "an NPS answer is a whole number from 0 to 10"
    if kind == QuestionType.rating and not _is_int(value, 1, 5):
        return "out_of_range", "a rating is a whole number from 1 to 5"
    if kind == QuestionType.expectation_perception:
        if not (isinstance(value, dict) and set(value) == {"expectation", "perception"}):
            return "invalid_pair", "the answer is {expectation, perception}"
        if not all(_is_int(v, 1, 5) for v in value.values()):
            return "out_of_range", "expectation and perception are whole numbers from 1 to 5"
    options = question.options or []
    if kind == QuestionType.single_choice and value not in options:
        return "not_an_option", f"choose one of: {', '.join(options)}"
    if kind == QuestionType.multiple_choice:
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            return "invalid_choices", "the answer is a non-empty list of options"
        if len(set(value)) != len(value) or not set(value) <= set(options):
            return "not_an_option", f"choose distinct options among: {', '.join(options)}"
    if kind == QuestionType.text and not (isinstance(value, str) and len(value) <= 4000):
        return "invalid_text", "the answer is a text of at most 4000 characters"
    return None


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def validate(questions: list[Question], answers: dict[str, Any]) -> list[dict[str, str]]:
    """Every problem with `answers`, as field errors (empty when all is well)."""
    by_key = {q.key: q for q in questions}
    errors = [
        {"field": f"answers.{key}", "code": "unknown_question", "message": "the survey has no such question"}
        for key in answers
        if key not in by_key
    ]
    for question in questions:
        value = answers.get(question.key)
        if _blank(value):
            if question.required:
                errors.append(
                    {"field": f"answers.{question.key}", "code": "required", "message": "an answer is required"}
                )
            continue
        problem = _problem(question, value)
        if problem is not None:
            errors.append({"field": f"answers.{question.key}", "code": problem[0], "message": problem[1]})
    return errors


def cleaned(questions: list[Question], answers: dict[str, Any]) -> dict[str, Any]:
    """Validated answers without blanks for optional questions."""
    return {q.key: answers[q.key] for q in questions if not _blank(answers.get(q.key))}


def scores(questions: list[Question], answers: dict[str, Any]) -> dict[str, Any]:
    nps: int | None = None
    ratings: list[float] = []
    ratios: list[float] = []
    for question in questions:
        value: Any = answers.get(question.key)
        if _blank(value):
            continue
        if question.type == QuestionType.nps and nps is None:
            nps = int(value)
        elif question.type == QuestionType.rating:
            ratings.append(float(value))
        elif question.type == QuestionType.expectation_perception:
            ratios.append(value["perception"] / value["expectation"])
    return {
        "nps": nps,
        "csat": round(fmean(ratings), 4) if ratings else None,
        "satisfaction_index": round(fmean(ratios), 4) if ratios else None,
    }


def churn_reasons(questions: list[Question], answers: dict[str, Any]) -> list[str]:
    """The churn reason codes chosen in the survey's reason question, if it has one and it was answered."""
    for question in questions:
        if not question.churn_reason or _blank(answers.get(question.key)):
            continue
        value = answers[question.key]
        chosen = value if isinstance(value, list) else [value]
        return list(dict.fromkeys(question.reason_code(option) for option in chosen))
    return []
