"""HTTP of appraisal templates and their schedules (R28)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from services.feedback import appraisal
from services.feedback.models import AppraisalTemplate
from services.feedback.policy import AppraisalRound
from services.feedback.schemas import AppraisalTemplateCreate, AppraisalTemplateRead
from shared.deps import Caller, Idem, Paging, Session
from shared.pagination import Page, page_of, paginate

router = APIRouter(prefix="/v1/appraisal-templates", tags=["appraisal"])
# The seed's template is `default`; every other one is named by its UUID.
TemplateId = Annotated[
    str,
    Path(
        pattern=r"^(default|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
    ),
]


@router.post("", status_code=201, response_model=AppraisalTemplateRead)
async def create_template(
    body: AppraisalTemplateCreate, session: Session, caller: Caller, idem: Idem
) -> JSONResponse:
    """Define an appraisal template: its questions and when questionnaires go out."""
    if replay := await idem.replay():
        return replay
    template = await appraisal.create_template(session, principal=caller, body=body)
    return await idem.respond(201, AppraisalTemplateRead.model_validate(template))


@router.get("", response_model=Page[AppraisalTemplateRead])
async def list_templates(session: Session, caller: Caller, paging: Paging) -> dict:
    """The caller's templates; the seed default is always at /default."""
    query = paginate(appraisal.templates_query(caller), AppraisalTemplate, paging)
    return page_of(list((await session.scalars(query)).all()), paging, AppraisalTemplateRead)


@router.get("/{template_id}", response_model=AppraisalTemplateRead)
async def get_template(
    template_id: TemplateId, session: Session, caller: Caller
) -> AppraisalTemplateRead:
    """One appraisal template."""
    return await appraisal.get_template(session, principal=caller, template_id=template_id)


@router.get("/{template_id}/schedule")
async def template_schedule(
    template_id: TemplateId,
    session: Session,
    caller: Caller,
    term_starts_on: dt.date = Query(description="first day of term (week 1)"),
) -> dict:
    """When the template's questionnaires go out and are due."""
    template = await appraisal.get_template(session, principal=caller, template_id=template_id)
    rounds = [AppraisalRound(**r.model_dump()) for r in template.rounds]
    return {
        "template_id": template.id,
        "term_starts_on": term_starts_on,
        "rounds": appraisal.schedule(rounds, term_starts_on),
    }
