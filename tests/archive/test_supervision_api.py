"""County supervision over HTTP against a real archive in-process (SQLite, the real
nats-server), fed the generated month: the filing's lifecycle under seal, jurisdiction,
bad input, statistics (as of a date, XLSX totals, charts) and alerts. Every refusal is
problem+json and changes nothing."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from services.archive.main import ArchiveRuntime
from shared.auth import Role
from shared.seals import TrustList, verify_seal
from tests.support.places import GUANGPO, SANCAI, YELIN
from tests.support.supervision import World, comparable
from tests.support.web import assert_problem

pytestmark = pytest.mark.nats

TODAY = date(2025, 4, 3)  # March is over; its filing is due on the 5th working day after
FILING = f"/supervision/filings/{YELIN}/2025-03"


@pytest.fixture(scope="module")
def world() -> World:
    return World()


@pytest.fixture
async def archive(service: Any, world: World) -> ArchiveRuntime:
    def with_the_world(rt: Any) -> None:
        rt.app.today = lambda: TODAY
        with rt.app.unit_of_work():
            for env in world.envelopes():
                assert rt.app.archive_envelope(env) == "linked"
    return await service("archive", with_the_world, alert_scan_interval_s=0)


@pytest.fixture
def runtime(archive: ArchiveRuntime) -> ArchiveRuntime:
    return archive


def own_events(rt: ArchiveRuntime) -> int:
    return sum(1 for _ in rt.app.iter_domain_events())


def sheet_rows(content: bytes, sheet: str) -> list[tuple[Any, ...]]:
    wb = load_workbook(io.BytesIO(content), read_only=True)
    return [tuple(r) for r in wb[sheet].iter_rows(values_only=True)]


# --- the monthly filing (报备) -----------------------------------------------------------------

async def test_compile_review_seal_submit_receive_query_answer(
        http: httpx.AsyncClient, archive: ArchiveRuntime, as_: Any, world: World) -> None:
    clerk, leader = as_(Role.TOWNSHIP_CLERK, YELIN), as_(Role.TOWNSHIP_LEADER, YELIN)
    bureau = as_(Role.COUNTY_BUREAU)
    r = await http.post(FILING + "/compile", headers=clerk)
    assert r.status_code == 201, r.text
    compiled = r.json()
    assert compiled["status"] == "compiled" and compiled["version"] == 1
    # 5 working days after Mar 31: Apr 1, 2, 3, (清明 4–6), 7, 8.
    assert compiled["due_on"] == "2025-04-08"
    accepted = sum(1 for s in world.scripts if s.township == YELIN
                   and (s.accepted_on.year, s.accepted_on.month) == (2025, 3))
    assert compiled["totals"]["applications_accepted"] == accepted

    # The leader reviews the preview, then seals exactly that version.
    preview = await http.get(FILING + "/document", headers=leader)
    assert preview.headers["x-document-status"] == "preview"
    r = await http.post(FILING + "/submit", json={"reviewed_version": 1}, headers=leader)
    assert r.status_code == 200, r.text
    submitted = r.json()
    assert submitted["status"] == "submitted" and submitted["late"] is False
    assert submitted["seal"]["owner"] == YELIN
    assert submitted["seal"]["document_kind"] == "monthly_filing_xlsx"

    doc = await http.get(FILING + "/document", headers=bureau)
    assert doc.headers["x-document-status"] == "sealed"
    assert doc.headers["x-seal-valid"] == "true"
    trust = TrustList.load(archive.settings.resolved_seal_keys_dir / "trust-list.json")
    assert verify_seal(submitted["seal"], trust, subject="2025-03", content=doc.content).valid
    rows = sheet_rows(doc.content, "汇总")
    by_code = {r[1]: r for r in rows if r and isinstance(r[1], str)}
    line = by_code["applications_accepted"]
    assert line[-1] == accepted and sum(line[2:-1]) == accepted  # kinds add up to the total
    details = sheet_rows(doc.content, "明细")
    assert len(details) - 1 == sum(v for k, v in compiled["totals"].items())

    r = await http.post(FILING + "/receive", headers=bureau)
    assert r.status_code == 200 and r.json()["status"] == "received"
    r = await http.post(FILING + "/queries", json={"question": "确认件数与统计表不一致"},
                        headers=bureau)
    assert r.status_code == 201, r.text
    query_id = r.json()["query_id"]
    r = await http.post(f"{FILING}/queries/{query_id}/answer",
                        json={"answer": "统计表按发放月份计"}, headers=leader)
    assert r.status_code == 200, r.text
    view = (await http.get(FILING, headers=clerk)).json()
    assert view["status"] == "received" and view["queries"][0]["answer"] == "统计表按发放月份计"
    assert view["submission"]["by"] == f"township_leader-{YELIN}"


async def test_a_late_filing_is_marked(http: httpx.AsyncClient, archive: ArchiveRuntime,
                                       as_: Any) -> None:
    leader = as_(Role.TOWNSHIP_LEADER, GUANGPO)
    path = f"/supervision/filings/{GUANGPO}/2025-03"
    assert (await http.post(path + "/compile", headers=leader)).status_code == 201
    archive.app.today = lambda: date(2025, 4, 9)  # the day after it was due
    listing = (await http.get("/supervision/filings?month=2025-03",
                              headers=as_(Role.COUNTY_BUREAU))).json()
    guangpo = next(i for i in listing["items"] if i["township"] == GUANGPO)
    assert guangpo["overdue"] is True
    not_compiled = {i["township"]: i for i in listing["not_compiled"]}
    assert YELIN in not_compiled and not_compiled[YELIN]["overdue"] is True
    assert len(not_compiled) == 10  # every other township of the county
    r = await http.post(path + "/submit", json={"reviewed_version": 1, "note": "系统故障"},
                        headers=leader)
    assert r.status_code == 200 and r.json()["late"] is True


async def test_a_township_sees_only_its_own_filing_county_roles_see_all(
        http: httpx.AsyncClient, archive: ArchiveRuntime, as_: Any) -> None:
    for t in (YELIN, GUANGPO):
        r = await http.post(f"/supervision/filings/{t}/2025-03/compile",
                            headers=as_(Role.TOWNSHIP_CLERK, t))
        assert r.status_code == 201
    before = own_events(archive)
    other = as_(Role.TOWNSHIP_LEADER, GUANGPO)
    assert_problem(await http.get(FILING, headers=other), 403, "auth.jurisdiction")
    assert_problem(await http.get(FILING + "/document", headers=other), 403,
                   "auth.jurisdiction")
    assert_problem(await http.post(FILING + "/compile", headers=other), 403,
                   "auth.jurisdiction")
    assert_problem(await http.post(FILING + "/submit", json={"reviewed_version": 1},
                                   headers=other), 403, "auth.jurisdiction")
    mine = (await http.get("/supervision/filings", headers=other)).json()["items"]
    assert [i["township"] for i in mine] == [GUANGPO]
    assert_problem(await http.get(f"/supervision/filings?township={YELIN}", headers=other),
                   403, "auth.jurisdiction")
    for role in (Role.COUNTY_CENTRE, Role.COUNTY_BUREAU, Role.DISCIPLINE_INSPECTOR):
        everything = (await http.get("/supervision/filings", headers=as_(role))).json()
        assert {i["township"] for i in everything["items"]} == {YELIN, GUANGPO}
        assert (await http.get(FILING, headers=as_(role))).status_code == 200
    # Wrong roles for each step.
    assert_problem(await http.post(FILING + "/submit", json={"reviewed_version": 1},
                                   headers=as_(Role.TOWNSHIP_CLERK, YELIN)), 403, "auth.role")
    assert_problem(await http.post(FILING + "/compile", headers=as_(Role.COUNTY_BUREAU)),
                   403, "auth.role")
    assert_problem(await http.post(FILING + "/receive",
                                   headers=as_(Role.TOWNSHIP_LEADER, YELIN)), 403, "auth.role")
    assert_problem(await http.get(FILING, headers=as_(Role.PUBLIC)), 403, "auth.role")
    assert_problem(await http.get(FILING, headers=as_(Role.FINANCE_BUREAU)), 403, "auth.role")
    assert_problem(await http.get(FILING), 401, "auth.missing_token")
    assert own_events(archive) == before


async def test_bad_input_names_the_field_and_stores_nothing(
        http: httpx.AsyncClient, archive: ArchiveRuntime, as_: Any) -> None:
    clerk, leader = as_(Role.TOWNSHIP_CLERK, YELIN), as_(Role.TOWNSHIP_LEADER, YELIN)
    assert_problem(await http.post(f"/supervision/filings/{YELIN}/2025-13/compile",
                                   headers=clerk), 422, "web.validation", "month")
    assert_problem(await http.post(f"/supervision/filings/{YELIN}/2025-04/compile",
                                   headers=clerk), 422, "archive.filing_month_not_over",
                   "month")
    assert_problem(await http.post("/supervision/filings/469028999/2025-03/compile",
                                   headers=as_(Role.TOWNSHIP_CLERK, "469028999")), 401,
                   "auth.unknown_township")  # the clerk's own token names no township here
    assert_problem(await http.post(FILING + "/submit", json={"reviewed_version": 1},
                                   headers=leader), 404, "archive.not_found")
    assert own_events(archive) == 0
    assert (await http.post(FILING + "/compile", headers=clerk)).status_code == 201
    assert (await http.post(FILING + "/compile", headers=clerk)).json()["version"] == 2
    assert_problem(await http.post(FILING + "/submit", json={"reviewed_version": 1},
                                   headers=leader), 422, "archive.filing_changed",
                   "reviewed_version")
    assert_problem(await http.post(FILING + "/submit",
                                   json={"reviewed_version": 2, "seal": "mine"},
                                   headers=leader), 422, "web.validation", "seal")
    assert_problem(await http.post(FILING + "/submit", json={"reviewed_version": 0},
                                   headers=leader), 422, "web.validation", "reviewed_version")
    assert_problem(await http.post(FILING + "/receive", headers=as_(Role.COUNTY_BUREAU)),
                   422, "archive.filing_not_submitted", "month")
    assert_problem(await http.post(FILING + "/queries", json={"question": "x" * 2001},
                                   headers=as_(Role.COUNTY_BUREAU)), 422, "web.validation",
                   "question")
    assert own_events(archive) == 2
    assert not (archive.settings.var_dir / "documents").exists()  # nothing sealed or stored


# --- statistics and dynamic analysis -------------------------------------------------------

async def test_statistics_match_the_oracle_and_are_for_the_county(
        http: httpx.AsyncClient, as_: Any, world: World) -> None:
    centre = as_(Role.COUNTY_CENTRE)
    r = await http.get(f"/supervision/statistics?township={YELIN}&kind=dibao"
                       "&from=2025-03&to=2025-04", headers=centre)
    assert r.status_code == 200, r.text
    for f in r.json()["series"]:
        assert comparable(f) == world.expected(f["month"], YELIN, "dibao")
    as_of = date(2025, 3, 14)
    r = await http.get(f"/supervision/statistics?from=2025-03&to=2025-03&as_of={as_of}",
                       headers=as_(Role.COUNTY_BUREAU))
    then = r.json()["series"][0]
    assert comparable(then) == world.expected("2025-03", None, None, as_of)
    for role, township in ((Role.TOWNSHIP_LEADER, YELIN), (Role.FINANCE_BUREAU, None)):
        assert_problem(await http.get("/supervision/statistics?from=2025-03&to=2025-03",
                                      headers=as_(role, township)), 403, "auth.role")
    assert_problem(await http.get("/supervision/statistics?from=2025-04&to=2025-03",
                                  headers=centre), 422, "archive.month_range", "to")
    assert_problem(await http.get("/supervision/statistics?from=2025-3&to=2025-03",
                                  headers=centre), 422, "web.validation", "from")
    assert_problem(await http.get("/supervision/statistics?from=2025-03&to=2025-03"
                                  "&as_of=2025-05-01", headers=centre), 422,
                   "archive.as_of_future", "as_of")


async def test_statistics_xlsx_opens_with_the_right_totals(
        http: httpx.AsyncClient, as_: Any, world: World) -> None:
    r = await http.get("/supervision/statistics.xlsx?from=2025-03&to=2025-04",
                       headers=as_(Role.COUNTY_CENTRE))
    assert r.status_code == 200 and r.headers["content-type"].startswith(
        "application/vnd.openxmlformats")
    rows = sheet_rows(r.content, "统计")
    header = rows.index(next(x for x in rows if x and x[0] == "township"))
    names = rows[header]
    data = [dict(zip(names, x, strict=True)) for x in rows[header + 1:]]
    assert len(data) == 11 * 4 * 2  # every township × kind × month
    totals = [dict(zip(sheet_rows(r.content, "合计")[1], x, strict=True))
              for x in sheet_rows(r.content, "合计")[2:]]
    for month in ("2025-03", "2025-04"):
        total = next(t for t in totals if t["kind"] == "all" and t["month"] == month)
        expected = world.expected(month)
        assert total["households"] == expected["households"]
        assert Decimal(str(total["amount"])) == expected["amount"]
        for figure in ("households", "persons", "amount", "entries", "exits", "decided"):
            assert sum(Decimal(str(d[figure])) for d in data if d["month"] == month) == \
                Decimal(str(total[figure])), figure
        yelin = [d for d in data if d["month"] == month and d["township"] == YELIN]
        assert sum(d["households"] for d in yelin) == world.expected(
            month, YELIN)["households"]


async def test_a_small_chart_per_figure(http: httpx.AsyncClient, as_: Any) -> None:
    r = await http.get("/supervision/statistics/chart.png?figure=amount&from=2025-01"
                       "&to=2025-04", headers=as_(Role.COUNTY_CENTRE))
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content.startswith(b"\x89PNG\r\n\x1a\n") and 5_000 < len(r.content) < 200_000
    assert_problem(await http.get("/supervision/statistics/chart.png?figure=secrets"
                                  "&from=2025-01&to=2025-04", headers=as_(Role.COUNTY_CENTRE)),
                   422, "web.validation", "figure")


# --- alerts --------------------------------------------------------------------------------

async def test_alerts_are_events_with_a_list_per_kind(
        http: httpx.AsyncClient, archive: ArchiveRuntime, as_: Any) -> None:
    centre = as_(Role.COUNTY_CENTRE)
    assert_problem(await http.post("/supervision/alerts/scan", json={"months": ["2025-3"]},
                                   headers=centre), 422, "web.validation", "months")
    assert_problem(await http.post("/supervision/alerts/scan", json={},
                                   headers=as_(Role.COUNTY_BUREAU)), 403, "auth.role")
    assert own_events(archive) == 0
    archive.app.today = lambda: date(2025, 4, 9)  # past every March deadline
    r = await http.post("/supervision/alerts/scan", json={"months": ["2025-03"]},
                        headers=centre)
    assert r.status_code == 200, r.text
    raised = r.json()["raised"]
    kinds = {a["kind"] for a in raised}
    # No disbursement events and no filings in the generated month: every township missed
    # the 15th, the 20th and the filing day; close-relative cases had no county visit.
    assert {"deadline_missed", "filing_overdue",
            "close_relative_without_county_visit"} <= kinds
    assert sum(a["kind"] == "deadline_missed" for a in raised) == 22
    again = await http.post("/supervision/alerts/scan", json={"months": ["2025-03"]},
                            headers=centre)
    assert again.json()["raised"] == []  # raised once
    listed = (await http.get("/supervision/alerts/filing_overdue",
                             headers=as_(Role.DISCIPLINE_INSPECTOR))).json()
    assert listed["total"] == 11 and {i["kind"] for i in listed["items"]} == {"filing_overdue"}
    one = listed["items"][0]
    assert one["detail"]["due_on"] == "2025-04-08" and one["raised_by"] == centre_id()
    assert_problem(await http.get("/supervision/alerts/nonsense", headers=centre), 422,
                   "web.validation", "kind")
    assert_problem(await http.get("/supervision/alerts", headers=as_(Role.TOWNSHIP_LEADER,
                                                                     YELIN)), 403, "auth.role")
    r = await http.post(f"/supervision/alerts/{one['alert_id']}/acknowledge",
                        json={"reason": "已约谈"}, headers=as_(Role.COUNTY_BUREAU))
    assert r.status_code == 200, r.text
    still_open = (await http.get("/supervision/alerts/filing_overdue?open_only=true",
                                 headers=centre)).json()
    assert still_open["total"] == 10
    sancai = (await http.get(f"/supervision/alerts?township={SANCAI}&month=2025-03",
                             headers=centre)).json()
    assert sancai["total"] >= 3 and all(i["township"] == SANCAI for i in sancai["items"])


def centre_id() -> str:
    return f"{Role.COUNTY_CENTRE.value}-county"


async def test_rebuilt_read_models_are_identical(archive: ArchiveRuntime, as_: Any,
                                                 http: httpx.AsyncClient) -> None:
    await http.post(FILING + "/compile", headers=as_(Role.TOWNSHIP_CLERK, YELIN))
    await http.post("/supervision/alerts/scan", json={"months": ["2025-03"]},
                    headers=as_(Role.COUNTY_CENTRE))
    views = archive.app.views
    tables = (views.filings, views.alerts, views.filing_queries)
    before = {t.name: archive.app.snapshot_read_models()[t.name] for t in tables}
    assert before["archive_monthly_filings"] and before["archive_supervision_alerts"]
    # Only supervision's tables: the envelopes here were fed directly, not from NATS.
    archive.app.projection.metadata.drop_all(archive.app.engine, tables=list(tables))
    archive.app.projection.metadata.create_all(archive.app.engine, tables=list(tables))
    with archive.app.unit_of_work() as s:
        for position, event in archive.app.iter_domain_events():
            if type(event).__qualname__.split(".")[0] in ("MonthlyFiling", "SupervisionAlert"):
                views.apply(s, event, position)
    after = {t.name: archive.app.snapshot_read_models()[t.name] for t in tables}
    assert after == before
