"""HTTP of requirement policies: versions per district, each with an effective date."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.ledger import policies
from services.ledger.models import RequirementPolicyVersion
from services.ledger.schemas import PolicyCreate, PolicyRead
from shared.deps import Caller, Idem, Paging, Session
from shared.pagination import Page, page_of, paginate

router = APIRouter(prefix="/v1/policies", tags=["policies"])


@router.post("", status_code=201, response_model=PolicyRead)
async def publish(body: PolicyCreate, session: Session, caller: Caller, idem: Idem) -> JSONResponse:
    if replay := await idem.replay():
        return replay
    row = await policies.publish(
        session,
        principal=caller,
        effective_from=body.effective_from,
        rules=body.rules,
        note=body.note,
    )
    return await idem.respond(201, PolicyRead.model_validate(row))


@router.get("", response_model=Page[PolicyRead])
async def listing(session: Session, caller: Caller, paging: Paging) -> dict:
    query = paginate(policies.listing(caller), RequirementPolicyVersion, paging)
    return page_of(list((await session.scalars(query)).all()), paging, PolicyRead)


@router.get("/{policy_id}", response_model=PolicyRead)
async def get(policy_id: uuid.UUID, session: Session, caller: Caller) -> RequirementPolicyVersion:
    return await policies.get(session, principal=caller, policy_id=policy_id)
