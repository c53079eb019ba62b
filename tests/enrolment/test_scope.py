"""Who may see what (DOMAIN.md): the enrolment service's scope decisions, called directly."""

from __future__ import annotations

import uuid

from shared.auth import Role
from tests.enrolment.conftest import World, ok

FAR_DISTRICT = uuid.uuid4()


def client(world: World, school: dict | None, *scopes: str) -> dict[str, str]:
    return world.suite.headers(
        Role.SERVICE,
        school_id=school["id"] if school else None,
        scopes=frozenset(scopes),
    )


async def listed_ids(world: World, path: str, headers: dict, **params) -> set[str] | int:
    response = await world.api.get(path, headers=headers, params={"limit": 200, **params})
    if response.status_code != 200:
        return response.status_code
    ids: set[str] = {item["id"] for item in response.json()["items"]}
    cursor = response.json().get("next_cursor")
    while cursor:
        page = ok(
            await world.api.get(path, headers=headers, params={"limit": 200, "cursor": cursor})
        )
        ids |= {item["id"] for item in page["items"]}
        cursor = page.get("next_cursor")
    return ids


async def test_teachers_and_school_admins_see_no_other_districts_programs(world: World) -> None:
    program = await world.program(await world.institution())
    for role, claims in (
        (Role.TEACHER, {"teacher_id": uuid.uuid4(), "school_id": uuid.uuid4()}),
        (Role.SCHOOL_ADMIN, {"school_id": uuid.uuid4()}),
    ):
        far = world.suite.headers(role, district_id=FAR_DISTRICT, **claims)
        response = await world.api.get(f"/v1/programs/{program['id']}", headers=far)
        assert response.status_code == 404, (role, response.text)
        listed = await listed_ids(world, "/v1/programs", far)
        assert isinstance(listed, set) and program["id"] not in listed, role


async def test_a_school_bound_client_sees_the_programs_it_is_listed(world: World) -> None:
    school = await world.school()
    published = await world.program(await world.institution())
    draft = await world.program(await world.institution(), publish=False)
    headers = client(world, school, "roster:read")
    listed = await listed_ids(world, "/v1/programs", headers)
    assert isinstance(listed, set) and published["id"] in listed and draft["id"] not in listed
    ok(await world.api.get(f"/v1/programs/{published['id']}", headers=headers))
    response = await world.api.get(f"/v1/programs/{draft['id']}", headers=headers)
    assert response.status_code == 404


async def test_service_clients_read_the_roster_only_with_roster_read(world: World) -> None:
    school = await world.school()
    teacher = await world.teacher(school)
    institution = await world.institution()
    program = await world.program(institution)
    enrolment = ok(await world.enrol(program, teacher), 201)
    reads = {
        "/v1/programs": None,
        f"/v1/programs/{program['id']}": None,
        "/v1/institutions": None,
        f"/v1/institutions/{institution['id']}": None,
        "/v1/schools": None,
        f"/v1/schools/{school['id']}": None,
        "/v1/teachers": None,
        f"/v1/teachers/{teacher['id']}": None,
        "/v1/enrolments": None,
        f"/v1/enrolments/{enrolment['id']}": None,
    }
    for granted in (False, True):
        headers = client(world, school, *(["roster:read"] if granted else ["hours:read"]))
        for path in reads:
            response = await world.api.get(path, headers=headers)
            if granted:
                assert response.status_code == 200, (path, response.text)
            else:
                # hours:read alone: a token for the ledger, refused here as not meant for it
                assert response.status_code in (401, 403, 404), (path, response.text)


async def test_a_roster_writer_without_roster_read_still_updates_a_teacher(world: World) -> None:
    school = await world.school()
    teacher = await world.teacher(school)
    headers = client(world, school, "roster:write")
    ok(
        await world.api.patch(
            f"/v1/teachers/{teacher['id']}", headers=headers, json={"subject": "语文"}
        )
    )


async def test_a_service_client_may_not_withdraw_or_accept_an_enrolment(world: World) -> None:
    school = await world.school()
    teacher = await world.teacher(school)
    enrolment = ok(await world.enrol(await world.program(await world.institution()), teacher), 201)
    headers = client(world, school, "roster:read", "roster:write")
    for action in ("withdraw", "accept"):
        assert (await world.act(enrolment, action, headers)).status_code == 403, action
    assert (await world.enrolment(enrolment["id"]))["status"] == enrolment["status"]


async def test_service_clients_see_neither_quotas_nor_leave_requests(world: World) -> None:
    school = await world.school()
    teacher = await world.teacher(school)
    program = await world.program(await world.institution())
    enrolment = ok(await world.enrol(program, teacher), 201)
    leave = ok(
        await world.api.post(
            f"/v1/enrolments/{enrolment['id']}/leave-requests",
            headers=world.teacher_token(teacher),
            json={"kind": "leave", "reason": "病假"},
        ),
        201,
    )
    headers = client(world, school, "roster:read", "roster:write")
    quotas = await world.api.get(f"/v1/programs/{program['id']}/quotas", headers=headers)
    assert quotas.status_code == 403, quotas.text
    response = await world.api.get(f"/v1/leave-requests/{leave['id']}", headers=headers)
    assert response.status_code == 404, response.text


async def test_the_training_gaps_report_refuses_a_school_outside_the_scope(world: World) -> None:
    school, other = await world.school(), await world.school()
    admin = world.school_admin(school)
    path = "/v1/teachers/training-gaps"
    ok(await world.api.get(path, headers=admin, params={"school_id": school["id"]}))
    response = await world.api.get(path, headers=admin, params={"school_id": other["id"]})
    assert response.status_code == 403, response.text
    far_bureau = world.suite.headers(Role.BUREAU_ADMIN, district_id=FAR_DISTRICT)
    response = await world.api.get(path, headers=far_bureau, params={"school_id": school["id"]})
    assert response.status_code == 403, response.text


async def test_text_with_a_nul_character_is_refused_at_the_edge(world: World) -> None:
    # 400 nul-character from shared.edge, as at the gateway, before any schema reads it.
    response = await world.api.post(
        "/v1/schools", headers=world.bureau, json={"name": "学校\x00", "stage": "primary"}
    )
    assert response.status_code == 400, response.text
    school = await world.school()
    response = await world.api.post(
        "/v1/teachers",
        headers=world.bureau,
        json={"name": "老师", "school_id": school["id"], "stage": "primary", "subject": "数\x00学"},
    )
    assert response.status_code == 400, response.text


async def test_a_status_filter_with_a_nul_character_is_refused_at_the_edge(world: World) -> None:
    for path in ("/v1/programs", "/v1/enrolments"):
        response = await world.api.get(path, headers=world.bureau, params={"status": "a\x00"})
        assert response.status_code == 400, (path, response.text)
        ok(await world.api.get(path, headers=world.bureau, params={"status": "confirmed"}))
