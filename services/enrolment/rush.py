"""Enrolling on PostgreSQL in two statements: the path of selection day (选课日).

At 9:00 thousands of teachers press "enrol" on the same few programs. Through the ORM a
request cost eight round trips and most of a core's time per 300 requests (py-spy,
docs/performance.md). Here it is two statements, each its own transaction so no lock
outlives a statement, and each sent together with the same statement of every request that
arrived meanwhile (shared.statement_batch: one round trip and one commit for the lot):

1. one read (`_READ`): the program, the teacher and how many enrolments were made for them
   so far (`placements`), the cap of the teacher's school, the first enrolment that clashes
   with this one, and the stored answer of the Idempotency-Key;
2. one write (`_PLACE`), if the rules of services.enrolment.eligibility, called on that
   row, allow it: the teacher's count moves on only if it is still the one read — so no
   enrolment was made for them in between, and the clash check still holds — and then, in
   the same statement, the school's quota (R3), the seat, the enrolment, its event and the
   stored answer of the key.

When the count moved (the same teacher enrolled at the same moment elsewhere), or the
program needs what this path does not do — selection by recommendation (R2), R6 for next
term, R7's cap on teachers away — or the program or teacher is missing or out of sight, the
request goes the general way through the ORM (`enrolments.enrol`), which locks the teacher
and says exactly why.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
from fastapi.responses import JSONResponse

from services.enrolment.eligibility import (
    check_audience,
    check_open,
    clash_problem,
    district_today,
)
from services.enrolment.enrolments import check_may_enrol, granted_status_and_event, quota_full
from services.enrolment.models import Enrolment, Program, ProgramQuota, School, Teacher, infra
from services.enrolment.policy import POLICY, term_of
from services.enrolment.programs import can_see_program
from services.enrolment.schemas import EnrolmentRead
from shared.access import ensure_in_scope
from shared.auth import Principal
from shared.db import Database, utcnow
from shared.events.enrolment import EnrolmentWaitlisted
from shared.idempotency import Idempotency, key_in_flight, stored_answer
from shared.messaging.outbox import outbox_row, wake_relays
from shared.statement_batch import StatementBatch

_P, _T, _S, _E = (m.__table__.name for m in (Program, Teacher, School, Enrolment))
_Q, _OUTBOX, _KEYS = ProgramQuota.__table__.name, infra.outbox.name, infra.idempotency.name

# One row always, empty when the program is missing (a batch needs a row per request).
_READ = f"""
SELECT r.* FROM (SELECT 1) one LEFT JOIN LATERAL (
SELECT p.status, p.selection, p.enrol_opens_at, p.enrol_closes_at, p.audience, p.mode,
       p.allotted, p.funded_by, p.cost_per_participant_fen, p.starts_on, p.ends_on,
       p.district_id, p.school_id, p.institution_id,
       t.district_id AS teacher_district_id, t.school_id AS teacher_school_id,
       t.stage, t.subject, t.roles, t.hired_on, t.placements, s.max_away,
       clash.id AS clash_id, clash.program_id AS clash_program_id, clash.title AS clash_title,
       k.fingerprint, k.status_code, k.body
FROM {_P} p
JOIN {_T} t ON t.id = $2
JOIN {_S} s ON s.id = t.school_id
LEFT JOIN LATERAL (
    SELECT e.id, e.program_id, other.title
    FROM {_E} e JOIN {_P} other ON other.id = e.program_id
    WHERE e.teacher_id = t.id
      AND (e.program_id = p.id
           OR (e.status = ANY($3::varchar[])
               AND other.starts_on <= p.ends_on AND other.ends_on >= p.starts_on))
    ORDER BY e.program_id = p.id DESC
    LIMIT 1
) clash ON true
LEFT JOIN {_KEYS} k ON k.principal = $4 AND k.key = $5
WHERE p.id = $1
) r ON true
"""

# Nothing is written unless the teacher's count is still the one read ($21) and, for a
# program allotted by quota (R3), the school has a free place in it, taken with a seat only.
# The event and the answer depend on the seat, so both are passed in; the waitlist position
# is filled in here.
_PLACE = f"""
WITH quota AS (
    SELECT 1 FROM {_Q}
    WHERE $6::boolean AND program_id = $1 AND school_id = $4 AND seats_taken < seats
    FOR UPDATE
), quota_ok AS (
    SELECT NOT $6::boolean OR EXISTS (SELECT 1 FROM quota) AS ok
), counted AS (
    UPDATE {_T} SET placements = placements + 1
    WHERE id = $3 AND placements = $21 AND (SELECT ok FROM quota_ok)
    RETURNING id
), allowed AS (
    SELECT EXISTS (SELECT 1 FROM counted) AS ok
), seat AS (
    UPDATE {_P} SET seats_taken = seats_taken + 1
    WHERE id = $1 AND seats_taken < capacity AND (SELECT ok FROM allowed)
    RETURNING id
), quota_taken AS (
    UPDATE {_Q} SET seats_taken = seats_taken + 1
    WHERE $6::boolean AND program_id = $1 AND school_id = $4 AND EXISTS (SELECT 1 FROM seat)
), placed AS (
    INSERT INTO {_E}
        (id, program_id, teacher_id, school_id, district_id, status, waitlist_position,
         holds_quota, created_at)
    SELECT $2, $1, $3, $4, $5,
           CASE WHEN granted THEN $7::varchar ELSE 'waitlisted' END,
           CASE WHEN granted THEN NULL ELSE (
               SELECT coalesce(max(waitlist_position), 0) + 1 FROM {_E}
               WHERE program_id = $1 AND status = 'waitlisted'
           ) END,
           $6::boolean AND granted,
           $8
    FROM (SELECT EXISTS (SELECT 1 FROM seat) AS granted) outcome
    WHERE (SELECT ok FROM allowed)
    RETURNING status, waitlist_position
), event AS (
    INSERT INTO {_OUTBOX} (event_id, subject, payload, headers, created_at)
    SELECT
        CASE WHEN status = 'waitlisted' THEN $12::uuid ELSE $9::uuid END,
        CASE WHEN status = 'waitlisted' THEN $13::varchar ELSE $10::varchar END,
        CASE WHEN status = 'waitlisted'
             THEN jsonb_set($14::jsonb, '{{waitlist_position}}', to_jsonb(waitlist_position))
                  ::text
             ELSE $11::text END,
        $15, $8
    FROM placed
), answer AS (
    INSERT INTO {_KEYS} (principal, key, fingerprint, status_code, body, created_at)
    SELECT $16, $17, $18, 201,
           CASE WHEN status = 'waitlisted'
                THEN jsonb_set($20::jsonb, '{{waitlist_position}}', to_jsonb(waitlist_position))
                     ::text
                ELSE $19::text END,
           $8
    FROM placed WHERE $17::varchar IS NOT NULL
)
SELECT (SELECT ok FROM quota_ok) AS quota_ok, (SELECT ok FROM allowed) AS placed,
       status, waitlist_position
FROM (SELECT 1) one LEFT JOIN placed ON true
"""


class Row(dict[str, Any]):
    """A read row whose columns are attributes, as the rule functions expect of a model."""

    __getattr__ = dict.__getitem__


async def enrol(
    database: Database,
    idem: Idempotency,
    *,
    principal: Principal,
    program_id: uuid.UUID,
    teacher_id: uuid.UUID,
) -> JSONResponse | None:
    """The answer: a new enrolment (201) or the stored answer of a repeated request; None
    when the general path must take the request. Raises a Problem when a rule refuses."""
    try:
        record = await StatementBatch.of(database, _READ).fetchrow(
            program_id, teacher_id, list(POLICY.holding_statuses), principal.subject, idem.key
        )
        if record["status"] is None:
            return None  # the ORM path says whether the program or teacher is missing
        if record["fingerprint"] is not None:
            return stored_answer(idem, record["fingerprint"], record["status_code"], record["body"])
        if not _handled_here(principal, row := Row(record)):
            return None
        answer = await _place(database, idem, principal, program_id, teacher_id, row)
        if answer is None:
            return None  # an enrolment was made for the teacher meanwhile
    except asyncpg.UniqueViolationError as exc:
        # Two requests of one key at once: the first one's statement won.
        if exc.constraint_name == "pk_idempotency_key":
            raise key_in_flight() from exc
        raise
    wake_relays()  # the event is committed: the relay may publish it now
    return JSONResponse(answer, status_code=201)


def _handled_here(principal: Principal, row: Row) -> bool:
    if not can_see_program(principal, row):
        return False  # the ORM path says whether it is missing or hidden
    if row.selection != "first_come":
        return False  # R2 or a lottery: an application, no seat
    if term_of(row.starts_on) > term_of(district_today()):
        return False  # R6 may apply: the ORM path reads the teacher's ratings
    return row.mode not in POLICY.away_modes or row.max_away is None  # else R7 caps the school


async def _place(
    database: Database,
    idem: Idempotency,
    principal: Principal,
    program_id: uuid.UUID,
    teacher_id: uuid.UUID,
    row: Row,
) -> dict[str, Any] | None:
    """The answer of a new enrolment; None if the teacher's count moved since the read."""
    check_may_enrol(principal)
    school_id, district_id = row.teacher_school_id, row.teacher_district_id
    ensure_in_scope(
        principal, "teacher", district_id=district_id, school_id=school_id, teacher_id=teacher_id
    )
    # JSON columns arrive decoded: the engine gives every connection its JSON codec.
    program = Row(row, id=program_id)
    check_open(program)
    check_audience(program, row)
    if row.clash_id is not None:
        raise clash_problem(row.clash_id, row.clash_program_id, row.clash_title, program_id)
    holds_quota = row.allotted
    enrolment_id, now = uuid.uuid4(), utcnow()
    facts = {
        "enrolment_id": enrolment_id,
        "program_id": program_id,
        "teacher_id": teacher_id,
        "school_id": school_id,
        "district_id": district_id,
    }
    status, granted = granted_status_and_event(program, facts)
    granted_row = outbox_row(granted)
    waited_row = outbox_row(EnrolmentWaitlisted(**facts, waitlist_position=0))
    answers = {
        outcome: EnrolmentRead(
            id=enrolment_id,
            program_id=program_id,
            teacher_id=teacher_id,
            school_id=school_id,
            status=outcome,
            waitlist_position=None if outcome == status else 0,
            reason=None,
            offer_expires_at=None,
            attendance_rate=None,
            passed=None,
            completed_on=None,
            created_at=now,
        ).model_dump(mode="json")
        for outcome in (status, "waitlisted")
    }
    placed = await StatementBatch.of(database, _PLACE).fetchrow(
        program_id, enrolment_id, teacher_id, school_id, district_id, holds_quota, status, now,
        granted_row["event_id"], granted_row["subject"], granted_row["payload"],
        waited_row["event_id"], waited_row["subject"], waited_row["payload"],
        granted_row["headers"],
        principal.subject, idem.key, idem.fingerprint,
        json.dumps(answers[status]), json.dumps(answers["waitlisted"]), row.placements,
    )  # fmt: skip
    if not placed["quota_ok"]:
        raise quota_full()
    if not placed["placed"]:
        return None
    answer = answers[placed["status"]]
    answer["waitlist_position"] = placed["waitlist_position"]
    return answer
