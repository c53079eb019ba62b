"""Events published by the feedback service (stream FEEDBACK, subjects feedback.>)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import ClassVar

from shared.events.base import Event


class FeedbackEvent(Event):
    stream: ClassVar[str] = "FEEDBACK"


class RatingSubmitted(FeedbackEvent):
    """A trainee rated a program: opens the gates of R6 (next term) and R17 (see hours)."""

    subject: ClassVar[str] = "feedback.rating.submitted.v1"
    rating_id: uuid.UUID
    program_id: uuid.UUID
    teacher_id: uuid.UUID


class AssessmentSubmitted(FeedbackEvent):
    """The institution assessed a trainee (R24); enrolment records it as the completion."""

    subject: ClassVar[str] = "feedback.assessment.submitted.v1"
    assessment_id: uuid.UUID
    enrolment_id: uuid.UUID
    program_id: uuid.UUID
    teacher_id: uuid.UUID
    institution_id: uuid.UUID | None
    attitude: int
    assignments: int
    attendance_rate: Decimal
    passed: bool
