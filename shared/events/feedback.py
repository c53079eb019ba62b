"""Events published by the feedback service (stream FEEDBACK, subjects feedback.>)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import ClassVar

from pydantic import AwareDatetime

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


class EvaluationReminderDue(FeedbackEvent):
    """A deadline is near: the mobile app pushes a reminder to whoever owes the evaluation.

    kind is rating or follow_up_<n>m (owed by the teacher) or assessment (by the institution).
    """

    subject: ClassVar[str] = "feedback.evaluation.reminder_due.v1"
    task_id: uuid.UUID
    kind: str
    enrolment_id: uuid.UUID
    program_id: uuid.UUID
    teacher_id: uuid.UUID
    institution_id: uuid.UUID | None
    due_at: AwareDatetime


class AssessmentOverdue(FeedbackEvent):
    """The institution missed the assessment deadline of R24: flagged to the bureau."""

    subject: ClassVar[str] = "feedback.assessment.overdue.v1"
    task_id: uuid.UUID
    enrolment_id: uuid.UUID
    program_id: uuid.UUID
    teacher_id: uuid.UUID
    institution_id: uuid.UUID | None
    district_id: uuid.UUID
    due_at: AwareDatetime


class RatingWindowClosed(FeedbackEvent):
    """A trainee's rating window (R25) closed without a rating; no rating is accepted after."""

    subject: ClassVar[str] = "feedback.rating.window_closed.v1"
    task_id: uuid.UUID
    enrolment_id: uuid.UUID
    program_id: uuid.UUID
    teacher_id: uuid.UUID
    due_at: AwareDatetime


class FollowUpAnswered(FeedbackEvent):
    """A teacher answered a follow-up questionnaire after training (R27)."""

    subject: ClassVar[str] = "feedback.follow_up.answered.v1"
    response_id: uuid.UUID
    task_id: uuid.UUID
    program_id: uuid.UUID
    teacher_id: uuid.UUID
    months_after: int
