"""Review's typed values: what a reported change and the investigators' findings do to a
household, and the stored form each value reads and writes (pure: no store)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.review.domain import apply_findings, apply_reported_change
from services.review.values import (
    Asset,
    Findings,
    Household,
    Income,
    Member,
    MemberFinding,
    MemberLeft,
    ReportedChange,
)
from tests.support.review import BOY, GRANNY, MOTHER, household

pytestmark = pytest.mark.fast

GRANDPA = Member(fingerprint="fp-grandpa", name="黎阿公", relation="spouse",
                 birth_date=date(1952, 2, 2), resident_id_mask="469*************31")


def change(**parts: object) -> ReportedChange:
    base: dict[str, object] = {"change_id": "c-1", "subject": "members",
                               "description": "户内人员变动", "occurred_on": date(2026, 4, 1)}
    return ReportedChange.of({**base, **parts})


def test_a_reported_change_uncounts_who_left_adds_who_joined_and_replaces_named_incomes(
        ) -> None:
    before = Household.of(household())
    reported = change(
        members_left=[{"fingerprint": BOY, "reason": "moved_out"}],
        members_joined=[GRANDPA.to_stored(), before.members[0].to_stored()],  # one known
        incomes=[{"member_fingerprint": MOTHER, "kind": "wage", "amount": Decimal(4800),
                  "months": 6}])
    after = apply_reported_change(before, reported)
    assert [(m.name, m.counted) for m in after.members] == [
        ("黎阿婆", True), ("符阿妹", True), ("黎小明", False), ("黎阿公", True)]
    assert [(i.member_fingerprint, i.kind, i.amount) for i in after.incomes] == [
        (GRANNY, "basic_resident_pension", Decimal(1080)), (BOY, "scholarship", Decimal(500)),
        (MOTHER, "wage", Decimal(4800))]
    assert after.assets == before.assets  # not an assets change
    assert before == Household.of(household())  # values: the household before is unchanged
    assets = apply_reported_change(before, change(subject="assets", assets=[]))
    assert assets.assets == ()


def test_findings_replace_what_they_name_and_keep_the_rest() -> None:
    before = Household.of(household())
    after = apply_findings(before, Findings(
        members=(MemberFinding(member_fingerprint=MOTHER, serious_illness=True,
                               finding="患慢性病"),),
        assets=(Asset(kind="deposit", value=Decimal(20000)),), irregular_income=True))
    mother = after.members[1]
    assert (mother.serious_illness, mother.work_capacity, mother.finding) == (
        True, "partial", "患慢性病")
    assert after.incomes == before.incomes and after.irregular_income is True
    assert after.assets == (Asset(kind="deposit", value=Decimal(20000), exempt=False),)
    assert "finding" not in after.members[0].to_stored()  # stored only when there is one
    assert after.members[1].to_stored()["finding"] == "患慢性病"


def test_stored_forms_keep_their_keys() -> None:
    # A member stored before student and the disability kind were recorded still reads.
    old = {"fingerprint": "fp-1", "name": "王阿妹", "relation": "self",
           "birth_date": date(1990, 1, 1), "disability_grade": None, "serious_illness": False,
           "work_capacity": "full", "counted": True}
    member = Member.of(old)
    assert (member.student, member.disability_kind, member.counted) == (False, None, True)
    assert Income.of({"member_fingerprint": "fp-1", "kind": "wage", "amount": "3000",
                      "months": 6}).monthly == Decimal(500)
    # already_members is stored only when a report named any, as the release stored it.
    assert "already_members" not in change().to_stored()
    named = change(already_members=["fp-9"], members_left=[MemberLeft("fp-1", "died")
                                                            .to_stored()])
    assert ReportedChange.of(named.to_stored()) == named
    assert named.to_stored()["already_members"] == ["fp-9"]
