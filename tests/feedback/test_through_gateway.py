"""Feedback end to end through the gateway, fed by the real enrolment service over NATS."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import httpx
from sqlalchemy import select

from services.feedback.models import infra
from shared.auth import Role
from tests.feedback.support import local_today
from tests.harness import ADMIN_PASSWORD, Suite, wait_for


async def created(response: httpx.Response) -> dict:
    assert response.status_code == 201, response.text
    return response.json()


async def published(suite: Suite, subject: str, **match: str) -> list[dict]:
    """Events of the feedback outbox the relay has already published to JetStream."""
    app = suite.apps["feedback"]
    async with app.state.database.sessions() as session:
        rows = (
            await session.execute(
                select(infra.outbox.c.payload).where(
                    infra.outbox.c.subject == subject, infra.outbox.c.published_at.is_not(None)
                )
            )
        ).all()
    payloads = [json.loads(r.payload) for r in rows]
    return [p for p in payloads if all(p.get(k) == v for k, v in match.items())]


async def test_trainee_rates_and_institution_assesses_through_the_gateway(suite: Suite) -> None:
    gw = suite.gateway
    admin = await suite.login("admin", ADMIN_PASSWORD)
    school = await created(
        await gw.post("/v1/schools", headers=admin, json={"name": "育才小学", "stage": "primary"})
    )
    institution = await created(
        await gw.post("/v1/institutions", headers=admin, json={"name": "区教育学院"})
    )
    teacher = await created(
        await gw.post(
            "/v1/teachers",
            headers=admin,
            json={
                "name": "陈老师",
                "school_id": school["id"],
                "stage": "primary",
                "subject": "语文",
            },
        )
    )
    now = dt.datetime.now(dt.UTC)
    today = local_today()
    program = await created(
        await gw.post(
            "/v1/programs",
            headers=admin,
            json={
                "title": "小学语文整本书阅读教学",
                "hours": "12.0",
                "capacity": 30,
                "mode": "centralized",
                "level": "district",
                "category": "self_selected",
                "selection": "first_come",
                "institution_id": institution["id"],
                "enrol_opens_at": (now - dt.timedelta(hours=1)).isoformat(),
                "enrol_closes_at": (now + dt.timedelta(days=1)).isoformat(),
                "starts_on": str(today - dt.timedelta(days=2)),
                "ends_on": str(today),
            },
        )
    )
    for action in ("submit", "approve", "publish"):
        assert (await gw.post(f"/v1/programs/{program['id']}/{action}", headers=admin)).is_success
    enrolment = await created(
        await gw.post(
            f"/v1/programs/{program['id']}/enrolments",
            headers=admin,
            json={"teacher_id": teacher["id"]},
        )
    )
    for action in ("close-enrolment", "start", "finish"):
        response = await gw.post(f"/v1/programs/{program['id']}/{action}", headers=admin)
        assert response.status_code == 200, response.text

    me = suite.headers(Role.TEACHER, teacher_id=uuid.UUID(teacher["id"]), school_id=school["id"])
    pending_url = f"/v1/teachers/{teacher['id']}/pending-evaluations"

    async def owed() -> list[dict] | None:
        items = (await gw.get(pending_url, headers=me)).json()["items"]
        return items or None

    [item] = await wait_for(owed)
    assert (item["program_id"], item["kind"], item["open_now"]) == (program["id"], "rating", True)

    summary_url = f"/v1/programs/{program['id']}/feedback-summary"
    assert (await gw.get(summary_url, headers=me)).status_code == 403  # R17: rate first
    rating = await created(
        await gw.post(
            f"/v1/programs/{program['id']}/ratings",
            headers=me | {"Idempotency-Key": str(uuid.uuid4())},
            json={"overall": 5, "format": 4, "instructors": 5, "management": 4},
        )
    )
    assert (await gw.get(pending_url, headers=me)).json()["items"] == []
    assert (await gw.get(summary_url, headers=me)).json()["satisfaction"]["ratings"] == 1

    institution_admin = suite.headers(
        Role.INSTITUTION_ADMIN, institution_id=uuid.UUID(institution["id"])
    )
    assessment = await created(
        await gw.post(
            f"/v1/enrolments/{enrolment['id']}/assessment",
            headers=institution_admin,
            json={"attitude": 5, "assignments": 4, "attendance_rate": "1.0", "passed": True},
        )
    )
    # Both reach JetStream for enrolment (R6, completion) and ledger (R17) to act on.
    assert await wait_for(
        lambda: published(suite, "feedback.rating.submitted.v1", rating_id=rating["id"])
    )
    assert await wait_for(
        lambda: published(suite, "feedback.assessment.submitted.v1", assessment_id=assessment["id"])
    )
    card = await gw.get(
        f"/v1/institutions/{institution['id']}/scorecard?year={today.year}", headers=admin
    )
    assert card.status_code == 200, card.text
    assert card.json()["name"] == "区教育学院"
    assert card.json()["satisfaction"]["value"] == "5.00"
    assert card.json()["pass_rate"]["value"] == "1.0000"
    ranking = await gw.get(f"/v1/reports/institution-ranking?year={today.year}", headers=admin)
    assert institution["id"] in {r["institution_id"] for r in ranking.json()["items"]}
    default = await gw.get("/v1/appraisal-templates/default", headers=admin)
    assert default.status_code == 200 and len(default.json()["rounds"]) == 5
