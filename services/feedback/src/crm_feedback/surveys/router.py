from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from crm_chassis.db import SessionDep
from crm_chassis.etag import etag_for, not_modified, require_if_match
from crm_chassis.identity import PrincipalDep
from crm_chassis.pagination import Page, PageDep
from crm_feedback.common.deps import created
from crm_feedback.common.i18n import LanguageDep, language_headers
from crm_feedback.surveys import service as survey_service
from crm_feedback.surveys import templates
from crm_feedback.surveys.models import Survey
from crm_feedback.surveys.schemas import (
    SurveyCreate,
    SurveyKind,
    SurveyRead,
    SurveyTemplate,
    SurveyUpdate,
    SurveyVersionRead,
)

router = APIRouter(prefix="/surveys", tags=["surveys"])


async def valid_survey(survey_id: uuid.UUID, session: SessionDep) -> Survey:
    return await survey_service.get(session, survey_id=survey_id)


SurveyDep = Annotated[Survey, Depends(valid_survey)]


async def _read(session: SessionDep, survey: Survey, response: Response) -> SurveyRead:
    response.headers["ETag"] = etag_for(survey.version)
    return await survey_service.read_model(session, survey)


@router.post("", status_code=201, response_model=SurveyRead, summary="Define a survey")
async def create_survey(
    body: SurveyCreate, session: SessionDep, principal: PrincipalDep, response: Response
) -> SurveyRead:
    survey = await survey_service.create(session, data=body, actor=principal.subject)
    created(response, f"/surveys/{survey.id}", survey.version)
    return await _read(session, survey, response)


@router.get("", response_model=Page[SurveyRead], summary="List surveys")
async def list_surveys(
    session: SessionDep,
    page: PageDep,
    principal: PrincipalDep,
    kind: SurveyKind | None = None,
    active: bool | None = None,
) -> Page[SurveyRead]:
    found = await survey_service.list_page(session, kind=kind, active=active, limit=page.limit, cursor=page.cursor)
    return Page(
        items=[await survey_service.read_model(session, r) for r in found.items],
        next_cursor=found.next_cursor,
        total=found.total,
    )


@router.get(
    "/templates", response_model=list[SurveyTemplate], summary="The built-in survey templates, in your language"
)
async def list_survey_templates(
    principal: PrincipalDep, language: LanguageDep, response: Response
) -> list[SurveyTemplate]:
    response.headers.update(language_headers(language))
    return [SurveyTemplate.model_validate(templates.template(kind, language)) for kind in templates.kinds()]


@router.get("/templates/{kind}", response_model=SurveyTemplate, summary="A built-in survey template")
async def read_survey_template(
    kind: SurveyKind, principal: PrincipalDep, language: LanguageDep, response: Response
) -> SurveyTemplate:
    response.headers.update(language_headers(language))
    return SurveyTemplate.model_validate(templates.template(kind, language))


@router.post(
    "/templates/{kind}",
    status_code=201,
    response_model=SurveyRead,
    summary="Define a survey from a built-in template, in the language of Accept-Language",
)
async def create_survey_from_template(
    kind: SurveyKind, session: SessionDep, principal: PrincipalDep, language: LanguageDep, response: Response
) -> SurveyRead:
    body = templates.template(kind, language)
    data = SurveyCreate.model_validate({k: body[k] for k in ("title", "kind", "description", "questions")})
    survey = await survey_service.create(session, data=data, actor=principal.subject)
    created(response, f"/surveys/{survey.id}", survey.version)
    response.headers.update(language_headers(language))
    return await _read(session, survey, response)


@router.get("/{survey_id}", response_model=SurveyRead, summary="Read a survey (current version)")
async def read_survey(
    survey: SurveyDep, session: SessionDep, request: Request, response: Response
) -> SurveyRead | Response:
    cached = not_modified(request, etag_for(survey.version))
    return cached if cached is not None else await _read(session, survey, response)


@router.patch(
    "/{survey_id}",
    response_model=SurveyRead,
    summary="Change a survey (If-Match); new questions make a new version",
)
async def update_survey(
    survey: SurveyDep, body: SurveyUpdate, request: Request, response: Response, session: SessionDep
) -> SurveyRead:
    require_if_match(request, etag_for(survey.version))
    return await _read(session, await survey_service.update(session, survey=survey, data=body), response)


@router.delete("/{survey_id}", status_code=204, summary="Delete a survey (If-Match)")
async def delete_survey(survey: SurveyDep, request: Request, session: SessionDep) -> Response:
    require_if_match(request, etag_for(survey.version))
    await survey_service.delete(session, survey=survey)
    return Response(status_code=204)


@router.get("/{survey_id}/versions", response_model=Page[SurveyVersionRead], summary="Every question version")
async def list_survey_versions(survey: SurveyDep, session: SessionDep, page: PageDep) -> Page[SurveyVersionRead]:
    found = await survey_service.versions(session, survey=survey, limit=page.limit, cursor=page.cursor)
    return found.map(SurveyVersionRead.model_validate)
