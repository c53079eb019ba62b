"""HTTP of manual recognition and reversals (R16)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.ledger import entries, recognition
from services.ledger.schemas import EntryCreate, EntryRead, ReversalCreate
from shared.deps import Caller, Idem, Session

router = APIRouter(prefix="/v1/ledger", tags=["hours"])


@router.post("/entries", status_code=201, response_model=EntryRead)
async def recognise_hours(
    body: EntryCreate, session: Session, caller: Caller, idem: Idem
) -> JSONResponse:
    """Credit hours by hand: school-based study, degree study or another recognition, once per
    reference."""
    if replay := await idem.replay():
        return replay
    entry = await recognition.recognise(session, principal=caller, data=body)
    return await idem.respond(201, EntryRead.model_validate(entry))


@router.post("/entries/{entry_id}/reversal", status_code=201, response_model=EntryRead)
async def reverse_entry(
    entry_id: uuid.UUID, body: ReversalCreate, session: Session, caller: Caller, idem: Idem
) -> JSONResponse:
    """Cancel an entry by an opposite one with the reason (R16); entries are never changed or
    deleted."""
    if replay := await idem.replay():
        return replay
    entry = await entries.reverse(session, principal=caller, entry_id=entry_id, reason=body.reason)
    return await idem.respond(201, EntryRead.model_validate(entry))
