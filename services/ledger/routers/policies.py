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
async def publish_policy(
    body: PolicyCreate, session: Session, caller: Caller, idem: Idem
) -> JSONResponse:
    """Publish a new version of the district's requirement policy (bureau only). Rules not
    given keep the seeds' defaults; earlier versions stay as they were."""
    if replay := await idem.replay():
        return replay
    row = await policies.publish(
        session,
        principal=caller,
        effective_from=body.effective_from,
        rules=body.rules,
        note=body.note,
        name=body.name,
    )
    return await idem.respond(201, PolicyRead.model_validate(row))


@router.get("", response_model=Page[PolicyRead])
async def list_policies(session: Session, caller: Caller, paging: Paging) -> dict:
    """The district's policy versions; everyone in the district may read them."""
    query = paginate(policies.listing(caller), RequirementPolicyVersion, paging)
    return page_of(list((await session.scalars(query)).all()), paging, PolicyRead)


@router.get("/{policy_id}", response_model=PolicyRead)
async def get_policy(
    policy_id: uuid.UUID, session: Session, caller: Caller
) -> RequirementPolicyVersion:
    """One policy version with its rules."""
    return await policies.get(session, principal=caller, policy_id=policy_id)
