"""The sync port: a fake provincial platform speaking the file format over HTTP, and a
dropped-files directory."""

from __future__ import annotations

import csv
import io
import json
import random
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from services.ledger.province_sync import Exchange, FileDrop, HttpExchange, sync
from tests.harness import wait_for
from tests.ledger.conftest import District
from tests.ledger.test_provincial_imports import gbk_csv, id_number, line, teacher_with_id


class FakeProvince:
    """The platform: it serves its file of the district's hours, keeps one batch per number,
    and answers each at once, rejecting lines of more than 8 hours."""

    def __init__(self, records: bytes) -> None:
        self.records = records
        self.batches: dict[int, list[dict[str, str]]] = {}
        self.pushes = 0
        self.app = FastAPI()
        self.app.get("/province/records")(self.get_records)
        self.app.post("/province/batches")(self.post_batch)
        self.app.get("/province/batches/{number}/acknowledgement")(self.get_ack)

    async def get_records(self, request: Request) -> Response:
        assert request.headers["authorization"] == "Bearer " + "省平台令牌".encode().hex()
        return Response(self.records, media_type="text/csv")

    async def post_batch(self, request: Request) -> Response:
        self.pushes += 1
        text = (await request.body()).decode("utf-8-sig")
        self.batches[int(request.headers["x-batch-number"])] = list(
            csv.DictReader(io.StringIO(text))
        )
        return Response(status_code=202)

    async def get_ack(self, number: int) -> Response:
        if number not in self.batches:
            return Response(status_code=404)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["记录编号", "审核结果", "退回原因"])
        for row in self.batches[number]:
            if float(row["学时"]) > 8:
                writer.writerow([row["记录编号"], "不通过", "学时超过单日上限"])
            else:
                writer.writerow([row["记录编号"], "通过", ""])
        return Response(out.getvalue().encode("gbk"), media_type="text/csv")


async def imported(district: District, count: int) -> None:
    async def all_done() -> bool:
        items = (await district.client.get("/v1/ledger/imports", headers=district.bureau())).json()[
            "items"
        ]
        return len(items) == count and all(i["status"] == "done" for i in items)

    await wait_for(all_done, timeout=30)


async def test_the_http_adapter_pulls_pushes_and_applies_the_answer(district: District) -> None:
    rng = random.Random(41)
    number, other = id_number(rng), id_number(rng)
    teacher = await teacher_with_id(district, number)
    colleague = await teacher_with_id(district, other)
    long_day = await district.recognise(teacher, hours="10.0", occurred_on="2026-03-01")
    short = await district.recognise(colleague, hours="4.0", occurred_on="2026-03-02")
    province = FakeProvince(gbk_csv([line("S-1", number, hours="5.0"), line("S-2", other)]))
    database = district.suite.apps["ledger"].state.database
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=province.app), base_url="http://province"
    ) as client:
        port = HttpExchange("http://province/province", "省平台令牌".encode().hex(), client)
        exchange = Exchange(district.id, port)
        assert await sync(database, exchange) == {"files": 1, "pushed": 1, "acknowledged": 1}
        await imported(district, 1)
        assert (await district.hours(teacher, 2026))["total_hours"] == "15.0"
        sent = province.batches[1]
        assert {r["记录编号"]: r["身份证号"] for r in sent} == {
            long_day["id"]: number,
            short["id"]: other,
        }
        own = await district.hours(teacher, 2026, headers=district.teacher(teacher))
        assert [r["reason"] for r in own["province_rejections"]] == ["学时超过单日上限"]
        # Nothing new: the same file is the same import, the batch is answered already.
        assert await sync(database, exchange) == {"files": 0, "pushed": 0, "acknowledged": 0}
        assert province.pushes == 1
        # The platform down: the pass fails and changes nothing.
        dead = HttpExchange("http://province/gone", None, client)
        try:
            await sync(database, Exchange(district.id, dead))
        except httpx.HTTPStatusError as exc:
            assert exc.response.status_code == 404
        else:
            raise AssertionError("a platform answering 404 is a failed pass")


async def test_the_file_drop_adapter_takes_dropped_files_and_answers(
    district: District, tmp_path: Path
) -> None:
    number = id_number(random.Random(42))
    teacher = await teacher_with_id(district, number)
    entry = await district.recognise(teacher, hours="6.0", occurred_on="2026-04-01")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "省平台学时.csv").write_bytes(gbk_csv([line("D-1", number, hours="2.0")]))
    database = district.suite.apps["ledger"].state.database
    exchange = Exchange(district.id, FileDrop(tmp_path))
    assert await sync(database, exchange) == {"files": 1, "pushed": 1, "acknowledged": 0}
    await imported(district, 1)
    assert (await district.hours(teacher, 2026))["total_hours"] == "8.0"
    out = (tmp_path / "out" / "batch-000001.csv").read_bytes().decode("utf-8-sig")
    assert entry["id"] in out and number in out
    assert not list((tmp_path / "out").glob("*.part"))
    (tmp_path / "ack").mkdir()
    (tmp_path / "ack" / "batch-000001.csv").write_bytes(
        f"记录编号,结果,原因\n{entry['id']},退回,证书编号缺失\n".encode("gbk")
    )
    assert await sync(database, exchange) == {"files": 0, "pushed": 0, "acknowledged": 1}
    batches = (
        await district.client.get("/v1/ledger/province/batches", headers=district.bureau())
    ).json()["items"]
    assert (batches[0]["rejected"], batches[0]["sent_at"] is not None) == (1, True)


async def test_the_exchanges_are_configured_by_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from services.ledger.config import Settings
    from services.ledger.province_sync import exchanges

    north, south = uuid.uuid4(), uuid.uuid4()
    monkeypatch.setenv(
        "SHIXUN_LEDGER_PROVINCE_SYNC",
        json.dumps(
            [
                {"district_id": str(north), "directory": str(tmp_path)},
                {"district_id": str(south), "url": "https://province.example/api", "token": "t"},
            ]
        ),
    )
    async with httpx.AsyncClient() as client:
        found = exchanges(Settings().province_sync, client)
    assert [(e.district_id, type(e.port)) for e in found] == [
        (north, FileDrop),
        (south, HttpExchange),
    ]
    assert found[0].principal.scopes == frozenset({"hours:import"})
