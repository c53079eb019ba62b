"""Dependencies of the feedback routers: the service's clock and policy."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Depends, Request

from services.feedback.policy import FeedbackPolicy


def _now(request: Request) -> dt.datetime:
    return request.app.state.clock()


def _policy(request: Request) -> FeedbackPolicy:
    return request.app.state.policy


Now = Annotated[dt.datetime, Depends(_now)]
Policy = Annotated[FeedbackPolicy, Depends(_policy)]
