"""Intake's domain rules, pure: no store, no bus. Worked dates and amounts throughout."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from services.intake.domain import (
    Application,
    PolicyBook,
    Status,
    check_change,
    check_filing,
    missing_items,
)
from services.intake.main import SHIPPED_POLICY, load_policies
from services.intake.values import Household, HouseholdChange, MissingItem
from shared.contracts import Actor
from shared.errors import RuleViolation
from shared.pii import make_resident_id
from shared.regions import load_county
from tests.support import actors
from tests.support.places import TAOYUAN, YELIN

pytestmark = pytest.mark.fast

TODAY = date(2025, 6, 16)
STORED_ACTOR = actors.CLERK.actor()
ACTOR = Actor.of(STORED_ACTOR)
BOOK = load_policies(SHIPPED_POLICY)
POLICY = BOOK.in_force(TODAY)
COUNTY = load_county()
DIBAO_MATERIALS = ["application_form", "commitment_letter", "authorization_form",
                   "hukou_booklet", "id_cards"]


def person(born: date, seq: int, sex: str = "female", **extra: Any) -> dict[str, Any]:
    return {"name": f"成员{seq}", "relation": "spouse",
            "resident_id": make_resident_id("469028", born, seq, sex), "birth_date": born,
            "work_capacity": "full", "disability": None, "serious_illness": False,
            "student": False, "phone": None, "authorization_signed": True, "incomes": [],
            **extra}


def household(**extra: Any) -> dict[str, Any]:
    applicant = person(date(1956, 3, 14), 12, name="黎阿婆", relation="self",
                       work_capacity="none")
    child = person(date(2012, 9, 1), 3, "male", name="黎小明", relation="grandchild",
                   authorization_signed=False, student=True)
    return {"members": [applicant, child], "assets": [], "bank_account": None,
            "materials": list(DIBAO_MATERIALS), "legal_supporters": [],
            "close_relative_declared": False, "close_relatives": [], "entrustment": None,
            "single_person": False, "residence_basis": None, **extra}


def check(filing: dict[str, Any], kind: str = "dibao", linshi_type: str | None = None,
          filed_by: str = "applicant", township: str = YELIN,
          village: str = TAOYUAN, on: date = TODAY) -> dict[str, Any]:
    """The filing rules on a household given as the API hands it over; the stored form back."""
    return check_filing(COUNTY, POLICY, kind=kind, linshi_type=linshi_type, township=township,
                        village=village, filed_by=filed_by, filing=Household.of(filing),
                        on=on).to_stored()


def refused(code: str, field: str | None, filing: dict[str, Any], **kw: Any) -> RuleViolation:
    with pytest.raises(RuleViolation) as e:
        check(filing, **kw)
    assert (e.value.code, e.value.field) == (code, field)
    return e.value


def fingerprinted(filing: dict[str, Any]) -> dict[str, Any]:
    for m in filing["members"] + filing["legal_supporters"]:
        m["fingerprint"] = "fp-" + m["resident_id"]
    return filing


def submitted(kind: str = "dibao", linshi_type: str | None = None,
              filing: dict[str, Any] | None = None) -> Application:
    filing = fingerprinted(check(filing or household(), kind=kind, linshi_type=linshi_type))
    return Application(kind=kind, linshi_type=linshi_type, township=YELIN, village=TAOYUAN,
                       urban=False, filed_by="applicant", owner=None, household_id="hh-1",
                       filing=filing, filed_on=TODAY, policy_version=POLICY.version,
                       actor=ACTOR.stored())


# --- places and people -----------------------------------------------------------------------


def test_a_complete_filing_passes_and_ids_are_normalised() -> None:
    filing = household()
    lower = filing["members"][0]["resident_id"]
    lower = lower[:17] + lower[17].lower()
    filing["members"][0]["resident_id"] = lower
    checked = check(filing)
    assert checked["members"][0]["resident_id"] == lower.upper()
    assert filing["members"][0]["resident_id"] == lower  # the caller's data is not edited


def test_an_unknown_township_and_a_state_farm_are_refused() -> None:
    refused("intake.unknown_township", "township", household(), township="469028999")
    e = refused("intake.unknown_township", "township", household(), township="岭门农场")
    assert "state farm" in e.message


def test_a_village_of_another_township_is_refused() -> None:
    refused("intake.unknown_village", "village", household(), village="469028101201")


def test_a_wrong_checksum_is_refused_without_echoing_the_number() -> None:
    filing = household()
    rid = filing["members"][1]["resident_id"]
    filing["members"][1]["resident_id"] = rid[:17] + ("0" if rid[17] != "0" else "1")
    e = refused("intake.id_checksum", "members[1].resident_id", filing)
    assert rid[:17] not in e.message


def test_a_birth_date_in_the_future_or_disagreeing_is_refused() -> None:
    filing = household()
    filing["members"][1]["birth_date"] = date(2012, 9, 2)
    refused("intake.birth_date_mismatch", "members[1].birth_date", filing)
    filing = household()
    filing["members"][1]["resident_id"] = make_resident_id("469028", date(2030, 1, 1), 3, "male")
    refused("intake.id_birth_date", "members[1].resident_id", filing)


def test_a_member_listed_twice_is_refused_even_as_a_supporter() -> None:
    filing = household()
    filing["members"].append({**filing["members"][1], "relation": "other"})
    refused("intake.member_listed_twice", "members[2].resident_id", filing)
    filing = household(legal_supporters=[{
        "name": "黎阿婆", "relation": "child", "authorization_signed": True,
        "resident_id": household()["members"][0]["resident_id"]}])
    refused("intake.member_listed_twice", "legal_supporters[0].resident_id", filing,
            kind="tekun")


def test_exactly_one_applicant() -> None:
    filing = household()
    filing["members"][1]["relation"] = "self"
    refused("intake.one_applicant", "members", filing)


# --- the authorization ------------------------------------------------------------------------


def test_every_adult_signs_the_authorization() -> None:
    filing = household()
    filing["members"][0]["authorization_signed"] = False
    refused("intake.authorization_missing", "members[0].authorization_signed", filing)


def test_a_member_signs_from_their_18th_birthday() -> None:
    born = date(2007, 6, 16)  # 18 on TODAY
    filing = household()
    filing["members"].append(person(born, 40, authorization_signed=False, relation="child"))
    refused("intake.authorization_missing", "members[2].authorization_signed", filing)
    check(filing, on=date(2025, 6, 15))  # still 17 the day before


def test_tekun_legal_supporters_sign_too() -> None:
    supporter = {"name": "黎大儿", "relation": "child", "authorization_signed": False,
                 "resident_id": make_resident_id("469028", date(1980, 1, 1), 7, "male")}
    refused("intake.authorization_missing", "legal_supporters[0].authorization_signed",
            household(legal_supporters=[supporter]), kind="tekun")
    check(household(legal_supporters=[{**supporter, "authorization_signed": True}]),
          kind="tekun")


def test_legal_supporters_are_for_tekun_only() -> None:
    supporter = {"name": "黎大儿", "relation": "child", "authorization_signed": True,
                 "resident_id": make_resident_id("469028", date(1980, 1, 1), 7, "male")}
    refused("intake.legal_supporters_kind", "legal_supporters",
            household(legal_supporters=[supporter]))


def test_an_emergency_may_sign_later_and_the_gap_is_listed() -> None:
    filing = household(residence_basis="hukou", materials=[])
    filing["members"][0]["authorization_signed"] = False
    checked = check(filing, kind="linshi", linshi_type="emergency")
    codes = [m.code for m in missing_items(POLICY, "linshi", "emergency", "applicant",
                                              Household.of(checked), TODAY)]
    assert "signature:members[0].authorization_signed" in codes
    refused("intake.authorization_missing", "members[0].authorization_signed", filing,
            kind="linshi", linshi_type="expenditure")


# --- 特困: capacity to work by age and disability -------------------------------------------


@pytest.mark.parametrize(("born", "student", "disability", "passes"), [
    (date(1965, 6, 16), False, None, True),  # 60 today
    (date(1965, 6, 17), False, None, False),  # 59, 60 tomorrow
    (date(2009, 6, 17), False, None, True),  # 15
    (date(2009, 6, 16), False, None, False),  # 16, not a student
    (date(2008, 1, 1), True, None, True),  # 17, a student
    (date(2007, 6, 16), True, None, False),  # 18, a student: no longer a minor
    (date(1985, 1, 1), False, {"kind": "physical", "grade": 2}, True),
    (date(1985, 1, 1), False, {"kind": "physical", "grade": 3}, False),
    (date(1985, 1, 1), False, {"kind": "intellectual", "grade": 3}, True),
    (date(1985, 1, 1), False, {"kind": "mental", "grade": 4}, False),
])
def test_tekun_capacity_to_work(born: date, student: bool, disability: dict[str, Any] | None,
                                passes: bool) -> None:
    applicant = person(born, 21, relation="self", student=student, disability=disability,
                       authorization_signed=True)
    filing = household(members=[applicant])
    if passes:
        check(filing, kind="tekun")
    else:
        e = refused("intake.tekun_capacity_to_work", "members[0]", filing, kind="tekun")
        assert "60" in e.message and "16" in e.message


# --- amounts ----------------------------------------------------------------------------------


def income(amount: str, months: int = 1) -> dict[str, Any]:
    return {"kind": "wage", "amount": Decimal(amount), "months": months}


def test_negative_and_absurd_amounts_are_refused() -> None:
    filing = household()
    filing["members"][0]["incomes"] = [income("0"), income("-0.01")]
    refused("intake.negative_amount", "members[0].incomes[1].amount", filing)
    # 200,000 a month is the guard: 6 months may total just under 1,200,000.
    filing["members"][0]["incomes"] = [income("1199999.99", 6)]
    check(filing)
    filing["members"][0]["incomes"] = [income("1200000", 6)]
    refused("intake.absurd_amount", "members[0].incomes[0].amount", filing)
    filing["members"][0]["incomes"] = [income("100", 13)]
    refused("intake.income_period", "members[0].incomes[0].months", filing)
    refused("intake.absurd_amount", "assets[0].value", household(assets=[
        {"kind": "deposit", "value": Decimal("100000000"), "exempt": False}]))
    refused("intake.negative_amount", "assets[0].value", household(assets=[
        {"kind": "deposit", "value": Decimal("-1"), "exempt": False}]))


# --- kind-specific fields ---------------------------------------------------------------------


def test_linshi_names_its_type_and_residence_basis() -> None:
    refused("intake.linshi_type", "linshi_type", household(residence_basis="hukou"),
            kind="linshi")
    refused("intake.linshi_type", "linshi_type", household(), linshi_type="emergency")
    refused("intake.residence_basis", "residence_basis", household(), kind="linshi",
            linshi_type="expenditure")
    refused("intake.residence_basis", "residence_basis", household(residence_basis="hukou"))


def test_an_agent_records_the_entrustment() -> None:
    refused("intake.entrustment_missing", "entrustment", household(),
            filed_by="village_committee")
    entrustment = {"agent_name": "村委会 王主任", "agent_relation": "village_committee",
                   "entrusted_on": date(2025, 6, 10)}
    refused("intake.entrustment_unexpected", "entrustment", household(entrustment=entrustment))
    refused("intake.entrustment_date", "entrustment.entrusted_on",
            household(entrustment={**entrustment, "entrusted_on": date(2025, 6, 17)}),
            filed_by="entrusted_person")
    check(household(entrustment=entrustment), filed_by="village_committee")


def test_a_close_relative_declaration_names_the_relative() -> None:
    refused("intake.close_relative_details", "close_relatives",
            household(close_relative_declared=True))
    relative = {"member_name": "黎阿婆", "official_name": "黎某", "official_post":
                "village_committee", "relationship": "son"}
    refused("intake.close_relative_details", "close_relatives",
            household(close_relatives=[relative]))
    check(household(close_relative_declared=True, close_relatives=[relative]))


def test_materials_come_from_the_kinds_checklist() -> None:
    refused("intake.unknown_material", "materials[5]",
            household(materials=[*DIBAO_MATERIALS, "supporter_statement"]))
    assert check(household(materials=["id_cards", "id_cards"]))["materials"] == ["id_cards"]


def test_single_person_dibao_is_for_the_severely_disabled_or_seriously_ill() -> None:
    refused("intake.single_person_kind", "single_person", household(single_person=True),
            kind="dibao_edge")
    refused("intake.single_person_eligibility", "single_person", household(single_person=True))
    ill = household(single_person=True)
    ill["members"][0]["serious_illness"] = True
    check(ill)
    disabled = household(single_person=True)
    disabled["members"][0]["disability"] = {"kind": "visual", "grade": 3}
    refused("intake.single_person_eligibility", "single_person", disabled)


# --- the checklist: everything missing at once ------------------------------------------------


def test_missing_items_lists_everything_at_once() -> None:
    filing = household(materials=["application_form"])
    filing["members"][0]["incomes"] = [income("300")]
    filing["members"][0]["disability"] = {"kind": "physical", "grade": 1}
    filing["members"][1]["serious_illness"] = True
    entrustment = {"agent_name": "王主任", "agent_relation": "村委会",
                   "entrusted_on": date(2025, 6, 1)}
    filing["entrustment"] = entrustment
    checked = check(filing, filed_by="village_committee")
    missing = missing_items(POLICY, "dibao", None, "village_committee", Household.of(checked),
                            TODAY)
    assert [m.code for m in missing] == [
        "commitment_letter", "authorization_form", "hukou_booklet", "id_cards", "income_proof",
        # the disability certificate is read from government systems: never asked for
        "illness_diagnosis", "entrustment_letter", "bank_account"]
    assert missing[0].description == "家庭经济状况真实性承诺书"


def test_recognition_needs_no_bank_account() -> None:
    checked = check(household(), kind="dibao_edge")
    assert missing_items(POLICY, "dibao_edge", None, "applicant", Household.of(checked),
                         TODAY) == []


# --- the Application's life -----------------------------------------------------------------


def bank() -> dict[str, str]:
    return {"bank": "海南农信", "holder_name": "黎阿婆", "account": "6228480402564890018"}


def test_return_resubmit_accept_records_the_date_limits_run_from() -> None:
    a = submitted()
    missing = missing_items(POLICY, a.kind, None, a.filed_by, a.as_filed, TODAY)
    assert [m.code for m in missing] == ["bank_account"]
    with pytest.raises(RuleViolation) as e:
        a.accept(TODAY, missing, False, ACTOR)
    assert e.value.code == "intake.incomplete" and "bank_account" in e.value.message
    with pytest.raises(RuleViolation) as e:
        a.return_for_completion([], None, TODAY, ACTOR)
    assert e.value.code == "intake.return_without_items"
    with pytest.raises(RuleViolation) as e:
        a.return_for_completion(missing, "  ", TODAY, ACTOR)
    assert (e.value.code, e.value.field) == ("intake.reason_required", "note")

    a.return_for_completion(missing + [MissingItem(code="clerk", description="收入证明不清")],
                            "请补正", TODAY, ACTOR)
    assert a.status is Status.RETURNED and len(a.returns[0]["missing"]) == 2
    with pytest.raises(RuleViolation) as e:
        a.accept(TODAY, [], False, ACTOR)
    assert e.value.code == "intake.accept_state"

    a.resubmit(Household.of(fingerprinted(check(household(bank_account=bank())))), "hh-1", 1,
               date(2025, 6, 18), ACTOR)
    assert (a.status, a.round) == (Status.SUBMITTED, 2)
    a.accept(date(2025, 6, 19), [], False, ACTOR)
    assert (a.status, a.accepted_on) == (Status.ACCEPTED, date(2025, 6, 19))
    events = a.collect_events()
    assert [type(e).__name__ for e in events] == ["Submitted", "Returned", "Resubmitted",
                                                  "Accepted"]
    assert all(e.actor == STORED_ACTOR for e in events)


def test_an_emergency_is_accepted_with_materials_outstanding() -> None:
    a = submitted("linshi", "emergency", household(residence_basis="hukou", materials=[]))
    missing = missing_items(POLICY, "linshi", "emergency", "applicant", a.as_filed, TODAY)
    a.accept(TODAY, missing, POLICY.may_follow("linshi", "emergency"), ACTOR)
    assert a.status is Status.ACCEPTED and a.outstanding == [m.to_stored() for m in missing]


def test_decline_needs_a_reason_and_only_before_acceptance() -> None:
    a = submitted()
    with pytest.raises(RuleViolation) as e:
        a.decline("   ", TODAY, ACTOR)
    assert (e.value.code, e.value.field) == ("intake.reason_required", "reason")
    a.decline("户籍不在本镇", TODAY, ACTOR)
    assert (a.status, a.closing_reason) == (Status.DECLINED, "户籍不在本镇")
    b = submitted()
    b.accept(TODAY, [], False, ACTOR)
    with pytest.raises(RuleViolation) as e:
        b.decline("late", TODAY, ACTOR)
    assert e.value.code == "intake.decline_state"


def test_withdrawal_any_time_before_confirmation() -> None:
    a = submitted()
    a.accept(TODAY, [], False, ACTOR)
    a.withdraw("家庭情况好转", TODAY, ACTOR)
    assert a.status is Status.WITHDRAWN
    assert a.collect_events()[-1].was_accepted is True
    b = submitted()
    b.accept(TODAY, [], False, ACTOR)
    case_id = uuid4()
    assert b.record_confirmation(case_id, TODAY, False, ACTOR)
    assert not b.record_confirmation(case_id, TODAY, False, ACTOR)  # a replay: no new event
    with pytest.raises(RuleViolation) as e:
        b.withdraw("too late", TODAY, ACTOR)
    assert e.value.code == "intake.withdraw_state"


def confirmed(ends_case: bool = False) -> Application:
    a = submitted()
    a.accept(TODAY, [], False, ACTOR)
    a.record_confirmation(uuid4(), TODAY, ends_case, ACTOR)
    return a


def test_changes_are_reported_only_for_an_active_case() -> None:
    change = HouseholdChange.of({
        "subject": "income", "description": "孙子开始打工", "occurred_on": TODAY,
        "incomes": [{"member_fingerprint": "x", "kind": "wage", "amount": Decimal("1800"),
                     "months": 1}]})
    with pytest.raises(RuleViolation) as e:
        submitted().report_change(change, TODAY, ACTOR)
    assert e.value.code == "intake.change_state"
    with pytest.raises(RuleViolation) as e:
        confirmed(ends_case=True).report_change(change, TODAY, ACTOR)
    assert e.value.code == "intake.change_one_off"
    with pytest.raises(RuleViolation) as e:
        confirmed().report_change(change, TODAY, ACTOR)
    assert (e.value.code, e.value.field) == ("intake.change_unknown_member",
                                             "incomes[0].resident_id")


def test_members_join_and_leave_the_household() -> None:
    a = confirmed()
    grandchild = a.members[1]
    newborn = person(date(2025, 5, 1), 50, "male", relation="grandchild",
                     authorization_signed=False)
    raw = {"subject": "members", "description": "孙子外出就业，新生儿入户", "occurred_on": TODAY,
           "members_joined": [newborn],
           "members_left": [{"resident_id": grandchild.resident_id, "reason": "moved_out"}]}
    change = check_change(POLICY, HouseholdChange.of(raw), TODAY).to_stored()
    change["members_joined"][0]["fingerprint"] = "fp-new"
    change["members_left"][0]["fingerprint"] = grandchild.fingerprint
    a.report_change(HouseholdChange.of(change), TODAY, ACTOR)
    assert [m.fingerprint for m in a.household] == [a.applicant.fingerprint, "fp-new"]
    assert len(a.members) == 2  # the filing itself stays as filed

    again = copy.deepcopy(change)
    again["members_left"] = []
    with pytest.raises(RuleViolation) as e:
        a.report_change(HouseholdChange.of(again), TODAY, ACTOR)
    assert e.value.code == "intake.member_listed_twice"
    leave = {"subject": "members", "description": "x", "occurred_on": TODAY,
             "members_left": [{"fingerprint": a.applicant.fingerprint, "reason": "moved_out"}]}
    with pytest.raises(RuleViolation) as e:
        a.report_change(HouseholdChange.of(leave), TODAY, ACTOR)
    assert e.value.code == "intake.change_applicant_left"


def test_a_change_lists_what_changed_and_its_people_pass_the_id_rules() -> None:
    with pytest.raises(RuleViolation) as e:
        check_change(POLICY, HouseholdChange.of({
            "subject": "assets", "description": "卖车", "occurred_on": TODAY, "assets": []}),
            TODAY)
    assert (e.value.code, e.value.field) == ("intake.change_empty", "assets")
    joined = person(date(2025, 5, 1), 50, "male", relation="child")
    joined["birth_date"] = date(2025, 5, 2)
    with pytest.raises(RuleViolation) as e:
        check_change(POLICY, HouseholdChange.of({
            "subject": "members", "description": "x", "occurred_on": TODAY,
            "members_joined": [joined]}), TODAY)
    assert (e.value.code, e.value.field) == ("intake.birth_date_mismatch",
                                             "members_joined[0].birth_date")


def test_a_rejection_and_a_termination_close_the_case() -> None:
    a = submitted()
    a.accept(TODAY, [], False, ACTOR)
    a.record_rejection(uuid4(), TODAY, ["人均收入高于标准"], ACTOR)
    assert (a.status, a.decision_reasons) == (Status.REJECTED, ["人均收入高于标准"])
    b = confirmed()
    assert b.record_termination("2025-08", ["死亡"], ACTOR)
    assert b.status is Status.TERMINATED and not b.record_termination("2025-08", [], ACTOR)


# --- policy data ------------------------------------------------------------------------------


def test_the_policy_in_force_is_chosen_by_date() -> None:
    v1 = BOOK.versions[0]
    v2 = v1.model_copy(update={"version": 2, "effective_from": date(2026, 1, 1),
                               "adult_age": 16})
    book = PolicyBook(versions=(v1, v2), name_rules=BOOK.name_rules)
    assert book.in_force(date(2025, 12, 31)).version == 1
    assert book.in_force(date(2026, 1, 1)).adult_age == 16
    with pytest.raises(RuleViolation) as e:
        book.in_force(date(2020, 1, 1))
    assert e.value.code == "intake.no_policy"
    with pytest.raises(ValueError):
        PolicyBook(versions=(v2, v1), name_rules=BOOK.name_rules)


def test_every_kind_has_a_checklist() -> None:
    data = BOOK.versions[0].model_dump()
    del data["materials"]["tekun"]
    with pytest.raises(ValueError, match="tekun"):
        type(BOOK.versions[0]).model_validate(data)
