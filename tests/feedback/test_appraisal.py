"""A school's five appraisal rounds (R28) as configurable templates with a week schedule."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from services.feedback.appraisal import check_rounds, schedule
from services.feedback.policy import DEFAULT_APPRAISAL_ROUNDS, TERM_WEEKS, AppraisalRound
from shared.auth import Role
from shared.errors import Unprocessable
from tests.harness import Suite

TERM = dt.date(2027, 2, 22)  # a Monday


def test_r28_default_rounds_fall_on_their_seed_weeks_of_the_term() -> None:
    check_rounds(list(DEFAULT_APPRAISAL_ROUNDS), TERM_WEEKS)
    dates = {
        r["key"]: (r["starts_on"], r["ends_on"])
        for r in schedule(list(DEFAULT_APPRAISAL_ROUNDS), TERM)
    }
    assert dates["clarity"] == (dt.date(2027, 3, 15), dt.date(2027, 3, 28))  # weeks 4–5
    assert dates["student_satisfaction"] == (dt.date(2027, 5, 17), dt.date(2027, 5, 23))
    assert dates["peer_grade_group"] == (dt.date(2027, 6, 21), dt.date(2027, 7, 4))
    assert len(dates) == 5


def test_r28_rounds_outside_the_term_or_with_one_key_twice_are_refused() -> None:
    with pytest.raises(Unprocessable):
        check_rounds([AppraisalRound("self", "自评", 14, 21, "self")], TERM_WEEKS)
    with pytest.raises(Unprocessable):
        check_rounds([AppraisalRound("self", "自评", 5, 4, "self")], TERM_WEEKS)
    twice = AppraisalRound("self", "自评", 14, 14, "self")
    with pytest.raises(Unprocessable):
        check_rounds([twice, twice], TERM_WEEKS)


async def test_r28_a_school_configures_its_rounds_and_reads_their_schedule(suite: Suite) -> None:
    client = suite.direct["feedback"]
    school = uuid.uuid4()
    admin = suite.headers(Role.SCHOOL_ADMIN, school_id=school)
    default = (await client.get("/v1/appraisal-templates/default", headers=admin)).json()
    assert len(default["rounds"]) == 5
    peer = {**default["rounds"][4], "first_week": 17, "last_week": 18, "name": "互评"}
    rounds = [*default["rounds"][:4], peer]
    created = await client.post(
        "/v1/appraisal-templates",
        json={"name": "附校五次考评", "term_weeks": 20, "rounds": rounds},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    template = created.json()
    assert template["school_id"] == str(school)
    planned = await client.get(
        f"/v1/appraisal-templates/{template['id']}/schedule?term_starts_on={TERM}", headers=admin
    )
    assert planned.status_code == 200
    last = planned.json()["rounds"][-1]
    assert (last["key"], last["starts_on"], last["ends_on"]) == (
        "peer_grade_group",
        "2027-06-14",
        "2027-06-27",
    )
    bad = await client.post(
        "/v1/appraisal-templates",
        json={"name": "x", "term_weeks": 20, "rounds": [{**rounds[0], "last_week": 25}]},
        headers=admin,
    )
    assert bad.status_code == 422 and bad.json()["type"].endswith("round-outside-term")
    other_school = suite.headers(Role.SCHOOL_ADMIN, school_id=uuid.uuid4())
    assert (
        await client.get(f"/v1/appraisal-templates/{template['id']}", headers=other_school)
    ).status_code == 404
    listed = (await client.get("/v1/appraisal-templates", headers=admin)).json()["items"]
    assert template["id"] in {t["id"] for t in listed}
    teacher = suite.headers(Role.TEACHER, teacher_id=uuid.uuid4())
    refused = await client.post(
        "/v1/appraisal-templates",
        json={"name": "x", "term_weeks": 20, "rounds": rounds},
        headers=teacher,
    )
    assert refused.status_code == 403


async def test_r28_a_template_is_named_default_or_by_uuid(suite: Suite) -> None:
    """The path declares what a template id is, so a malformed one is refused (422) rather
    than looked up; a well-formed unknown one is not found."""
    client = suite.direct["feedback"]
    admin = suite.headers(Role.SCHOOL_ADMIN, school_id=uuid.uuid4())
    for path in ("/v1/appraisal-templates/{}", "/v1/appraisal-templates/{}/schedule"):
        params = {"term_starts_on": "2026-09-01"}
        malformed = await client.get(path.format("not-a-template"), headers=admin, params=params)
        assert malformed.status_code == 422, malformed.text
        unknown = await client.get(path.format(uuid.uuid4()), headers=admin, params=params)
        assert unknown.status_code == 404
        seed = await client.get(path.format("default"), headers=admin, params=params)
        assert seed.status_code == 200
    document = (await client.get("/openapi.json")).json()
    parameters = document["paths"]["/v1/appraisal-templates/{template_id}"]["get"]["parameters"]
    assert parameters[0]["schema"]["pattern"].startswith("^(default|")
