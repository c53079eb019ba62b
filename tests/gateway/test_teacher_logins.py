"""Teachers' logins: activation codes, passwords, policy, lockout, management, and bad input
that changes nothing."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update

from gateway import accounts
from gateway.handlers import login_handlers
from gateway.models import Account, infra
from shared.auth import Role
from shared.config import DEFAULT_DISTRICT_ID
from shared.events.enrolment import TeacherUpdated
from shared.messaging.inbox import apply_once
from tests.e2e.test_logins_rollout import bearer, id_number, mobile, token
from tests.gateway.helpers import admin, school
from tests.harness import Suite, wait_for


async def teacher_login(
    suite: Suite, headers: dict[str, str], school_id: str, **extra: Any
) -> dict[str, Any]:
    """A teacher registered with a login; returns the teacher with its login and a fresh code."""
    body = {
        "name": f"教师{uuid.uuid4().hex[:4]}",
        "school_id": school_id,
        "stage": "primary",
        "subject": "数学",
        "id_number": id_number(),
        "login": True,
        **extra,
    }
    made = await suite.gateway.post("/v1/teachers", headers=headers, json=body)
    assert made.status_code == 201, made.text
    teacher = made.json()

    async def login() -> dict | None:
        page = await suite.gateway.get(
            "/v1/accounts", headers=headers, params={"q": body["id_number"]}
        )
        items = page.json()["items"]
        return items[0] if items else None

    account = await wait_for(login, timeout=30)
    reset = await suite.gateway.post(f"/v1/accounts/{account['id']}/reset", headers=headers)
    assert reset.status_code == 200, reset.text
    return {
        **teacher,
        **{k: v for k, v in body.items() if k in ("id_number", "mobile")},
        "login": account,
        "code": reset.json()["activation_code"],
    }


async def activated(suite: Suite, teacher: dict[str, Any], password: str) -> dict[str, Any]:
    restricted = bearer(await token(suite.gateway, teacher["id_number"], teacher["code"]))
    answer = await suite.gateway.post(
        "/v1/me/password", headers=restricted, json={"new_password": password}
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.fixture
async def place(suite: Suite) -> dict[str, Any]:
    headers = await admin(suite)
    return {"headers": headers, "school": await school(suite, headers, "账号测试小学")}


async def _account(suite: Suite, account_id: str) -> Account:
    async with suite.gateway_app.state.database.sessions() as session:
        found = await session.get(Account, uuid.UUID(account_id))
        assert found is not None
        return found


async def test_an_expired_activation_code_is_refused_and_changes_nothing(
    suite: Suite, place: dict
) -> None:
    teacher = await teacher_login(suite, place["headers"], place["school"]["id"])
    async with suite.gateway_app.state.database.sessions() as session:
        await session.execute(
            update(Account)
            .where(Account.id == uuid.UUID(teacher["login"]["id"]))
            .values(activation_expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
        await session.commit()
    answer = await token(suite.gateway, teacher["id_number"], teacher["code"])
    assert answer.status_code == 400
    assert answer.json()["type"].endswith("activation-code-expired")
    assert "请向学校申请" in answer.json()["detail"]
    assert (await _account(suite, teacher["login"]["id"])).password_hash == ""


async def test_an_activation_token_sets_one_password_once(suite: Suite, place: dict) -> None:
    teacher = await teacher_login(suite, place["headers"], place["school"]["id"])
    restricted = bearer(await token(suite.gateway, teacher["id_number"], teacher["code"]))
    first = await suite.gateway.post(
        "/v1/me/password", headers=restricted, json={"new_password": "first passphrase"}
    )
    assert first.status_code == 200, first.text
    second = await suite.gateway.post(
        "/v1/me/password", headers=restricted, json={"new_password": "second passphrase"}
    )
    assert second.status_code == 409 and second.json()["type"].endswith("activation-code-used")
    assert (await token(suite.gateway, teacher["id_number"], "first passphrase")).status_code == 200
    assert (
        await token(suite.gateway, teacher["id_number"], "second passphrase")
    ).status_code == 400


async def test_a_wrong_current_password_is_refused_and_changes_nothing(
    suite: Suite, place: dict
) -> None:
    teacher = await teacher_login(suite, place["headers"], place["school"]["id"])
    tokens = await activated(suite, teacher, "the old passphrase")
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    wrong = await suite.gateway.post(
        "/v1/me/password",
        headers=headers,
        json={"current_password": "not it", "new_password": "a new passphrase"},
    )
    assert wrong.status_code == 400 and wrong.json()["type"].endswith("wrong-password")
    missing = await suite.gateway.post(
        "/v1/me/password", headers=headers, json={"new_password": "a new passphrase"}
    )
    assert missing.status_code == 400
    assert (
        await token(suite.gateway, teacher["id_number"], "the old passphrase")
    ).status_code == 200
    assert (await token(suite.gateway, teacher["id_number"], "a new passphrase")).status_code == 400


async def test_changing_the_password_ends_the_other_sessions(suite: Suite, place: dict) -> None:
    teacher = await teacher_login(suite, place["headers"], place["school"]["id"])
    await activated(suite, teacher, "the old passphrase")
    phone = (await token(suite.gateway, teacher["id_number"], "the old passphrase")).json()
    laptop = (await token(suite.gateway, teacher["id_number"], "the old passphrase")).json()
    changed = await suite.gateway.post(
        "/v1/me/password",
        headers={"Authorization": f"Bearer {laptop['access_token']}"},
        json={"current_password": "the old passphrase", "new_password": "a new passphrase"},
    )
    assert changed.status_code == 200, changed.text
    # The answer's session works (checked first: showing a revoked token ends every session).
    fresh = await suite.gateway.post(
        "/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": changed.json()["refresh_token"]},
    )
    assert fresh.status_code == 200, fresh.text
    for old in (phone, laptop):
        refresh = await suite.gateway.post(
            "/v1/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": old["refresh_token"]},
        )
        assert refresh.status_code == 400


async def test_the_password_policy_refuses_short_and_common_passwords(
    suite: Suite, place: dict
) -> None:
    teacher = await teacher_login(suite, place["headers"], place["school"]["id"])
    restricted = bearer(await token(suite.gateway, teacher["id_number"], teacher["code"]))
    for weak in ("short", "Password123", "woaini1314", "aaaaaaaaaaa"):
        answer = await suite.gateway.post(
            "/v1/me/password", headers=restricted, json={"new_password": weak}
        )
        assert answer.status_code == 422, weak
        assert answer.json()["type"].endswith("weak-password")
    assert (await _account(suite, teacher["login"]["id"])).password_hash == ""


async def test_every_failed_login_looks_the_same(suite: Suite, place: dict) -> None:
    """Unknown identity or mobile number, a wrong code, a wrong password: one answer."""
    pending = await teacher_login(suite, place["headers"], place["school"]["id"], mobile=mobile())
    active = await teacher_login(suite, place["headers"], place["school"]["id"])
    await activated(suite, active, "the right passphrase")
    answers = [
        await token(suite.gateway, id_number(), "ABCD-EFGH-JKMN-PQRS"),
        await token(suite.gateway, mobile(), "ABCD-EFGH-JKMN-PQRS"),
        await token(suite.gateway, pending["id_number"], "ABCD-EFGH-JKMN-PQRS"),
        await token(suite.gateway, pending["mobile"], "ABCD-EFGH-JKMN-PQRS"),
        await token(suite.gateway, active["id_number"], "the wrong passphrase"),
    ]
    assert {a.status_code for a in answers} == {400}
    assert len({(a.json()["type"], a.json()["detail"]) for a in answers}) == 1


async def test_a_code_login_costs_one_argon2_verification_like_a_password_login(
    suite: Suite, place: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    teacher = await teacher_login(suite, place["headers"], place["school"]["id"])
    calls: list[str] = []
    original = accounts.verify_password

    async def counted(password: str, stored: str) -> bool:
        calls.append(password)
        return await original(password, stored)

    monkeypatch.setattr(accounts, "verify_password", counted)
    assert (await token(suite.gateway, teacher["id_number"], teacher["code"])).status_code == 200
    assert (await token(suite.gateway, teacher["id_number"], "wrong")).status_code == 400
    assert (await token(suite.gateway, id_number(), "wrong")).status_code == 400
    assert len(calls) == 3


async def test_wrong_codes_lock_the_login_until_the_school_unlocks_it(
    suite: Suite, place: dict
) -> None:
    teacher = await teacher_login(suite, place["headers"], place["school"]["id"])
    for _ in range(suite.gateway_app.state.settings.lockout().failures):
        assert (await token(suite.gateway, teacher["id_number"], "WRONG-CODE")).status_code == 400
    # Even the right code fails now, with the answer of any failure: by identity number, a
    # lockout must not tell an outsider that the number has a login.
    locked = await token(suite.gateway, teacher["id_number"], teacher["code"])
    unknown = await token(suite.gateway, id_number(), teacher["code"])
    assert locked.status_code == unknown.status_code == 400
    assert locked.json()["detail"] == unknown.json()["detail"]
    assert locked.json()["type"].endswith("invalid-grant")
    listed = await suite.gateway.get(
        "/v1/accounts", headers=place["headers"], params={"status": "locked"}
    )
    assert teacher["login"]["id"] in {i["id"] for i in listed.json()["items"]}
    unlocked = await suite.gateway.post(
        f"/v1/accounts/{teacher['login']['id']}/unlock", headers=place["headers"]
    )
    assert unlocked.status_code == 200 and unlocked.json()["status"] == "pending"
    assert (await token(suite.gateway, teacher["id_number"], teacher["code"])).status_code == 200


async def test_mobile_numbers_are_validated_unique_and_masked(suite: Suite, place: dict) -> None:
    phone = mobile()
    first = await teacher_login(suite, place["headers"], place["school"]["id"], mobile=phone)
    assert first["mobile_masked"] == phone[:3] + "****" + phone[-4:]
    body = {
        "name": "重复号码",
        "school_id": place["school"]["id"],
        "stage": "primary",
        "subject": "数学",
    }
    twice = await suite.gateway.post(
        "/v1/teachers", headers=place["headers"], json={**body, "mobile": phone}
    )
    assert twice.status_code == 409 and twice.json()["type"].endswith("duplicate-mobile")
    bad = await suite.gateway.post(
        "/v1/teachers", headers=place["headers"], json={**body, "mobile": "12012345678"}
    )
    assert bad.status_code == 422
    other = await suite.gateway.post("/v1/teachers", headers=place["headers"], json=body)
    assert other.status_code == 201
    taken = await suite.gateway.patch(
        f"/v1/teachers/{other.json()['id']}", headers=place["headers"], json={"mobile": phone}
    )
    assert taken.status_code == 409 and taken.json()["type"].endswith("duplicate-mobile")
    read = await suite.gateway.get(f"/v1/teachers/{other.json()['id']}", headers=place["headers"])
    assert read.json()["mobile_masked"] is None


async def test_a_new_mobile_number_becomes_the_login(suite: Suite, place: dict) -> None:
    old, new = mobile(), mobile()
    teacher = await teacher_login(suite, place["headers"], place["school"]["id"], mobile=old)
    await activated(suite, teacher, "a good passphrase")
    changed = await suite.gateway.patch(
        f"/v1/teachers/{teacher['id']}", headers=place["headers"], json={"mobile": new}
    )
    assert changed.status_code == 200, changed.text

    async def moved() -> bool:
        return (await token(suite.gateway, new, "a good passphrase")).status_code == 200

    await wait_for(moved, timeout=30)
    assert (await token(suite.gateway, old, "a good passphrase")).status_code == 400


async def test_logins_are_listed_searched_and_paged(suite: Suite, place: dict) -> None:
    made = [await teacher_login(suite, place["headers"], place["school"]["id"]) for _ in range(3)]
    await activated(suite, made[0], "a good passphrase")
    params = {"school_id": place["school"]["id"]}
    seen: list[str] = []
    cursor = None
    while True:
        page = await suite.gateway.get(
            "/v1/accounts",
            headers=place["headers"],
            params={**params, "limit": 2} | ({"cursor": cursor} if cursor else {}),
        )
        assert page.status_code == 200, page.text
        seen += [i["id"] for i in page.json()["items"]]
        if not (cursor := page.json()["next_cursor"]):
            break
    assert seen == sorted(set(seen), key=seen.index) and len(seen) == 3
    by_name = await suite.gateway.get(
        "/v1/accounts", headers=place["headers"], params={"q": made[1]["name"][2:]}
    )
    assert [i["id"] for i in by_name.json()["items"]] == [made[1]["login"]["id"]]
    active = await suite.gateway.get(
        "/v1/accounts", headers=place["headers"], params={**params, "status": "active"}
    )
    assert [i["id"] for i in active.json()["items"]] == [made[0]["login"]["id"]]
    teacher = bearer(await token(suite.gateway, made[0]["id_number"], "a good passphrase"))
    assert (await suite.gateway.get("/v1/accounts", headers=teacher)).status_code == 403


async def test_a_lost_code_sheet_is_reissued_and_its_codes_stop_working(
    suite: Suite, place: dict
) -> None:
    headers, school_id = place["headers"], place["school"]["id"]
    teacher = await teacher_login(suite, headers, school_id)
    keyed = {**headers, "Idempotency-Key": f"sheet-{uuid.uuid4()}"}
    body = {"school_id": school_id, "reissue": True}
    sheet = await suite.gateway.post("/v1/accounts/activation-codes", headers=keyed, json=body)
    assert sheet.status_code == 200 and sheet.headers["shixun-codes-issued"] == "1"
    rows = list(load_workbook(io.BytesIO(sheet.content)).worksheets[0].values)
    code = rows[1][rows[0].index("激活码")]
    replay = await suite.gateway.post("/v1/accounts/activation-codes", headers=keyed, json=body)
    assert replay.status_code == 409 and replay.json()["type"].endswith("codes-shown-once")
    assert (await token(suite.gateway, teacher["id_number"], teacher["code"])).status_code == 400
    assert (await token(suite.gateway, teacher["id_number"], code)).status_code == 200


async def test_an_import_with_logins_makes_them_for_teachers_already_registered(
    suite: Suite, place: dict
) -> None:
    headers, school_id = place["headers"], place["school"]["id"]
    number = id_number()
    csv = f"name,stage,subject,id_number,school_id\n老教师,primary,数学,{number},{school_id}\n"
    for logins in ("false", "true"):
        upload = await suite.gateway.post(
            "/v1/teachers/imports",
            headers=headers,
            data={"create_logins": logins},
            files={"file": ("roster.csv", csv.encode(), "text/csv")},
        )
        assert upload.status_code == 202, upload.text

        async def done(job_id: str = upload.json()["id"]) -> bool:
            job = await suite.gateway.get(f"/v1/teachers/imports/{job_id}", headers=headers)
            return job.json()["status"] == "done"

        await wait_for(done, timeout=30)

    async def login() -> list:
        page = await suite.gateway.get("/v1/accounts", headers=headers, params={"q": number})
        return page.json()["items"]

    assert [i["name"] for i in await wait_for(login, timeout=30)] == ["老教师"]
    async with suite.gateway_app.state.database.sessions() as session:
        count = len((await session.scalars(select(Account).where(Account.name == "老教师"))).all())
    assert count >= 1


async def test_a_teacher_who_moves_school_is_managed_by_the_new_school(
    suite: Suite, place: dict
) -> None:
    headers = place["headers"]
    teacher = await teacher_login(suite, headers, place["school"]["id"])
    new_school = await school(suite, headers, "新学校")
    old_admin = suite.headers(Role.SCHOOL_ADMIN, school_id=uuid.UUID(place["school"]["id"]))
    new_admin = suite.headers(Role.SCHOOL_ADMIN, school_id=uuid.UUID(new_school["id"]))
    # Enrolment announces a school change as TeacherUpdated; applied as the consumer does.
    moved = TeacherUpdated(
        teacher_id=uuid.UUID(teacher["id"]),
        school_id=uuid.UUID(new_school["id"]),
        district_id=DEFAULT_DISTRICT_ID,
        name=teacher["name"],
        stage="primary",
        subject_taught="数学",
    )
    await apply_once(
        suite.gateway_app.state.database,
        infra,
        "gateway-logins",
        login_handlers.handlers[moved.subject],
        moved,
    )
    reset = f"/v1/accounts/{teacher['login']['id']}/reset"
    assert (await suite.gateway.post(reset, headers=old_admin)).status_code == 404
    assert (await suite.gateway.post(reset, headers=new_admin)).status_code == 200


async def test_the_bureau_cannot_give_a_staff_login_a_common_password(suite: Suite) -> None:
    answer = await suite.gateway.post(
        "/v1/accounts",
        headers=await admin(suite),
        json={
            "username": f"sa-{uuid.uuid4().hex[:6]}",
            "password": "password123",
            "role": "bureau_admin",
        },
    )
    assert answer.status_code == 422 and answer.json()["type"].endswith("weak-password")


async def test_a_teacher_with_a_login_gets_no_second_one(suite: Suite, place: dict) -> None:
    teacher = await teacher_login(suite, place["headers"], place["school"]["id"])
    second = await suite.gateway.post(
        "/v1/accounts",
        headers=place["headers"],
        json={
            "username": f"t-{uuid.uuid4().hex[:6]}",
            "password": "a good passphrase",
            "role": "teacher",
            "teacher_id": teacher["id"],
        },
    )
    assert second.status_code == 409 and second.json()["type"].endswith("teacher-has-login")


async def test_codes_are_never_logged_nor_stored_in_clear(
    suite: Suite, place: dict, capfd: pytest.CaptureFixture[str]
) -> None:
    teacher = await teacher_login(suite, place["headers"], place["school"]["id"])
    keyed = {**place["headers"], "Idempotency-Key": f"reset-{uuid.uuid4()}"}
    reset = f"/v1/accounts/{teacher['login']['id']}/reset"
    first = await suite.gateway.post(reset, headers=keyed)
    code = first.json()["activation_code"]
    replay = await suite.gateway.post(reset, headers=keyed)
    assert replay.status_code == 200 and replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["activation_code"] is None  # the stored answer holds no code
    assert (await token(suite.gateway, teacher["id_number"], code)).status_code == 200
    stored = await _account(suite, teacher["login"]["id"])
    assert stored.activation_hash == accounts.activation_hash(code) != code
    assert stored.activation_hash == accounts.activation_hash(code.lower().replace("-", " "))
    out, err = capfd.readouterr()
    assert "/reset" in out + err  # the request log was captured, and holds no code
    assert code not in out + err
    async with suite.gateway_app.state.database.sessions() as session:
        rows = (await session.execute(select(infra.idempotency))).all()
    assert not any(code in str(row) for row in rows)
