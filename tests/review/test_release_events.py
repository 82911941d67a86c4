"""Events written by the release before issue 24 (tests/support/release_review.py,
SQLite, encryption at rest on) still load with today's code, to the same state: the stored
event form is plain data and was not changed, so nothing is upcast."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from services.review.application import ReviewApplication
from services.review.domain import (
    CaseStatus,
    Entitlement,
    EntitlementStatus,
    PolicyTable,
    ReviewCase,
    SpotCheck,
    case_id_for,
    entitlement_id_for,
    policy_table_id,
    spot_check_id_for,
)
from services.review.main import ReviewSettings
from services.review.values import (
    HomeVisit,
    Household,
    Interview,
    Investigator,
    Opinion,
    OpinionInputs,
    PanelMember,
    ReportedChange,
    VerificationReport,
    breakdown_of,
)
from shared.auth import Principal, Role
from shared.contracts import Actor
from shared.pii import Keyring
from shared.regions import load_county
from tests.support.release_review import (
    APPLICATIONS,
    KEY,
    KEYRING,
    OUT,
    PUBLISHED,
    YELIN,
    published,
    write,
)

pytestmark = pytest.mark.fast

LEADER = Principal(user_id="lead-yelin-1", role=Role.TOWNSHIP_LEADER, township=YELIN)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReviewApplication]:
    store = tmp_path_factory.mktemp("release") / "review"
    shutil.copytree(OUT, store)  # opening the store may migrate it: never the committed copy
    app = app_for(store)
    yield app
    app.close()


def app_for(store: Path) -> ReviewApplication:
    settings = ReviewSettings(var_dir=store, keyring_file=store / KEYRING,
                              encrypt_at_rest=True, cipher_key_file=store / KEY,
                              seed_demo_policy=False)
    app = ReviewApplication(settings, settings.calendar, load_county(settings.region),
                            keyring=Keyring.load_or_create(store / KEYRING))
    app.today = lambda: date(2026, 9, 15)
    return app


def case(app: ReviewApplication, which: str) -> ReviewCase:
    got = app.repository.get(case_id_for(APPLICATIONS[which]))
    assert isinstance(got, ReviewCase)
    return got


def entitlement(app: ReviewApplication, which: str) -> Entitlement:
    got = app.repository.get(entitlement_id_for(case_id_for(APPLICATIONS[which])))
    assert isinstance(got, Entitlement)
    return got


def test_the_fixture_is_small_and_encrypted_at_rest() -> None:
    db = OUT / "review.db"
    assert sum(f.stat().st_size for f in OUT.iterdir()) < 300_000
    assert "黎阿婆".encode() not in db.read_bytes()  # the events' state is ciphertext


def test_the_policy_table_keeps_its_versions(app: ReviewApplication) -> None:
    table = app.repository.get(policy_table_id("469028"))
    assert isinstance(table, PolicyTable)
    assert [(v["policy_version"], v["effective_from"]) for v in table.versions] == [
        (1, date(2015, 1, 1)), (2, date(2024, 1, 1)), (3, date(2026, 7, 1))]
    assert table.terms(3).dibao_standard_rural == Decimal(720)
    assert app.policy_on(date(2026, 6, 30))[0] == 2


def test_the_dibao_case_with_the_visit_findings(app: ReviewApplication) -> None:
    c = case(app, "dibao")
    assert (c.version, c.status, c.round, c.kind) == (11, CaseStatus.CONFIRMED, 1, "dibao")
    members = c.household["members"]
    assert [m["name"] for m in members] == ["黎阿婆", "符阿妹", "黎小明"]
    assert members[1]["finding"] == "在县城打零工，患慢性病" and members[1]["serious_illness"]
    assert members[0]["birth_date"] == date(1956, 3, 14)
    assert c.household["incomes"] == [{"member_fingerprint": members[1]["fingerprint"],
                                       "kind": "wage", "amount": Decimal(3600), "months": 6}]
    assert c.household["irregular_income"] is True
    assert [v["visited_on"] for v in c.visits] == [date(2026, 3, 4)]
    assert c.verification is not None and c.verification["report"]["conclusion"] == "与申报一致"
    assert c.joint_review is not None and c.joint_review["outcome"] == "approve"
    assert c.opinion is not None and c.opinion["amount"] == Decimal(1578)
    assert c.opinion["breakdown"]["addons_total"] == "227.50"
    assert c.opinion["inputs"]["on"] == date(2026, 3, 9)
    assert c.decision == {"outcome": "confirmed", "notice": "经审核，符合条件，予以确认",
                          "amount": Decimal(1578), "start_month": "2026-04",
                          "valid_until": None}
    assert c.payee is not None and c.payee["name"] == "黎阿婆"
    # The recorded inputs recompute to the recorded breakdown, to the fen.
    again = app.recompute_opinion(LEADER, c.id)
    assert again["identical"] and again["recomputed"]["monthly_amount"] == "1578"


def test_the_tekun_case_and_its_assessment(app: ReviewApplication) -> None:
    c = case(app, "tekun")
    assert (c.status, c.decided_on, c.confirmation_due) == (
        CaseStatus.CONFIRMED, date(2026, 3, 19), date(2026, 4, 8))
    assert c.opinion is not None and c.opinion["breakdown"]["self_care_tier"] == "partial"
    assert c.opinion["inputs"]["care_mode"] == "dispersed"
    assert app.recompute_opinion(LEADER, c.id)["identical"]


def test_the_temporary_assistance_cases_and_their_instalments(app: ReviewApplication) -> None:
    advance = case(app, "emergency")
    assert advance.advance == {"granted_on": date(2026, 3, 3),
                               "completion_due": date(2026, 3, 17),
                               "completed_on": date(2026, 3, 10)}
    assert [(p["instalment"], p["amount"], p["month"], p["advance"])
            for p in advance.payments] == [(1, Decimal(1950), "2026-03", True),
                                           (2, Decimal(1950), "2026-04", True)]
    county = case(app, "expenditure")
    assert county.county_approved and county.status is CaseStatus.CONFIRMED
    assert county.opinion is not None
    assert county.opinion["breakdown"]["county_approval_required"] is True
    assert [p["amount"] for p in county.payments] == [Decimal(3900)] * 3
    assert [p["month"] for p in county.payments] == ["2026-04", "2026-05", "2026-06"]
    assert app.recompute_opinion(LEADER, county.id)["identical"]


def test_the_other_endings(app: ReviewApplication) -> None:
    edge = case(app, "edge")
    assert edge.decision is not None and edge.decision["valid_until"] == date(2027, 3, 20)
    rejected = case(app, "rejected")
    assert rejected.status is CaseStatus.REJECTED
    assert rejected.decision == {"outcome": "rejected", "reasons": ["家庭人均收入高于当地低保标准"]}
    assert case(app, "withdrawn").status is CaseStatus.WITHDRAWN
    objection = case(app, "objection")
    assert (objection.status, objection.round, objection.decision_extended) == (
        CaseStatus.REINVESTIGATING, 2, True)
    assert objection.publicity_closed_on == date(2026, 3, 17)


def test_the_dibao_entitlement_through_dynamic_management(app: ReviewApplication) -> None:
    e = entitlement(app, "dibao")
    assert (e.version, e.status, e.monthly_amount, e.policy_version, e.household_size) == (
        9, EntitlementStatus.PHASING_OUT, Decimal(820), 3, 2)
    assert [(c["change"], c["amount"], c["effective_month"]) for c in e.changes] == [
        ("decrease", Decimal(663), "2026-04"), ("increase", Decimal(820), "2026-07"),
        ("suspend", Decimal(0), "2026-07"), ("resume", Decimal(820), "2026-08"),
        ("phase_out", Decimal(820), "2026-09")]
    assert e.changes[1]["reasons"] == ["标准调整"]
    assert (e.ends_after, e.recheck_due, e.decided_on) == (
        "2026-11", date(2026, 10, 16), date(2026, 3, 18))
    # The reported change was applied: the boy who moved out is no longer counted.
    members = e.inputs["household"]["members"]
    assert [m["counted"] for m in members] == [True, True, False]
    assert e.reported_changes == [] and e.recheck_requests == []
    assert e.breakdown["members_counted"] == 2


def test_the_tekun_entitlement_terminated_after_a_withdrawn_notice(
        app: ReviewApplication) -> None:
    e = entitlement(app, "tekun")
    assert (e.status, e.monthly_amount, e.ends_after, e.pending_termination) == (
        EntitlementStatus.TERMINATED, Decimal(1336), "2026-08", None)
    assert [c["change"] for c in e.changes] == ["increase", "terminate"]
    assert e.changes[1]["reasons"] == ["入住敬老院后由亲属供养"]


def test_the_spot_check(app: ReviewApplication) -> None:
    check = app.repository.get(spot_check_id_for(YELIN, "2026-03"))
    assert isinstance(check, SpotCheck) and check.completed
    assert check.population == {"tekun": 1, "linshi": 2, "dibao_edge": 1, "dibao": 1}
    assert sorted(s["kind"] for s in check.sample) == ["dibao", "dibao_edge", "linshi", "tekun"]
    wrong = [r for r in check.results.values() if not r["upheld"]]
    assert [r["corrective_action"] for r in wrong] == ["重新核算并追回多发资金"] * 2
    assert all(UUID(s["case_id"]) for s in check.sample)


def events(store: Path) -> list[tuple[UUID, int, str, dict[str, Any]]]:
    app = app_for(store)
    try:
        return [(e.originator_id, e.originator_version, type(e).__qualname__, vars(e))
                for _, e in app.iter_domain_events()]
    finally:
        app.close()


# What differs between two runs of the same flow: the time of writing, the payee's sealed
# account (a fresh nonce), the spot check's random draw and the results that follow it.
VOLATILE = {"timestamp", "seed", "sample", "case_id", "finding", "corrective_action"}


def comparable(topic: str, state: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in state.items() if k != "timestamp"}
    if topic.startswith("SpotCheck."):
        out = {k: v for k, v in out.items() if k not in VOLATILE}
    if out.get("payee"):
        out["payee"] = {k: v for k, v in out["payee"].items()
                        if k != "account" and k not in ADDED_SINCE_RELEASE}
    return out


# Fields a later release added to what it stores (absent from the release's events, which
# still load): the payee's 身份证号(脱敏) for the bank roster (issue 22).
ADDED_SINCE_RELEASE = {"resident_id_mask"}


def test_todays_code_writes_the_events_the_release_wrote(tmp_path: Path) -> None:
    """The same flow through today's application stores the same events, field for field:
    the typed values are the domain's, the stored form stayed the release's."""
    write(tmp_path / "today", keyring_from=OUT / KEYRING)
    shutil.copytree(OUT, tmp_path / "release")  # opening a store may migrate it
    release, today = events(tmp_path / "release"), events(tmp_path / "today")
    assert [e[:3] for e in today] == [e[:3] for e in release]
    for (aid, version, topic, old), (_, _, _, new) in zip(release, today, strict=True):
        assert comparable(topic, new) == comparable(topic, old), (topic, aid, version)


# Each typed value reads what the release stored and writes it back unchanged.
ROUND_TRIPS: dict[str, Callable[[Any], Any]] = {
    "household": lambda v: Household.of(v).to_stored(),
    "inputs": lambda v: OpinionInputs.of(v).to_stored(),
    "breakdown": lambda v: breakdown_of(v).to_stored(),
    "visit": lambda v: HomeVisit.of(v).to_stored(),
    "interview": lambda v: Interview.of(v).to_stored(),
    "report": lambda v: VerificationReport.of(v).to_stored(),
    "change": lambda v: ReportedChange.of(v).to_stored(),
    "members": lambda v: [PanelMember.of(m).to_stored() for m in v],
    "investigators": lambda v: [Investigator.of(i).to_stored() for i in v],
    "actor": lambda v: Actor.of(v).stored(),
}


def test_every_stored_value_reads_as_its_type_and_back(tmp_path: Path) -> None:
    shutil.copytree(OUT, tmp_path / "release")
    seen: set[str] = set()
    for _, _, topic, state in events(tmp_path / "release"):
        for name, round_trip in ROUND_TRIPS.items():
            value = state.get(name)
            if isinstance(value, dict | list):  # Changed's "change" is its kind, a word
                assert round_trip(value) == value, (topic, name)
                seen.add(name)
    assert seen == set(ROUND_TRIPS)  # the fixture holds every kind of value
    app = app_for(tmp_path / "release")
    try:
        for which in ("dibao", "tekun", "expenditure", "emergency", "edge"):
            stored = case(app, which).opinion
            assert stored is not None and Opinion.of(stored).to_stored() == stored
    finally:
        app.close()


def test_todays_contracts_publish_what_the_release_published(tmp_path: Path) -> None:
    """published.json: the release's contracts.py over these events (written with the
    release's code); today's gives the same integration events, field for field."""
    shutil.copytree(OUT, tmp_path / "release")
    expected = json.loads((OUT / PUBLISHED).read_text(encoding="utf-8"))
    today = json.loads(json.dumps(published(tmp_path / "release"), sort_keys=True))
    assert len(today) == len(expected) == 102
    assert sum(1 for m in expected if m) == 66  # the rest are internal
    for mine, theirs in zip(today, expected, strict=True):
        if theirs and theirs["type"] in BUMPED_SINCE_RELEASE:
            # A later contract version that only adds the payee's masked ID: the release's
            # events publish as it, the added field absent (nothing was masked then).
            assert mine["version"] == BUMPED_SINCE_RELEASE[theirs["type"]]
            assert mine["data"]["payee"].pop("resident_id_mask") is None
            mine = {**mine, "version": theirs["version"]}
        assert mine == theirs


# Contract versions raised after the release (issue 22's roster column).
BUMPED_SINCE_RELEASE = {"entitlement_started": 2, "temporary_payment_approved": 2}
