"""Registering an identity number another district already has: the registrar is answered
as for a new number, the other district's teacher keeps its login, and the bureaus see the
held conflict. A number of the registrar's own scope is still a 409."""

from __future__ import annotations

import uuid
from typing import Any

from services.enrolment.models import District
from shared.auth import Role
from shared.config import DEFAULT_DISTRICT_ID
from tests.e2e.test_logins_rollout import bearer, id_number, import_with_logins, mobile, token
from tests.gateway.helpers import admin, school
from tests.gateway.test_teacher_logins import activated, teacher_login
from tests.harness import Suite


async def _far_district(suite: Suite) -> tuple[uuid.UUID, dict[str, str]]:
    """Another district (made in enrolment's database: no endpoint makes districts) and
    its bureau."""
    district_id = uuid.uuid4()
    async with suite.apps["enrolment"].state.database.sessions() as session:
        session.add(District(id=district_id, name=f"外区{district_id.hex[:4]}"))
        await session.commit()
    return district_id, suite.headers(Role.BUREAU_ADMIN, district_id=district_id)


async def _far_teacher(suite: Suite) -> tuple[uuid.UUID, dict[str, str], dict[str, Any]]:
    district_id, bureau = await _far_district(suite)
    far_school = await school(suite, bureau, "外区小学")
    return district_id, bureau, await teacher_login(suite, bureau, far_school["id"])


def _teacher(school_id: str, number: str) -> dict[str, Any]:
    return {
        "name": "同号教师",
        "school_id": school_id,
        "stage": "primary",
        "subject": "数学",
        "id_number": number,
        "login": True,
    }


async def _conflicts(suite: Suite, headers: dict[str, str]) -> list[dict[str, Any]]:
    answer = await suite.gateway.get("/v1/teachers/id-number-conflicts", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


async def test_a_number_of_another_district_registers_like_a_fresh_one(suite: Suite) -> None:
    far_district, far_bureau, far = await _far_teacher(suite)
    home = await school(suite, await admin(suite), "同号小学")
    school_admin = suite.headers(Role.SCHOOL_ADMIN, school_id=home["id"])

    fresh = await suite.gateway.post(
        "/v1/teachers", headers=school_admin, json=_teacher(home["id"], id_number())
    )
    taken = await suite.gateway.post(
        "/v1/teachers", headers=school_admin, json=_teacher(home["id"], far["id_number"])
    )
    assert fresh.status_code == taken.status_code == 201, taken.text
    assert fresh.headers["content-type"] == taken.headers["content-type"]
    volatile = {"id", "created_at", "id_number_masked"}
    assert {k: v for k, v in fresh.json().items() if k not in volatile} == {
        k: v for k, v in taken.json().items() if k not in volatile
    }
    assert set(fresh.json()) == set(taken.json())

    # The far teacher keeps the number as its login; the held teacher has no login by it.
    await activated(suite, far, "far teacher passphrase")
    mine = bearer(await token(suite.gateway, far["id_number"], "far teacher passphrase"))
    me = await suite.gateway.get("/v1/me", headers=mine)
    assert me.json()["teacher_id"] == far["id"], me.text
    logins = await suite.gateway.get(
        "/v1/accounts", headers=far_bureau, params={"q": far["id_number"]}
    )
    assert [a["teacher_id"] for a in logins.json()["items"]] == [far["id"]]

    # Both bureaus see the held conflict; the far bureau's own view names its teacher.
    held = taken.json()["id"]
    seen = {c["id"]: c for c in await _conflicts(suite, await admin(suite))}
    assert seen[held]["holder_id"] == far["id"]
    assert seen[held]["holder_district_id"] == str(far_district)
    assert seen[held]["district_id"] == str(DEFAULT_DISTRICT_ID)
    assert held in {c["id"] for c in await _conflicts(suite, far_bureau)}
    _, stranger = await _far_district(suite)
    assert held not in {c["id"] for c in await _conflicts(suite, stranger)}
    refused = await suite.gateway.get("/v1/teachers/id-number-conflicts", headers=school_admin)
    assert refused.status_code == 403

    # The school sees its own held teacher: registering the number again is a 409.
    again = await suite.gateway.post(
        "/v1/teachers", headers=school_admin, json=_teacher(home["id"], far["id_number"])
    )
    assert again.status_code == 409
    assert again.json()["type"].endswith("duplicate-id-number")


async def test_an_import_counts_a_number_of_another_district_as_imported(suite: Suite) -> None:
    _, far_bureau, far = await _far_teacher(suite)
    home = await school(suite, await admin(suite), "导入同号小学")
    school_admin = suite.headers(Role.SCHOOL_ADMIN, school_id=home["id"])

    def roster(numbers: list[str], tag: str) -> str:
        rows = [f"教师{tag}{i},primary,数学,{n}" for i, n in enumerate(numbers)]
        return "\n".join(["姓名,学段,学科,身份证号", *rows]) + "\n"

    counts = ("created_count", "skipped_count", "errors", "status")
    fresh = await import_with_logins(
        suite.gateway, school_admin, roster([id_number(), id_number()], "甲")
    )
    ours = id_number()
    taken = await import_with_logins(
        suite.gateway, school_admin, roster([ours, far["id_number"]], "乙")
    )
    assert [fresh[k] for k in counts] == [taken[k] for k in counts] == [2, 0, [], "done"]
    # Uploaded again, both rows are teachers of the school now: skipped, none twice.
    again = await import_with_logins(
        suite.gateway, school_admin, roster([ours, far["id_number"]], "丙")
    )
    assert (again["created_count"], again["skipped_count"]) == (0, 2)

    password = "far teacher passphrase"
    await activated(suite, far, password)
    assert (await token(suite.gateway, far["id_number"], password)).status_code == 200
    held = [c for c in await _conflicts(suite, far_bureau) if c["holder_id"] == far["id"]]
    assert len(held) == 1 and held[0]["school_id"] == home["id"]


async def test_a_mobile_number_of_another_district_registers_like_a_fresh_one(
    suite: Suite,
) -> None:
    """The same class as identity numbers: a mobile number another district's teacher logs
    in with is kept on the new record, masked, but is no login; a 409 only in one's scope."""
    _, bureau = await _far_district(suite)
    far_school = await school(suite, bureau, "外区手机小学")
    number, own_number = mobile(), mobile()
    far = await teacher_login(suite, bureau, far_school["id"], mobile=number)
    home = await school(suite, await admin(suite), "同手机号小学")
    school_admin = suite.headers(Role.SCHOOL_ADMIN, school_id=home["id"])

    def body(phone: str) -> dict[str, Any]:
        return _teacher(home["id"], id_number()) | {"mobile": phone}

    fresh = await suite.gateway.post("/v1/teachers", headers=school_admin, json=body(own_number))
    taken = await suite.gateway.post("/v1/teachers", headers=school_admin, json=body(number))
    assert fresh.status_code == taken.status_code == 201, taken.text
    volatile = {"id", "created_at", "id_number_masked", "mobile_masked"}
    assert {k: v for k, v in fresh.json().items() if k not in volatile} == {
        k: v for k, v in taken.json().items() if k not in volatile
    }
    assert taken.json()["mobile_masked"] == f"{number[:3]}****{number[-4:]}"

    # The far teacher still logs in with the number.
    password = "far mobile passphrase"
    await activated(suite, far, password)
    mine = bearer(await token(suite.gateway, number, password))
    assert (await suite.gateway.get("/v1/me", headers=mine)).json()["teacher_id"] == far["id"]

    # A number one of the school's own teachers logs in with: a 409, new record or change.
    again = await suite.gateway.post("/v1/teachers", headers=school_admin, json=body(own_number))
    assert again.status_code == 409 and again.json()["type"].endswith("duplicate-mobile")
    changed = await suite.gateway.patch(
        f"/v1/teachers/{taken.json()['id']}", headers=school_admin, json={"mobile": own_number}
    )
    assert changed.status_code == 409 and changed.json()["type"].endswith("duplicate-mobile")


async def test_an_import_counts_a_mobile_number_of_another_district_as_imported(
    suite: Suite,
) -> None:
    _, bureau = await _far_district(suite)
    far_school = await school(suite, bureau, "外区导入手机小学")
    number = mobile()
    await teacher_login(suite, bureau, far_school["id"], mobile=number)
    home = await school(suite, await admin(suite), "导入同手机号小学")
    school_admin = suite.headers(Role.SCHOOL_ADMIN, school_id=home["id"])

    def roster(phones: list[str], tag: str) -> str:
        rows = [f"教师{tag}{i},primary,数学,{id_number()},{p}" for i, p in enumerate(phones)]
        return "\n".join(["姓名,学段,学科,身份证号,手机号", *rows]) + "\n"

    counts = ("created_count", "skipped_count", "errors", "status")
    fresh = await import_with_logins(suite.gateway, school_admin, roster([mobile()], "甲"))
    taken = await import_with_logins(suite.gateway, school_admin, roster([number], "乙"))
    assert [fresh[k] for k in counts] == [taken[k] for k in counts] == [1, 0, [], "done"]
