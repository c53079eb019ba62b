"""The dependencies every router uses, as annotated aliases."""

from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal, current_principal
from shared.db import request_session
from shared.idempotency import Idempotency, idempotency
from shared.pagination import PageParams, page_params

# scope="function": the session commits before the response is sent, never after.
Session = Annotated[AsyncSession, Depends(request_session, scope="function")]
Caller = Annotated[Principal, Depends(current_principal)]
Idem = Annotated[Idempotency, Depends(idempotency)]
Paging = Annotated[PageParams, Depends(page_params)]
