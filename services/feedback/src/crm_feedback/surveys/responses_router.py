from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Response

from crm_chassis.db import SessionDep
from crm_chassis.errors import NotFound
from crm_chassis.identity import PrincipalDep
from crm_chassis.pagination import Page, PageDep
from crm_feedback import access
from crm_feedback.common.deps import SettingsDep
from crm_feedback.surveys import invitations as survey_invitations
from crm_feedback.surveys import repository as survey_repo
from crm_feedback.surveys import responses as survey_responses
from crm_feedback.surveys.router import SurveyDep
from crm_feedback.surveys.schemas import (
    InvitationBatch,
    InvitationCreate,
    InvitationRead,
    PublicSurvey,
    ResponseRead,
    StaffResponseCreate,
    TokenResponseCreate,
)

router = APIRouter(prefix="/surveys", tags=["surveys"])


@router.get(
    "/by-token/{token}",
    response_model=PublicSurvey,
    summary="The survey an online invitation asks to answer (no login): title and questions only",
    description="Authorised by the one-use token alone, so that a web or mini-program page can show the "
    "questions before `POST /surveys/responses`. Nothing about the customer or the invitation is shown. "
    "An answered token or a closed survey → 409, an expired token → 410, as when answering.",
    responses={404: {"description": "No invitation has this token"}, 410: {"description": "The token expired"}},
)
async def read_survey_by_token(
    token: Annotated[str, Path(min_length=10, max_length=200)], session: SessionDep, response: Response
) -> PublicSurvey:
    survey, questions = await survey_responses.survey_for_token(session, token=token)
    response.headers["Cache-Control"] = "no-store"
    return PublicSurvey(title=survey.title, questions=questions)


@router.post(
    "/responses",
    status_code=201,
    response_model=ResponseRead,
    summary="Answer an online invitation with its token (no login)",
    description="Authorised by the one-use token alone. A second answer with the same token → 409; "
    "an expired token → 410; every invalid answer is listed in a 422 and nothing is stored.",
    responses={404: {"description": "No invitation has this token"}, 410: {"description": "The token expired"}},
)
async def respond_with_token(body: TokenResponseCreate, session: SessionDep, response: Response) -> ResponseRead:
    stored = await survey_responses.respond_with_token(session, data=body)
    response.headers["Location"] = f"/surveys/{stored.survey_id}/responses/{stored.id}"
    return survey_responses.read_model(stored)


@router.post(
    "/{survey_id}/invitations",
    status_code=201,
    response_model=InvitationBatch,
    summary="Invite customers; online invitations carry a one-use token, shown only here",
)
async def invite_to_survey(
    survey: SurveyDep,
    body: InvitationCreate,
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    response: Response,
) -> InvitationBatch:
    items = await survey_invitations.invite(session, survey=survey, data=body, principal=principal, settings=settings)
    response.headers["Location"] = f"/surveys/{survey.id}/invitations"
    return InvitationBatch(items=items)


@router.get("/{survey_id}/invitations", response_model=Page[InvitationRead], summary="List invitations")
async def list_invitations(
    survey: SurveyDep, session: SessionDep, page: PageDep, principal: PrincipalDep
) -> Page[InvitationRead]:
    found = await survey_repo.invitations_page(session, survey.id, page.limit, page.cursor, principal)
    return found.map(survey_invitations.read_model)


@router.post(
    "/{survey_id}/responses",
    status_code=201,
    response_model=ResponseRead,
    summary="Enter answers taken by phone, on site or by mail, or a mystery shopper's report",
)
async def respond_by_staff(
    survey: SurveyDep,
    body: StaffResponseCreate,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
) -> ResponseRead:
    stored = await survey_responses.respond_by_staff(session, survey=survey, data=body, principal=principal)
    response.headers["Location"] = f"/surveys/{survey.id}/responses/{stored.id}"
    return survey_responses.read_model(stored)


@router.get("/{survey_id}/responses", response_model=Page[ResponseRead], summary="List responses")
async def list_responses(
    survey: SurveyDep, session: SessionDep, page: PageDep, principal: PrincipalDep
) -> Page[ResponseRead]:
    found = await survey_repo.responses_page(session, survey.id, page.limit, page.cursor, principal)
    return found.map(survey_responses.read_model)


@router.get("/{survey_id}/responses/{response_id}", response_model=ResponseRead, summary="Read a response")
async def read_response(
    survey: SurveyDep, response_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> ResponseRead:
    found = await survey_repo.get_response(session, survey.id, response_id)
    if found is None or not await access.can_see_record(session, principal, found.customer_id, found.entered_by):
        raise NotFound(f"response {response_id} does not exist", code="response_not_found")
    return survey_responses.read_model(found)
