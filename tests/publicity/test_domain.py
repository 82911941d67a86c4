"""Publicity's domain, pure: windows in calendar dates, objections both ways, the close
rules, masking, and the roster's effective-dated changes. Worked dates throughout."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from services.publicity.domain import (
    SYSTEM_ACTOR,
    InvestigationMethod,
    Notice,
    NoticeStatus,
    NoticeSubject,
    NoticeWindow,
    ObjectionStatus,
    Outcome,
    PublicContent,
    RosterChange,
    RosterEntry,
    notice_id_for,
)
from shared.contracts import Actor
from shared.errors import RuleViolation
from tests.support import actors

pytestmark = pytest.mark.fast

CLERK = actors.CLERK.as_actor()
LEADER = Actor(user_id="lead-1", role="township_leader", township="469028100")
PUBLIC = Actor(user_id="public", role="public")
POSTED = date(2025, 3, 3)  # a Monday


def notice(posted: date = POSTED, days: int = 7, round_: int = 1) -> Notice:
    return Notice.post(
        case_id=UUID(int=1), subject=NoticeSubject.OPINION, round_=round_, kind="dibao",
        township="469028100", village="469028100201", household_id=None, entitlement_id=None,
        window=NoticeWindow.posted(posted, days),
        content=PublicContent.masked("黎阿婆", "keep_surname", 2, "dibao", Decimal("640"),
                                     "469028100201"),
        name_rule="keep_surname", approve=True, opened_from="evt-1", actor=LEADER)


def objected(n: Notice, on: date = date(2025, 3, 5)) -> UUID:
    oid = uuid4()
    n.file_objection(oid, text="他家在县城有商铺出租", contact=None, objector_name=None, on=on,
                     actor=PUBLIC)
    return oid


# --- the window ----------------------------------------------------------------------------

def test_seven_days_posted_monday_run_through_the_next_monday() -> None:
    # The posting day is not counted: 3 March + 7 days = 10 March, closing on the 11th.
    w = NoticeWindow.posted(POSTED, 7)
    assert (w.starts_on, w.ends_on, w.ended_on) == (
        date(2025, 3, 3), date(2025, 3, 10), date(2025, 3, 11))
    assert w.accepts_objections_on(date(2025, 3, 3))
    assert w.accepts_objections_on(date(2025, 3, 10))
    assert not w.accepts_objections_on(date(2025, 3, 11))
    assert not w.accepts_objections_on(date(2025, 3, 2))
    assert not w.has_ended_by(date(2025, 3, 10)) and w.has_ended_by(date(2025, 3, 11))


def test_window_crosses_month_and_year_ends() -> None:
    assert NoticeWindow.posted(date(2024, 12, 28), 7).ends_on == date(2025, 1, 4)
    assert NoticeWindow.posted(date(2024, 2, 25), 7).ends_on == date(2024, 3, 3)  # leap year


def test_window_length_is_a_setting_but_never_zero() -> None:
    assert NoticeWindow.posted(POSTED, 10).ends_on == date(2025, 3, 13)
    with pytest.raises(RuleViolation) as e:
        NoticeWindow.posted(POSTED, 0)
    assert e.value.code == "publicity.window_days"


def test_notice_id_is_one_per_case_subject_and_round() -> None:
    n = notice()
    assert n.id == notice_id_for(UUID(int=1), "opinion", 1)
    assert notice_id_for(UUID(int=1), "opinion", 2) != n.id
    assert notice_id_for(UUID(int=1), "termination", 1) != n.id


# --- closing -------------------------------------------------------------------------------

def test_clean_close_only_after_the_window_and_dated_the_day_after() -> None:
    n = notice()
    assert not n.close_if_due(date(2025, 3, 10))
    assert n.status is NoticeStatus.OPEN
    # Closed late (say the service was down until the 14th): same facts as on time.
    assert n.close_if_due(date(2025, 3, 14), SYSTEM_ACTOR)
    assert (n.status, n.outcome, n.closed_on) == (NoticeStatus.CLOSED, "clean",
                                                  date(2025, 3, 11))
    assert not n.close_if_due(date(2025, 3, 15))  # once
    events = n.collect_events()
    assert type(events[-1]).__name__ == "Closed" and events[-1].actor == SYSTEM_ACTOR.stored()


def test_upheld_objection_closes_at_once_with_the_finding() -> None:
    n = notice()
    oid = objected(n)
    n.record_investigation(oid, method=InvestigationMethod.DEMOCRATIC_APPRAISAL,
                           notes="村民代表民主评议 12 人到会", on=date(2025, 3, 6), actor=CLERK)
    assert n.objections[str(oid)]["status"] == ObjectionStatus.UNDER_INVESTIGATION
    n.resolve_objection(oid, upheld=True, finding="商铺年租金 3.6 万元未申报",
                        on=date(2025, 3, 7), actor=LEADER)
    assert n.status is NoticeStatus.CLOSED
    assert (n.outcome, n.finding, n.closed_on) == (
        Outcome.OBJECTION_UPHELD, "商铺年租金 3.6 万元未申报", date(2025, 3, 7))
    names = [type(e).__name__ for e in n.collect_events()]
    assert names == ["Opened", "ObjectionFiled", "InvestigationRecorded",
                     "ObjectionResolved", "Closed"]


def test_objection_not_upheld_keeps_the_notice_posted_until_its_end() -> None:
    n = notice()
    oid = objected(n)
    n.resolve_objection(oid, upheld=False, finding="商铺系亲属所有，已核实",
                        on=date(2025, 3, 6), actor=LEADER)
    assert n.status is NoticeStatus.OPEN
    assert n.close_if_due(date(2025, 3, 11))
    assert n.outcome == Outcome.CLEAN


def test_pending_objection_holds_the_close_until_its_finding() -> None:
    n = notice()
    oid = objected(n, on=date(2025, 3, 10))  # the last day still counts
    assert not n.close_if_due(date(2025, 3, 12))  # window over, finding pending
    assert n.status is NoticeStatus.OPEN
    n.resolve_objection(oid, upheld=False, finding="查无实据", on=date(2025, 3, 13),
                        actor=LEADER)
    assert (n.status, n.outcome, n.closed_on) == (NoticeStatus.CLOSED, "clean",
                                                  date(2025, 3, 13))


def test_objections_only_while_posted() -> None:
    n = notice()
    with pytest.raises(RuleViolation) as e:
        objected(n, on=date(2025, 3, 11))
    assert e.value.code == "publicity.outside_window"
    n.close_if_due(date(2025, 3, 11))
    with pytest.raises(RuleViolation) as e:
        objected(n, on=date(2025, 3, 9))
    assert e.value.code == "publicity.notice_closed"


def test_objection_text_rules() -> None:
    n = notice()
    for text, code in (("   ", "publicity.text_required"), ("x" * 2001, "publicity.text_too_long")):
        with pytest.raises(RuleViolation) as e:
            n.file_objection(uuid4(), text=text, contact=None, objector_name=None,
                             on=POSTED, actor=PUBLIC)
        assert (e.value.code, e.value.field) == (code, "text")
    assert not n.objections


def test_a_finding_needs_reasons_and_is_given_once() -> None:
    n = notice()
    oid = objected(n)
    with pytest.raises(RuleViolation) as e:
        n.resolve_objection(oid, upheld=False, finding=" ", on=POSTED, actor=LEADER)
    assert e.value.field == "finding"
    n.resolve_objection(oid, upheld=False, finding="查无实据", on=POSTED, actor=LEADER)
    with pytest.raises(RuleViolation) as e:
        n.resolve_objection(oid, upheld=True, finding="改判", on=POSTED, actor=LEADER)
    assert e.value.code == "publicity.objection_resolved"
    with pytest.raises(RuleViolation) as e:
        n.resolve_objection(uuid4(), upheld=True, finding="?", on=POSTED, actor=LEADER)
    assert e.value.code == "publicity.unknown_objection"


def test_leftover_objection_gets_a_finding_after_an_upheld_close_without_reopening() -> None:
    n = notice()
    first, second = objected(n), objected(n)
    n.resolve_objection(first, upheld=True, finding="成立", on=date(2025, 3, 6), actor=LEADER)
    n.resolve_objection(second, upheld=False, finding="同一事实", on=date(2025, 3, 7),
                        actor=LEADER)
    assert (n.outcome, n.closed_on) == (Outcome.OBJECTION_UPHELD, date(2025, 3, 6))
    assert not n.pending_objections


def test_supersede_only_touches_an_open_notice() -> None:
    n = notice()
    n.supersede(uuid4(), LEADER)
    assert n.status is NoticeStatus.SUPERSEDED
    assert not n.close_if_due(date(2025, 4, 1))


# --- what the public sees ------------------------------------------------------------------

@pytest.mark.parametrize(("name", "rule", "shown"), [
    ("黎阿婆", "keep_surname", "黎**"),
    ("欧阳娜娜", "keep_surname", "欧阳**"),
    ("张三丰", "keep_surname_and_last", "张*丰"),
    ("王五", "keep_surname_and_last", "王*"),
])
def test_public_content_masks_by_the_display_rule(name: str, rule: str, shown: str) -> None:
    c = PublicContent.masked(name, rule, 3, "dibao", Decimal("1043.5"), "469028100201")
    assert c.display_name == shown
    assert c.monthly_amount == Decimal("1043.50")


def test_public_content_rejects_nonsense() -> None:
    with pytest.raises(RuleViolation) as e:
        PublicContent.masked("黎阿婆", "keep_surname", 0, "dibao", None, "469028100201")
    assert e.value.field == "household_size"
    with pytest.raises(RuleViolation) as e:
        PublicContent.masked("黎阿婆", "keep_surname", 1, "dibao", Decimal("-1"), "x")
    assert e.value.field == "monthly_amount"


# --- the roster ----------------------------------------------------------------------------

def entry() -> RosterEntry:
    return RosterEntry.list_(
        entitlement_id=UUID(int=7), case_id=UUID(int=8), township="469028100",
        content=PublicContent.masked("黎阿婆", "keep_surname", 2, "dibao", Decimal("640"),
                                     "469028100201"),
        name_rule="keep_surname", start_month="2025-01", source_event_id="e", actor=LEADER)


def test_roster_suspension_keeps_amount_changes_off_the_board_until_resumed() -> None:
    e = entry()
    e.change(RosterChange.SUSPEND, monthly_amount=Decimal(0), household_size=2,
             effective_month="2025-04", source_event_id="e2", actor=LEADER)
    assert not e.listed
    e.change(RosterChange.DECREASE, monthly_amount=Decimal("520"), household_size=2,
             effective_month="2025-05", source_event_id="e3", actor=LEADER)
    assert not e.listed  # still suspended
    e.change(RosterChange.RESUME, monthly_amount=Decimal("520"), household_size=2,
             effective_month="2025-06", source_event_id="e4", actor=LEADER)
    assert e.listed and e.monthly_amount == Decimal("520.00")


def test_roster_termination_is_final_and_months_are_checked() -> None:
    e = entry()
    with pytest.raises(RuleViolation) as err:
        e.change(RosterChange.INCREASE, monthly_amount=Decimal(700), household_size=2,
                 effective_month="2025-13", source_event_id="x", actor=LEADER)
    assert err.value.code == "publicity.month"
    e.change(RosterChange.TERMINATE, monthly_amount=Decimal(0), household_size=2,
             effective_month="2025-07", source_event_id="e5", actor=LEADER)
    assert e.terminated and not e.listed
    with pytest.raises(RuleViolation) as err:
        e.change(RosterChange.RESUME, monthly_amount=Decimal(640), household_size=2,
                 effective_month="2025-08", source_event_id="e6", actor=LEADER)
    assert err.value.code == "publicity.roster_terminated"
