"""Events written by the release before issue 24 (tests/support/release_intake.py,
encryption at rest on) load with today's code into the same state: the stored form stayed
plain data, so no upcasting is needed."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest

from services.intake.application import IntakeApplication
from services.intake.domain import Application, Disclosure, Status
from services.intake.values import Asset, Income
from tests.support.release_intake import flow, open_app

pytestmark = pytest.mark.fast

RELEASE = Path(__file__).parents[1] / "data" / "release_events" / "intake"
IDS = {k: UUID(v) for k, v in json.loads((RELEASE / "ids.json").read_text()).items()}
UUIDS = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
CLERK = {"user_id": "clerk-yelin-1", "role": "township_clerk", "township": "469028100",
         "village": None, "name": "王海燕"}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[IntakeApplication]:
    shutil.copytree(RELEASE, tmp_path / "release")  # never write to the committed files
    app = open_app(tmp_path / "release")
    yield app
    app.close()


def test_every_stored_aggregate_loads(app: IntakeApplication) -> None:
    stored = app.recorder.select_notifications(start=1, limit=1000)
    kinds = {}
    for originator in {n.originator_id for n in stored}:
        kinds[originator] = type(app.repository.get(originator))
    assert sorted(k.__name__ for k in kinds.values()) == [
        "Application", "Application", "Application", "Application", "Disclosure"]
    assert len(stored) == 15


def test_the_confirmed_then_terminated_household(app: IntakeApplication) -> None:
    a: Application = app.repository.get(IDS["confirmed"])
    assert (a.version, a.status, a.round, a.kind, a.township, a.village) == (
        7, Status.TERMINATED, 2, "dibao", "469028100", "469028100201")
    assert a.filed_on == date(2026, 3, 9) and a.accepted_on == date(2026, 3, 9)
    assert a.case_id == UUID("5d1f0c1e-2b7a-4c3e-9a51-1f3b2c4d5e60") and not a.case_active
    assert a.decision_reasons == ["家庭收入超过低保标准"]
    assert [r["missing"][-1] for r in a.returns] == [
        {"code": "clerk", "description": "户口簿复印件不清晰"}]
    assert a.returns[0]["note"] == "请补交户口簿和身份证复印件"
    applicant = a.applicant  # the typed values, from the stored plain form
    assert (applicant.name, applicant.birth_date, applicant.phone) == (
        "黎阿婆", date(1956, 3, 14), "13876001234")
    assert applicant.incomes == [Income(kind="pension", amount=Decimal("1860.00"), months=12)]
    filed = a.as_filed
    assert filed.assets == [Asset(kind="deposit", value=Decimal("3200.00"), exempt=False,
                                  description="农信社活期存款")]
    assert filed.bank_account is not None and filed.bank_account.holder_name == "黎阿婆"
    assert "income_proof" in filed.materials
    assert filed.to_stored() == a.filing  # and back, unchanged
    grandchild = a.members[1]
    assert (grandchild.relation, grandchild.student, grandchild.authorization_signed) == (
        "grandchild", True, False)
    assert [m.name for m in a.household] == ["黎阿婆", "黎小明", "黎小花"]
    (change,) = a.changes
    assert (change["subject"], change["occurred_on"], change["incomes"][0]["amount"]) == (
        "members", date(2026, 3, 1), Decimal("1920.00"))
    assert change["incomes"][0]["member_fingerprint"] == applicant.fingerprint


def test_declined_withdrawn_and_rejected(app: IntakeApplication) -> None:
    declined: Application = app.repository.get(IDS["declined"])
    assert (declined.status, declined.closing_reason) == (Status.DECLINED, "户籍不在本镇")
    withdrawn: Application = app.repository.get(IDS["withdrawn"])
    assert (withdrawn.status, withdrawn.owner, withdrawn.closing_reason) == (
        Status.WITHDRAWN, "public-13876001234", "家庭情况好转，自愿撤回")
    rejected: Application = app.repository.get(IDS["rejected"])
    assert (rejected.status, rejected.decided_on, rejected.decision_reasons) == (
        Status.REJECTED, date(2026, 3, 9), ["家庭人均收入高于当地低保标准"])


def test_the_unmasked_view_and_its_who(app: IntakeApplication) -> None:
    stored = app.recorder.select_notifications(start=1, limit=1000)
    (recorded,) = [n for n in stored if n.topic.endswith("Disclosure.Recorded")]
    d: Disclosure = app.repository.get(recorded.originator_id)
    assert (d.application_id, d.reason, d.fields) == (
        IDS["confirmed"], "核对户口簿原件",
        ["members.resident_id", "members.phone", "bank_account.account"])
    assert d.township == "469028100"


def test_the_stored_who_keeps_its_plain_form(app: IntakeApplication) -> None:
    submitted, declined = app.events.get(IDS["declined"])
    assert submitted.actor == declined.actor == CLERK
    assert declined.reason == "户籍不在本镇"


def test_todays_code_writes_the_release_events_field_for_field(
        app: IntakeApplication, tmp_path: Path) -> None:
    """The same flow through today's code (same keyring, so the same fingerprints) stores
    the same events: the stored form did not move."""
    (tmp_path / "today").mkdir()
    shutil.copy(RELEASE / "bus-keyring.json", tmp_path / "today")
    today = open_app(tmp_path / "today")
    try:
        flow(today)
        assert stored_events(today) == stored_events(app)
    finally:
        today.close()


def stored_events(app: IntakeApplication) -> list[str]:
    """Each event as plain data, its ids and times numbered in order of appearance."""
    out, seen = [], {}
    for n in app.recorder.select_notifications(start=1, limit=1000):
        event = app.mapper.to_domain_event(n)
        state = {k: v for k, v in vars(event).items() if k != "timestamp"}
        text = f"{n.topic} {sorted(state.items())!r}"
        out.append(UUIDS.sub(lambda m: seen.setdefault(m.group(), f"id{len(seen)}"), text))
    return out
