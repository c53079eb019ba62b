"""Identity numbers are personal data: registering one never tells the caller whether the
number belongs to someone outside the caller's scope, and it is shown masked to 1+1 digits."""

from __future__ import annotations

from tests.enrolment.conftest import World, ok
from tests.enrolment.test_roster_import import finished, id_number, upload


async def test_registering_a_number_reveals_no_other_schools_teacher(world: World) -> None:
    a, b = await world.school(), await world.school()
    number = id_number()
    first = await world.teacher(a, id_number=number)
    assert first["id_number_masked"] == number[0] + "*" * 16 + number[-1]

    def body(school: dict, name: str) -> dict:
        return {
            "name": name,
            "school_id": school["id"],
            "stage": "primary",
            "subject": "语文",
            "id_number": number,
        }

    # School B's admin gets the answer it would get for a number nobody has.
    as_b = world.school_admin(b)
    registered = await world.api.post("/v1/teachers", headers=as_b, json=body(b, "钱老师"))
    assert registered.status_code == 201, registered.text
    assert registered.json()["id"] != first["id"]
    # Within one's own scope a duplicate is still refused: school A, and the bureau (which
    # sees the whole district).
    as_a = world.school_admin(a)
    again = await world.api.post("/v1/teachers", headers=as_a, json=body(a, "孙老师"))
    assert again.status_code == 409 and first["id"] not in again.text
    c = await world.school()
    by_bureau = await world.api.post("/v1/teachers", headers=world.bureau, json=body(c, "李老师"))
    assert by_bureau.status_code == 409

    # A roster import by school C's admin neither skips the row nor counts it as known.
    as_c = world.school_admin(c)
    content = f"姓名,学段,学科,身份证号\n周老师,primary,数学,{number}\n".encode()
    job = ok(await upload(world, content, "c.csv", "valid_rows", as_c), 202)
    result = await finished(world, job, as_c)
    assert (result["created_count"], result["skipped_count"]) == (1, 0), result
