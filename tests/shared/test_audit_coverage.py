"""Issue 16: every domain event type of every service reaches archive, by construction.

Enumerates every `eventsourcing` `Aggregate.Event` subclass under `services/`: each must
have a Chinese label, and the relay must turn it into an envelope (its integration
contract, or an audit record) with who, when and why in one vocabulary.
"""

from __future__ import annotations

import importlib
import pkgutil
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import uuid4

import pytest
from eventsourcing.domain import Aggregate

import services
from shared.audit import AuditTrail, event_fields, jsonable, label_key, label_of, why_of
from shared.audit_labels import LABELS
from shared.contracts import Envelope
from shared.contracts.audit import AUDIT_RECORD, AuditEntry
from shared.contracts.common import SERVICES
from shared.contracts.registry import parse_data
from shared.pii import make_resident_id

pytestmark = pytest.mark.fast


def _all_event_classes() -> dict[str, type]:
    for info in pkgutil.walk_packages(services.__path__, "services."):
        if info.name.rsplit(".", 1)[-1] not in ("main", "__main__"):
            importlib.import_module(info.name)
    found: dict[str, type] = {}

    def walk(cls: type) -> None:
        for sub in cls.__subclasses__():
            walk(sub)
            service = sub.__module__.split(".")[1] if sub.__module__.startswith(
                "services.") else None
            if service and not sub.__qualname__.endswith(".Event"):
                found[label_key(service, sub)] = sub

    walk(Aggregate.Event)
    return found


def test_every_domain_event_type_has_a_label() -> None:
    events = _all_event_classes()
    assert {k.split(".")[0] for k in events} == set(SERVICES)
    missing = sorted(k for k in events if k not in LABELS)
    assert not missing, f"domain events without a Chinese audit label: {missing}"
    stale = sorted(k for k in LABELS if k not in events and not k.startswith("*."))
    assert not stale, f"labels of events that no longer exist: {stale}"
    assert len(events) >= 100  # 111 when this test was written


def test_every_event_type_becomes_an_audit_record_that_archive_can_read() -> None:
    """With no integration contract (the relay's fallback), each type still becomes an
    envelope archive parses, in the chain, with a label and `when` in Beijing time."""
    for key, cls in _all_event_classes().items():
        source = key.split(".")[0]
        event = cls.__new__(cls)
        event.__dict__.update(originator_id=uuid4(), originator_version=1,
                              timestamp=datetime(2026, 3, 2, 1, 30, tzinfo=UTC),
                              actor={"user_id": "u1", "role": "township_clerk",
                                     "township": "469028100", "village": None},
                              reason="核实后", note=None)
        record = AuditTrail(None, source).record(event)  # no store: the diff is skipped
        assert record.entry.label == LABELS[key] and record.entry.event == cls.__qualname__
        assert record.entry.when.utcoffset() is not None
        assert record.entry.why == "核实后"
        env = Envelope.sealed("0" * 64, event_id=uuid4(), type=AUDIT_RECORD, version=1,
                              source=source, region="469028", aggregate_id=uuid4(),
                              aggregate_version=1, position=1, occurred_at=event.timestamp,
                              actor=None, data=record.contract.model_dump(mode="json"),
                              audit=record.entry)
        again = Envelope.model_validate_json(env.to_bytes())
        assert again.hash_is_valid() and again.audit == record.entry
        assert parse_data(again).model_dump()["event"] == cls.__qualname__


def test_one_rule_seals_ids_accounts_and_phones_at_any_depth() -> None:
    rid = make_resident_id("469028", date(1960, 5, 1), 12, "male")
    filing = {"members": [{"name": "李明", "resident_id": rid, "phone": "13800138000"}],
              "bank_account": {"account": "6228480123456789015", "bank": "农行"},
              "contact": "13912345678", "note": f"身份证 {rid}，电话13800138000"}
    out = jsonable(filing)
    text = str(out)
    assert rid not in text and "13800138000" not in text and "6228480123456789015" not in text
    assert "contact" not in out and "13912345678" not in text
    assert out["members"][0]["name"] == "李明"
    digest = "a" * 64
    assert jsonable(digest, "sha256") == digest  # hashes are not numbers of people
    assert jsonable(Decimal("1215.00")) == "1215.00"


def test_why_is_one_field_from_reason_note_finding_notice_or_recusal() -> None:
    assert why_of({"note": "缺户口本"}) == "缺户口本"
    assert why_of({"notice": "经审核，同意给予最低生活保障"}) == "经审核，同意给予最低生活保障"
    assert why_of({"members": [{"name": "王", "recused": True, "recusal_reason": "亲属"}]}) \
        == "亲属"
    assert why_of({"method": "入户", "notes": "邻居证实"}) == "邻居证实; 入户"
    assert why_of({"reasons": ["收入超标", "有车辆"]}) == "收入超标; 有车辆"
    assert why_of({"status": "x"}) is None


def test_a_report_about_an_official_keeps_its_place_and_words_out_of_the_record() -> None:
    from services.publicity.domain import Report

    event = Report.Filed.__new__(Report.Filed)
    event.__dict__.update(
        originator_id=uuid4(), originator_version=1, timestamp=datetime.now(UTC),
        receipt="R1", category="bribery", queue="discipline", township="469028100",
        village="469028100201", reference=None, case_id=None, entitlement_id=None,
        household_id="hh-1", text="乡长索贿", contact="13800138000", reporter_name="张三",
        code_salt="s", code_digest="d", filed_on=date(2026, 3, 1), actor=None)
    fields = event_fields(event, frozenset(Report.AUDIT_WITHHELD))
    record = AuditTrail(None, "publicity").record(event)
    assert record.township is None and record.case_id is None and record.household_id is None
    assert set(fields) == {"category", "queue", "filed_on"}
    assert "469028100" not in record.contract.model_dump_json()
    assert isinstance(record.entry, AuditEntry) and label_of("publicity", Report.Filed)


def test_who_carries_name_and_organisation_when_the_token_names_them() -> None:
    from shared.audit import who_of
    from shared.auth import Principal, Role

    contractor = Principal("u-9", Role.CONTRACTOR_INVESTIGATOR, "469028100", org="org-a",
                           name="王调查")
    who = who_of(contractor.actor())
    assert who is not None
    assert (who.user_id, who.name, who.organisation, who.township) == (
        "u-9", "王调查", "org-a", "469028100")
    # Without them the stored actor keeps its earlier form.
    assert Principal("u-1", Role.TOWNSHIP_CLERK, "469028100").actor() == {
        "user_id": "u-1", "role": "township_clerk", "township": "469028100", "village": None}


def test_household_details_never_reach_an_audit_record() -> None:
    """Names, birth dates, health and incomes stay in the service that holds them: an
    entitlement's start is small enough to pass the size bound, so the rule must hold by
    itself."""
    from services.review.domain import Entitlement
    from shared.audit import withheld_of

    household = {"urban": False, "members": [
        {"name": "黎阿婆", "birth_date": "1951-03-14", "disability": {"kind": "hearing"},
         "incomes": [{"kind": "pension", "amount": "1800.00", "months": 6}]}]}
    ent = Entitlement(
        case_id=uuid4(), kind="dibao", household_id="hh-1", township="469028100",
        village="469028100201", urban=False, applicant_name="黎阿婆", household_size=1,
        monthly_amount=Decimal("350.00"), breakdown={}, policy_version=1,
        start_month="2026-01", recheck_due=date(2027, 1, 1), recheck_months=12,
        payee={"name": "黎阿婆", "bank": "海南农信", "account": "6222021111111113"},
        inputs={"household": household, "on": "2025-12-20"}, actor={"user_id": "lead"})
    (started,) = ent.collect_events()
    fields = str(event_fields(started, withheld_of(Entitlement)))
    for secret in ("1951-03-14", "hearing", "1800.00", "6222021111111113", "pension"):
        assert secret not in fields, secret
    assert "350.00" in fields  # the decision itself is in the record
