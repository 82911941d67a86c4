"""Events written by the release before issue 24 (tests/support/release_publicity.py,
encryption at rest on) load with today's code into the same state: notices with their
objections, roster entries, reports, an inquiry, the policy bulletin."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from services.publicity.application import PublicityApplication
from services.publicity.domain import (
    Inquiry,
    InvestigationMethod,
    Notice,
    NoticeStatus,
    Objection,
    ObjectionInvestigation,
    ObjectionStatus,
    PolicyBulletin,
    PolicyVersion,
    Report,
    RosterEntry,
    roster_entry_id_for,
)
from shared.clock import CHINA, ManualClock
from tests.support.release_publicity import (
    ENTITLEMENT,
    ENTITLEMENT_T,
    START,
    flow,
    open_app,
)

pytestmark = pytest.mark.fast

RELEASE = Path(__file__).parents[1] / "data" / "release_events" / "publicity"
UUIDS = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
RECEIPTS = re.compile(r"(JB|ZX)-\d{8}-[0-9A-Z]{8}")
IDS: dict[str, Any] = json.loads((RELEASE / "ids.json").read_text(encoding="utf-8"))


@pytest.fixture
def app(tmp_path: Path) -> Iterator[PublicityApplication]:
    shutil.copytree(RELEASE, tmp_path / "release")  # never write to the committed files
    app = open_app(tmp_path / "release", ManualClock(datetime(2026, 3, 20, 9, tzinfo=CHINA)))
    yield app
    app.close()


def notice(app: PublicityApplication, key: str) -> Notice:
    found: Notice = app.repository.get(UUID(IDS["notices"][key]))
    return found


def test_every_stored_aggregate_loads(app: PublicityApplication) -> None:
    stored = app.recorder.select_notifications(start=1, limit=1000)
    kinds = sorted(type(app.repository.get(o)).__name__ for o in {n.originator_id
                                                                  for n in stored})
    assert kinds == ["Inquiry", "Notice", "Notice", "Notice", "Notice", "PolicyBulletin",
                     "Report", "Report", "RosterEntry", "RosterEntry"]
    assert len(stored) == 30


def test_notices_and_their_objections(app: PublicityApplication) -> None:
    a1, a2, b = notice(app, "a1"), notice(app, "a2"), notice(app, "b")
    assert (a1.status, a1.round, a1.objections) == (NoticeStatus.SUPERSEDED, 1, {})
    assert (a2.status, a2.outcome, a2.closed_on, a2.display_name, a2.monthly_amount) == (
        NoticeStatus.CLOSED, "clean", date(2026, 3, 17), "黎**", Decimal("640.00"))
    objection = a2.objections[IDS["objections"]["a2"]]
    assert (objection["text"], objection["contact"], objection["objector_name"]) == (
        "该户儿子在三亚打工，收入未申报", "13907561234", None)
    assert (objection["status"], objection["upheld"], objection["finding"]) == (
        "not_upheld", False, "儿子已分户，不计入家庭收入")
    assert objection["investigations"] == [{
        "method": "re_investigation", "notes": "入户核实：儿子已于2025年分户",
        "on": date(2026, 3, 9), "by": "clerk-yelin-1"}]
    assert (b.outcome, b.finding, b.household_size) == (
        "objection_upheld", "家庭拥有机动车，不符合条件", 3)
    assert b.objections[IDS["objections"]["b"]]["objector_name"] == "陈亚妹"
    # The same objections as typed values.
    (typed,) = a2.filed_objections
    assert typed == Objection(
        objection_id=UUID(IDS["objections"]["a2"]), text="该户儿子在三亚打工，收入未申报",
        contact="13907561234", objector_name=None, filed_on=date(2026, 3, 9),
        status=ObjectionStatus.NOT_UPHELD, investigations=(ObjectionInvestigation(
            method=InvestigationMethod.RE_INVESTIGATION, notes="入户核实：儿子已于2025年分户",
            on=date(2026, 3, 9), by="clerk-yelin-1"),),
        upheld=False, finding="儿子已分户，不计入家庭收入", resolved_on=date(2026, 3, 9))
    upheld = b.objection(UUID(IDS["objections"]["b"]))
    assert (upheld.status, upheld.is_open, upheld.withheld().objector_name) == (
        ObjectionStatus.UPHELD, False, None)
    t = notice(app, "termination")
    assert (t.subject, t.kind, t.approve, t.monthly_amount, t.entitlement_id) == (
        "termination", "tekun", False, Decimal("1180.00"), ENTITLEMENT_T)


def test_the_roster(app: PublicityApplication) -> None:
    ended: RosterEntry = app.repository.get(roster_entry_id_for(ENTITLEMENT))
    assert (ended.listed, ended.terminated, ended.effective_month, ended.household_size) == (
        False, True, "2026-06", 3)
    listed: RosterEntry = app.repository.get(roster_entry_id_for(ENTITLEMENT_T))
    assert (listed.listed, listed.monthly_amount, listed.display_name, listed.kind) == (
        True, Decimal("1180.00"), "黎**", "tekun")


def test_reports_inquiry_and_bulletin(app: PublicityApplication) -> None:
    household = IDS["reports"]["household"]
    r1: Report = app.repository.get(UUID(household["id"]))
    assert r1.code_matches(household["code"]) and not r1.code_matches("0000-0000-0000-0000")
    assert (r1.queue, r1.upheld, r1.recheck_requested, r1.case_id, r1.reference) == (
        "township", True, True, UUID("0b6c2f4e-1a3d-4e5f-8a9b-0c1d2e3f4a5b"),
        IDS["notices"]["a2"])
    official = IDS["reports"]["official"]
    r2: Report = app.repository.get(UUID(official["id"]))
    assert r2.receipt == official["receipt"] and r2.queue == "discipline"
    assert r2.routes == [{"from": "township", "to": "discipline",
                          "reason": "举报内容涉及村干部，转纪委监委", "on": date(2026, 3, 9),
                          "by": "clerk-yelin-1"}]
    assert [i["by"] for i in r2.investigations] == ["jw-county-1"]
    q: Inquiry = app.repository.get(UUID(IDS["inquiry"]["id"]))
    assert q.code_matches(IDS["inquiry"]["code"])
    assert (q.answered_on, q.published, q.due_on) == (date(2026, 3, 11), True,
                                                      date(2026, 3, 16))
    (bulletin,) = [app.repository.get(n.originator_id)
                   for n in app.recorder.select_notifications(start=1, limit=1000)
                   if n.topic.endswith("PolicyBulletin.Created")]
    assert isinstance(bulletin, PolicyBulletin)
    in_force = bulletin.in_force(date(2026, 3, 20))
    assert in_force == PolicyVersion(3, date(2026, 3, 9), {
        "label": "2026年海南省城乡低保标准", "dibao_standard_urban": "720",
        "dibao_standard_rural": "640", "decision_working_days": {"dibao": 20, "tekun": 20}})
    assert app.standards(date(2026, 3, 20))["terms"]["dibao_standard_urban"] == "720"


def test_the_stored_who_keeps_its_plain_form(app: PublicityApplication) -> None:
    events = list(app.events.get(UUID(IDS["notices"]["b"])))
    assert [type(e).__name__ for e in events] == [
        "Opened", "ObjectionFiled", "InvestigationRecorded", "ObjectionResolved", "Closed"]
    assert events[0].actor == {"user_id": "lead-yelin", "role": "township_leader",
                               "township": "469028100", "village": None}
    assert events[2].actor["name"] == "王海燕"


def test_todays_code_writes_the_release_events_field_for_field(
        app: PublicityApplication, tmp_path: Path) -> None:
    """The same flow through today's code stores the same events: the stored form did not
    move (receipt numbers, codes and their salts are drawn at random, so left out)."""
    (tmp_path / "today").mkdir()
    today = open_app(tmp_path / "today", ManualClock(START))
    try:
        flow(today, today.clock)  # type: ignore[arg-type]
        assert stored_events(today) == stored_events(app)
    finally:
        today.close()


def stored_events(app: PublicityApplication) -> list[str]:
    """Each event as plain data, its ids and times numbered in order of appearance."""
    out, seen = [], {}
    for n in app.recorder.select_notifications(start=1, limit=1000):
        event = app.mapper.to_domain_event(n)
        state = {k: v for k, v in vars(event).items()
                 if k not in ("timestamp", "code_salt", "code_digest")}
        text = RECEIPTS.sub("receipt", f"{n.topic} {sorted(state.items())!r}")
        out.append(UUIDS.sub(lambda m: seen.setdefault(m.group(), f"id{len(seen)}"), text))
    return out
