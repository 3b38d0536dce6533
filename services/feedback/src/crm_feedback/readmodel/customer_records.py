"""What `customer.erased` means for the records feedback keeps about a customer.

Erasure blanks the free text a customer or an agent wrote about them (descriptions, notes, replies,
text answers) and keeps the structure and numbers (categories, timestamps, scores), so that the
aggregates stay true. What `customer.merged` and `customer.unmerged` do to the records is in
`readmodel.repository` (`move_records`, `move_records_back`).
"""

from __future__ import annotations

import uuid

from crm_feedback.complaints import repository as complaint_repo
from crm_feedback.db import Session
from crm_feedback.service_records import repository as record_repo
from crm_feedback.suggestions import repository as suggestion_repo
from crm_feedback.surveys import repository as survey_repo

ERASED = "[erased]"


async def _erase_text_answers(session: Session, customer_id: uuid.UUID) -> None:
    for response in await survey_repo.responses_of_customer(session, customer_id):
        version = await survey_repo.get_version(session, response.survey_id, response.survey_version)
        text_keys = {q["key"] for q in (version.questions if version else []) if q["type"] == "text"}
        if text_keys & response.answers.keys():
            response.answers = {k: (ERASED if k in text_keys else v) for k, v in response.answers.items()}


async def erase(session: Session, customer_id: uuid.UUID) -> None:
    await complaint_repo.erase_customer(session, customer_id, placeholder=ERASED)
    await suggestion_repo.erase_customer(session, customer_id, placeholder=ERASED)
    await record_repo.erase_customer(session, customer_id)
    await _erase_text_answers(session, customer_id)
