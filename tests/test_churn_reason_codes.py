"""The feedback service maps exit-survey choices to the churn reason codes the scoring service stores:
both keep their own list (services share no code), and the two lists must be the same."""

from __future__ import annotations

from crm_feedback.surveys.schemas import CHURN_REASON_CODES
from crm_scoring.reasons.schemas import REASON_CODES


def test_feedback_and_scoring_know_the_same_churn_reason_codes() -> None:
    assert CHURN_REASON_CODES == REASON_CODES
