"""The catalogue a teacher browses: Chinese search, filters combined, sorts, cursors, refusals."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from services.enrolment.search_terms import text_terms
from tests.enrolment.conftest import TODAY, World, ok

TEAM = [{"name": "王教授", "kind": "expert"}, {"name": "李老师", "kind": "frontline"}]


def word() -> str:
    """Two Chinese characters no other test's program is likely to hold."""
    return "".join(chr(random.randint(0x6000, 0x8FFF)) for _ in range(2))


async def browse(world: World, headers: dict, **params) -> dict:
    return ok(await world.api.get("/v1/catalogue", headers=headers, params=params))


def test_text_is_indexed_as_character_pairs_and_ascii_words() -> None:
    assert text_terms("班主任能力 AI课堂") == {
        "班主",
        "主任",
        "任能",
        "能力",
        "力",
        "ai",
        "课堂",
        "堂",
    }


async def test_a_two_character_word_finds_title_and_description_and_nothing_else(
    world: World,
) -> None:
    institution = await world.institution()
    key = word()
    in_title = await world.program(institution, title=f"小学{key}专题研修")
    in_text = await world.program(institution, description=f"围绕{key}开展课例研讨。")
    # The same characters, not side by side: the pairs differ, so it is not found.
    await world.program(institution, title=f"{key[0]}与{key[1]}")
    teacher = await world.teacher(await world.school())
    page = await browse(world, world.teacher_token(teacher), q=key)
    assert {item["id"] for item in page["items"]} == {in_title["id"], in_text["id"]}
    item = next(i for i in page["items"] if i["id"] == in_title["id"])
    assert item["institution_name"] == institution["name"]
    assert item["seats_left"] == 10 and item["open_now"] is True and item["my_status"] is None
    # One character finds both by prefix; several words must all be there.
    assert {i["id"] for i in (await browse(world, world.bureau, q=key[0]))["items"]} >= {
        in_title["id"],
        in_text["id"],
    }
    both = await browse(world, world.bureau, q=f"{key} 专题")
    assert [i["id"] for i in both["items"]] == [in_title["id"]]


async def test_filters_combine(world: World) -> None:
    institution = await world.institution()
    other = await world.institution()
    key = word()
    starts = TODAY + dt.timedelta(days=40)
    fits = await world.program(
        institution,
        title=f"{key}初中数学",
        level="municipal",
        expert_team=TEAM,
        mode="online",
        audience={"stages": ["junior"], "subjects": ["数学"]},
        starts_on=starts.isoformat(),
        ends_on=(starts + dt.timedelta(days=2)).isoformat(),
    )
    await world.program(institution, title=f"{key}小学", audience={"stages": ["primary"]})
    await world.program(
        other, title=f"{key}他校", level="municipal", expert_team=TEAM, mode="online"
    )
    full = await world.program(
        institution,
        title=f"{key}满员",
        level="municipal",
        expert_team=TEAM,
        mode="online",
        capacity=1,
    )
    teacher = await world.teacher(await world.school(), stage="junior")
    assert (await world.enrol(full, teacher)).status_code == 201
    params = {
        "q": key,
        "stage": "junior",
        "subject": "数学",
        "mode": "online",
        "level": "municipal",
        "institution_id": institution["id"],
        "date_from": (starts - dt.timedelta(days=1)).isoformat(),
        "date_to": (starts + dt.timedelta(days=30)).isoformat(),
        "open_now": "true",
        "seats_left": "true",
    }
    page = await browse(world, world.teacher_token(teacher), **params)
    assert [i["id"] for i in page["items"]] == [fits["id"]]
    # Without seats_left the full one is there too, with the teacher's own status.
    del params["seats_left"], params["date_from"], params["date_to"]
    page = await browse(world, world.teacher_token(teacher), **params)
    statuses = {i["id"]: i["my_status"] for i in page["items"]}
    assert statuses == {fits["id"]: None, full["id"]: "confirmed"}


async def test_sorts_page_with_cursors_and_a_cursor_keeps_to_its_sort(world: World) -> None:
    institution = await world.institution()
    key = word()
    made = []
    for capacity, days in ((5, 60), (6, 50), (7, 55)):
        starts = TODAY + dt.timedelta(days=days)
        made.append(
            await world.program(
                institution,
                title=f"{key}{capacity}",
                capacity=capacity,
                starts_on=starts.isoformat(),
                ends_on=starts.isoformat(),
            )
        )
    teachers = [await world.teacher(await world.school()) for _ in range(2)]
    for teacher in teachers:  # the 7-seat program is the most popular
        assert (await world.enrol(made[2], teacher)).status_code == 201
    first = await browse(world, world.bureau, q=key, sort="starts_on", limit=2)
    assert [i["id"] for i in first["items"]] == [made[1]["id"], made[2]["id"]]
    rest = await browse(world, world.bureau, q=key, limit=2, cursor=first["next_cursor"])
    assert [i["id"] for i in rest["items"]] == [made[0]["id"]] and rest["next_cursor"] is None
    popular = await browse(world, world.bureau, q=key, sort="popularity", limit=1)
    assert popular["items"][0]["id"] == made[2]["id"]
    wrong = await world.api.get(
        "/v1/catalogue",
        headers=world.bureau,
        params={"q": key, "sort": "closing", "cursor": first["next_cursor"]},
    )
    assert wrong.status_code == 400 and wrong.json()["type"].endswith("bad-cursor")


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"colour": "red"}, 400, "unknown-filter"),
        ({"date_from": "2027-05-01", "date_to": "2027-04-01"}, 422, "bad-date-range"),
        ({"q": "培" * 51}, 422, "search-too-long"),
        ({"q": "！？"}, 422, "search-empty"),
        ({"cursor": "not-ours"}, 400, "bad-cursor"),
    ],
)
async def test_bad_input_is_a_clear_problem_in_chinese(
    world: World, params: dict, status: int, code: str
) -> None:
    response = await world.api.get("/v1/catalogue", headers=world.bureau, params=params)
    assert response.status_code == status, response.text
    problem = response.json()
    assert problem["type"].endswith(code)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in problem["detail"]), problem["detail"]


async def test_the_detail_tells_a_teacher_each_rule_as_it_stands(world: World) -> None:
    institution = await world.institution()
    program = await world.program(
        institution,
        place="区教师进修学校报告厅",
        description="课例研讨",
        audience={"stages": ["senior"]},
        expert_team=TEAM,
    )
    teacher = await world.teacher(await world.school())
    detail = ok(
        await world.api.get(f"/v1/catalogue/{program['id']}", headers=world.teacher_token(teacher))
    )
    assert detail["place"] == "区教师进修学校报告厅"
    assert detail["expert_team"] == TEAM
    rules = {r["code"]: r for r in detail["rules"]}
    assert rules["enrolment-window"]["ok"] is True
    assert rules["target-audience"]["ok"] is False and rules["target-audience"]["detail"]
    assert rules["selection"]["detail"].startswith("先到先得")


async def test_updated_since_lists_only_what_changed(world: World) -> None:
    institution = await world.institution()
    teacher = await world.teacher(await world.school())
    headers = world.teacher_token(teacher)
    first = await world.program(institution, place="一号楼")
    ok(await world.enrol(first, teacher), 201)
    mark = dt.datetime.now(dt.UTC)
    second = await world.program(institution)
    placed = ok(await world.enrol(second, teacher), 201)
    url = f"/v1/teachers/{teacher['id']}/enrolments"
    everything = ok(await world.api.get(url, headers=headers))["items"]
    assert (everything[0]["program_title"], everything[0]["place"]) == (first["title"], "一号楼")
    since = ok(
        await world.api.get(url, headers=headers, params={"updated_since": mark.isoformat()})
    )
    assert [i["id"] for i in since["items"]] == [placed["id"]]
    # A change moves it: a withdrawal of the first shows up after the mark.
    mark = dt.datetime.now(dt.UTC)
    withdrawn = ok(await world.act(everything[0], "withdraw", headers=headers))
    since = ok(
        await world.api.get(url, headers=headers, params={"updated_since": mark.isoformat()})
    )
    assert [(i["id"], i["status"]) for i in since["items"]] == [(withdrawn["id"], "withdrawn")]
