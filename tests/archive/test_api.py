"""Archive's HTTP API against a real archive service in-process (SQLite store, the real
nats-server): uploads and their limits, completeness, custody, the audit console's roles
and jurisdiction, a tampered stored copy named by verification, point-in-time state.
Every refusal is problem+json and stores nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from services.archive.main import ArchiveRuntime
from shared.auth import Principal, Role
from tests.support.archive import T0, Streams, dibao_case
from tests.support.fixtures import started_service
from tests.support.places import GUANGPO, YELIN
from tests.support.web import assert_problem

pytestmark = pytest.mark.nats

PDF = b"%PDF-1.7\n" + b"0" * 200
PNG = b"\x89PNG\r\n\x1a\n" + b"1" * 200


archive, runtime = started_service("archive", max_document_bytes=4096, max_body_bytes=16384)


@pytest.fixture
def case(archive: ArchiveRuntime) -> tuple[str, str]:
    """A 低保 case of 椰林镇 known to the archive (application id, review case id)."""
    application, review_case, envs = dibao_case(Streams(), household_id="HH-0001")
    for e in envs[:3]:  # submitted, accepted, case opened: stage "investigation"
        archive.app.archive_envelope(e)
    return application, review_case


def stored_documents(rt: ArchiveRuntime) -> int:
    with rt.app.read_session() as s:
        return rt.app.views.count(s, rt.app.views.documents)


async def upload(http: httpx.AsyncClient, headers: dict[str, str], case_id: str,
                 kind: str = "id_card", content: bytes = PDF, name: str = "scan.pdf",
                 household: str = "HH-0001", **extra: str) -> httpx.Response:
    return await http.post(f"/files/{household}/documents",
                           data={"case_id": case_id, "document_kind": kind, **extra},
                           files={"file": (name, content, "application/pdf")},
                           headers=headers)


# --- uploads --------------------------------------------------------------------------------

async def test_a_clerk_files_a_scan_and_the_event_holds_the_hash_not_the_bytes(
        http: httpx.AsyncClient, archive: ArchiveRuntime, as_: Any,
        case: tuple[str, str]) -> None:
    application, review_case = case
    r = await upload(http, as_(Role.TOWNSHIP_CLERK, YELIN), review_case)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["case_id"] == application  # review's case id resolves to the one case
    assert body["media_type"] == "application/pdf" and len(body["sha256"]) == 64
    events = [e for _, e in archive.app.iter_domain_events()]
    filed = next(e for e in events if type(e).__name__ == "DocumentFiled")
    assert filed.sha256 == body["sha256"] and not any(
        isinstance(v, bytes) for v in vars(filed).values())
    path = archive.settings.var_dir / "documents" / "sha256" / body["sha256"][:2]
    assert (path / body["sha256"][2:4] / body["sha256"]).read_bytes() == PDF


@pytest.mark.parametrize(("content", "status", "code"), [
    (b"just text pretending", 415, "archive.document_type"),
    (b"", 422, "archive.document_empty"),
    (b"%PDF-" + b"x" * 5000, 413, "archive.document_too_large"),
    (b"%PDF-" + b"x" * 20000, 413, "web.body_too_large"),
])
async def test_bad_files_are_refused_and_nothing_is_stored(
        http: httpx.AsyncClient, archive: ArchiveRuntime, as_: Any, case: tuple[str, str],
        content: bytes, status: int, code: str) -> None:
    r = await upload(http, as_(Role.TOWNSHIP_CLERK, YELIN), case[0], content=content)
    assert_problem(r, status, code)
    assert stored_documents(archive) == 0
    assert not (archive.settings.var_dir / "documents").exists()


async def test_upload_input_rules_name_the_field(http: httpx.AsyncClient, as_: Any,
                                                 case: tuple[str, str]) -> None:
    clerk = as_(Role.TOWNSHIP_CLERK, YELIN)
    assert_problem(await upload(http, clerk, case[0], kind="selfie"), 422, "web.validation",
                   "document_kind")
    assert_problem(await upload(http, clerk, "no/slash"), 422, "web.validation")
    assert_problem(await upload(http, clerk, "unknown-case"), 422, "archive.unknown_case",
                   "case_id")
    assert_problem(await upload(http, clerk, case[0], household="HH-OTHER"), 422,
                   "archive.case_household_mismatch", "case_id")


async def test_roles_and_townships_are_checked_before_anything_is_stored(
        http: httpx.AsyncClient, archive: ArchiveRuntime, as_: Any,
        case: tuple[str, str]) -> None:
    assert_problem(await upload(http, {}, case[0]), 401, "auth.missing_token")
    assert_problem(await upload(http, as_(Role.PUBLIC), case[0]), 403, "auth.role")
    assert_problem(await upload(http, as_(Role.FINANCE_BUREAU), case[0]), 403, "auth.role")
    assert_problem(await upload(http, as_(Role.TOWNSHIP_CLERK, GUANGPO), case[0]), 403,
                   "auth.jurisdiction")
    assert stored_documents(archive) == 0


async def test_completeness_lists_what_is_missing_and_the_file_shows_consistency(
        http: httpx.AsyncClient, as_: Any, case: tuple[str, str]) -> None:
    clerk, bureau = as_(Role.TOWNSHIP_CLERK, YELIN), as_(Role.COUNTY_BUREAU)
    application, _ = case
    assert (await upload(http, clerk, application, "application_form")).status_code == 201
    assert (await upload(http, clerk, application, "id_card", PNG)).status_code == 201
    r = await http.get(f"/cases/{application}/completeness", headers=clerk)
    assert r.status_code == 200, r.text
    assert r.json()["missing"] == {
        "application": ["authorization", "commitment", "household_register", "income_proof"],
        "investigation": ["home_visit_form", "verification_report"]}
    r = await http.post("/files/HH-0001/paper/township/items", headers=clerk, json={
        "case_id": application, "document_kinds": ["application_form", "id_card"],
        "location": "椰林镇社会事务服务中心 档案柜3"})
    assert r.status_code == 201, r.text
    # The county copy is the bureau's: a clerk may not file into it.
    assert_problem(await http.post("/files/HH-0001/paper/county/items", headers=clerk, json={
        "case_id": application, "document_kinds": ["id_card"], "location": "x"}), 403,
        "archive.custodian")
    r = await http.post("/files/HH-0001/paper/county/items", headers=bureau, json={
        "case_id": application, "document_kinds": ["application_form"],
        "location": "县民政局档案室"})
    assert r.status_code == 201, r.text
    f = (await http.get("/files/HH-0001", headers=bureau)).json()
    assert f["consistency"] == [{"case_id": application, "copy": "county",
                                 "paper_only": [], "scanned_only": ["id_card"]}]
    assert f["completeness"][0]["complete"] is False
    r = await http.post("/files/HH-0001/paper/township/check-out", headers=clerk,
                        json={"borrower": "县纪委 王某", "reason": ""})
    assert_problem(r, 422, "web.validation", "reason")
    r = await http.post("/files/HH-0001/paper/township/check-out", headers=clerk,
                        json={"borrower": "县纪委 王某", "reason": "专项检查"})
    assert r.status_code == 200, r.text
    f = (await http.get("/files/HH-0001", headers=bureau)).json()
    assert f["paper_copies"]["township"]["checked_out_to"] == "县纪委 王某"
    assert [c["action"] for c in f["custody"]] == ["items_filed", "items_filed", "checked_out"]


async def test_opening_a_scan_is_recorded_and_shows_up_as_sensitive_access(
        http: httpx.AsyncClient, archive: ArchiveRuntime, as_: Any,
        case: tuple[str, str]) -> None:
    sha = (await upload(http, as_(Role.TOWNSHIP_CLERK, YELIN), case[0])).json()["sha256"]
    inspector = as_(Role.DISCIPLINE_INSPECTOR, user_id="inspector-7")
    assert_problem(await http.get(f"/files/HH-0001/documents/{sha}", headers=inspector),
                   422, "web.validation", "reason")
    r = await http.get(f"/files/HH-0001/documents/{sha}", headers=inspector,
                       params={"reason": "举报核查 2025-12"})
    assert r.status_code == 200 and r.content == PDF
    assert r.headers["content-type"] == "application/pdf"
    viewed = [e for _, e in archive.app.iter_domain_events()
              if type(e).__name__ == "DocumentViewed"]
    assert viewed[0].actor["user_id"] == "inspector-7"


# --- the audit console ----------------------------------------------------------------------

async def test_audit_is_for_county_auditors_and_own_township_staff_only(
        http: httpx.AsyncClient, as_: Any, case: tuple[str, str]) -> None:
    application, _ = case
    url = f"/audit/cases/{application}/timeline"
    for who in (as_(Role.COUNTY_BUREAU), as_(Role.COUNTY_CENTRE),
                as_(Role.DISCIPLINE_INSPECTOR), as_(Role.TOWNSHIP_CLERK, YELIN)):
        r = await http.get(url, headers=who)
        assert r.status_code == 200, r.text
    assert_problem(await http.get(url, headers=as_(Role.TOWNSHIP_CLERK, GUANGPO)), 403,
                   "auth.jurisdiction")
    assert_problem(await http.get(url, headers=as_(Role.PUBLIC)), 403, "auth.role")
    assert_problem(await http.get(url), 401, "auth.missing_token")
    for path in ("/audit/sensitive-access", "/audit/conflicts-of-interest",
                 "/audit/irregular-decisions"):
        assert_problem(await http.get(path, headers=as_(Role.TOWNSHIP_CLERK, YELIN)), 403,
                       "auth.jurisdiction")  # a township sees only itself: name it
        assert_problem(await http.get(path, params={"township": YELIN},
                                      headers=as_(Role.TOWNSHIP_CLERK, GUANGPO)), 403,
                       "auth.jurisdiction")
        assert (await http.get(path, params={"township": YELIN},
                               headers=as_(Role.TOWNSHIP_CLERK, YELIN))).status_code == 200
        assert_problem(await http.get(path, headers=as_(Role.PUBLIC)), 403, "auth.role")
    assert_problem(await http.get("/audit/streams/intake/verification",
                                  headers=as_(Role.TOWNSHIP_LEADER, YELIN)), 403, "auth.role")


async def test_a_tampered_stored_copy_is_named_by_verification(
        http: httpx.AsyncClient, archive: ArchiveRuntime, as_: Any) -> None:
    application, review_case, envs = dibao_case(Streams())
    for e in envs:
        archive.app.archive_envelope(e)
    inspector = as_(Role.DISCIPLINE_INSPECTOR)
    r = (await http.get(f"/audit/cases/{application}/verification", headers=inspector)).json()
    assert r["ok"] is True and r["checked"] == len(envs)
    # Someone with database access lowers the amount in the archive's copy of the opinion.
    opinion = next(e for e in envs if e.type == "opinion_issued")
    t = archive.app.views.envelopes
    body = opinion.model_dump_json().replace('"560.00"', '"960.00"')
    with archive.app.unit_of_work() as s:
        s.execute(sa.update(t).where(t.c.source == "review",
                                     t.c.position == opinion.position).values(body=body))
    r = (await http.get(f"/audit/cases/{review_case}/verification", headers=inspector)).json()
    assert r["ok"] is False
    assert r["first_broken"] == {
        "source": "review", "position": opinion.position, "reason": "hash_mismatch",
        "aggregate_id": str(opinion.aggregate_id),
        "aggregate_version": opinion.aggregate_version, "type": "opinion_issued",
        "event_id": str(opinion.event_id), "case_id": review_case}
    r = (await http.get("/audit/streams/review/verification", headers=inspector,
                        params={"first": opinion.position})).json()
    assert r["first_broken"]["position"] == opinion.position
    r = (await http.get("/audit/streams/intake/verification", headers=inspector)).json()
    assert r["ok"] is True and r["checked"] == 2


async def test_the_state_as_of_a_moment_is_replayed(http: httpx.AsyncClient,
                                                    archive: ArchiveRuntime, as_: Any) -> None:
    application, _, envs = dibao_case(Streams())
    for e in envs:
        archive.app.archive_envelope(e)
    bureau = as_(Role.COUNTY_BUREAU)
    url = f"/audit/cases/{application}/state"
    r = await http.get(url, headers=bureau, params={"at": "2025-03-04T12:00:00+08:00"})
    assert r.status_code == 200, r.text
    state = r.json()["state"]
    assert (state["status"], state["decision"], r.json()["replayed_events"]) == (
        "under_investigation", None, 3)
    final = (await http.get(url, headers=bureau)).json()["state"]
    assert final["status"] == "confirmed" and final["monthly_amount"] == "560.00"
    assert_problem(await http.get(url, headers=bureau, params={"at": "2025-03-04T12:00:00"}),
                   422, "archive.naive_timestamp", "at")
    r = await http.get(f"/audit/cases/{application}/timeline", headers=bureau)
    events = r.json()["events"]
    assert [e["source"] for e in events] == ["intake", "intake", "review", "review",
                                              "publicity", "review"]
    opinion = events[3]
    assert (opinion["who"], opinion["role"], opinion["why"]) == (
        "lead-yelin", "township_leader", "收入低于标准")
    assert T0.isoformat()[:10] in events[0]["at"]


async def test_reports_per_township(http: httpx.AsyncClient, archive: ArchiveRuntime,
                                    as_: Any) -> None:
    streams = Streams()
    relative, _, a = dibao_case(streams, close_relative=True, investigated=True)
    late, _, b = dibao_case(streams, decided_after_days=30)
    other, _, c = dibao_case(streams, township=GUANGPO, village="469028101201",
                             investigated=True)
    for e in [*a, *b, *c]:
        archive.app.archive_envelope(e)
    bureau = as_(Role.COUNTY_BUREAU)
    coi = (await http.get("/audit/conflicts-of-interest", headers=bureau)).json()
    assert coi["total"] == 1
    assert [x["case_id"] for x in coi["townships"][YELIN]["cases"]] == [relative]
    irregular = (await http.get("/audit/irregular-decisions", headers=bureau,
                                params={"as_of": "2025-04-10"})).json()
    assert irregular["total"] == 1 and list(irregular["townships"]) == [YELIN]
    found = irregular["townships"][YELIN]["cases"][0]
    assert found["case_id"] == late
    assert found["findings"] == ["decided_without_investigation", "decision_late"]
    r = await http.get("/audit/irregular-decisions", params={"township": GUANGPO,
                                                            "as_of": "2025-04-10"},
                       headers=as_(Role.TOWNSHIP_LEADER, GUANGPO))
    assert r.json()["total"] == 0


async def test_a_link_redelivered_after_its_successor_closes_the_alarm_it_caused(
        archive: ArchiveRuntime) -> None:
    _, _, envs = dibao_case(Streams())
    submitted, accepted = envs[0], envs[1]
    assert archive.app.archive_envelope(accepted) == "prev_hash_mismatch"
    assert archive.app.archive_envelope(submitted) == "linked"
    assert archive.app.archive_envelope(submitted) == "duplicate"
    alarms = archive.app.alarms(_county(), None, open_only=False)
    assert [(a["position"], a["resolution"]) for a in alarms] == [
        (accepted.position, "late_link_arrived")]
    t = archive.app.views.envelopes
    with archive.app.read_session() as s:
        statuses = set(s.execute(sa.select(t.c.chain_status)).scalars())
    assert statuses == {"linked"}


def _county() -> Principal:
    return Principal(user_id="inspector-1", role=Role.DISCIPLINE_INSPECTOR)
