"""Worked numbers for every computation review makes (pure: no store, no bus).

Test terms (tests/review/helpers.py): rural standard 650, urban 700, add-ons 10% elderly,
10% minor, 20% severe disability, 15% serious illness, whole-yuan half-up rounding.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.review.domain import (
    PolicyTable,
    PolicyTerms,
    compute,
    compute_dibao,
    compute_dibao_edge,
    compute_linshi,
    compute_tekun,
    next_month,
    sample_size,
    self_care_tier,
    split_instalments,
)
from services.review.values import Household, OpinionInputs
from shared.clock import MonthlyRhythm
from shared.contracts import Actor
from shared.errors import RuleViolation
from tests.support.review import ALL_ACHIEVED, TERMS, household, terms

pytestmark = pytest.mark.fast

ON = date(2025, 3, 10)
BUREAU = Actor(user_id="bureau-1", role="county_bureau")


# The computations take the typed household and give the typed breakdown; the worked numbers
# below read the breakdown as a decision records it (its stored form, amounts as text).
def dibao(h: dict[str, Any], t: PolicyTerms, on: date) -> dict[str, Any]:
    return compute_dibao(Household.of(h), t, on).to_stored()


def tekun(h: dict[str, Any], t: PolicyTerms, on: date, self_care: dict[str, bool],
          care_mode: str) -> dict[str, Any]:
    return compute_tekun(Household.of(h), t, on, self_care, care_mode).to_stored()


def dibao_edge(h: dict[str, Any], t: PolicyTerms, on: date) -> dict[str, Any]:
    return compute_dibao_edge(Household.of(h), t, on).to_stored()


def linshi(h: dict[str, Any], t: PolicyTerms, on: date, band: str, instalments: int,
           linshi_type: str | None) -> dict[str, Any]:
    return compute_linshi(Household.of(h), t, on, band, instalments, linshi_type).to_stored()


def recompute(kind: str, inputs: dict[str, Any], t: PolicyTerms) -> dict[str, Any]:
    return compute(kind, OpinionInputs.of(inputs), t).to_stored()


# --- 低保 补差 --------------------------------------------------------------------------------


def test_dibao_gap_times_members_plus_addons_rural() -> None:
    b = dibao(household(), terms(), ON)
    # Counted income: wages 3,000 / 6 months = 500 a month; pension and scholarship excluded.
    assert b["income_over_period"] == "3000.00"
    assert b["excluded_income_over_period"] == "1330.00"  # 1,080 + 500/12×6
    assert b["per_capita_income"] == "166.67"  # 500 / 3
    assert b["standard"] == "650" and b["standard_kind"] == "rural"
    assert b["gap_total"] == "1450.00"  # 650 × 3 − 500 = (650 − 166.67) × 3 exactly
    # 黎阿婆 68 → elderly 10% of 650; 黎小明 10 → minor 10%.
    assert [(a["member"], a["category"], Decimal(a["amount"])) for a in b["addons"]] == [
        ("黎阿婆", "elderly", Decimal(65)), ("黎小明", "minor", Decimal(65))]
    assert b["addons_total"] == "130.00"
    assert b["monthly_amount"] == "1580"
    assert b["eligible"] is True


def test_dibao_urban_standard() -> None:
    b = dibao(household(urban=True), terms(), ON)
    assert b["standard_kind"] == "urban"
    assert b["monthly_amount"] == "1740"  # 700 × 3 − 500 + 70 + 70


@pytest.mark.parametrize(("quantum", "mode", "expected"), [
    ("1", "half_up", "1580"), ("0.1", "half_up", "1579.8"), ("1", "down", "1579"),
    ("1", "up", "1580"), ("0.01", "half_up", "1579.83")])
def test_dibao_rounding_follows_policy(quantum: str, mode: str, expected: str) -> None:
    h = household()
    h["incomes"][0]["amount"] = "3001"  # 500.1666… a month
    b = dibao(h, terms(rounding_quantum=quantum, rounding_mode=mode), ON)
    assert b["unrounded"] == "1579.83"  # 1,950 − 500.1666… + 130
    assert b["monthly_amount"] == expected


def test_only_the_highest_addon_applies_per_member() -> None:
    h = household()
    h["members"][0]["disability_grade"] = 1  # severe disability 20% beats elderly 10%
    b = dibao(h, terms(), ON)
    assert [a["category"] for a in b["addons"]] == ["severe_disability", "minor"]
    assert b["monthly_amount"] == "1645"  # 1,450 + 130 + 65


def test_a_member_found_not_to_live_in_the_household_is_not_counted() -> None:
    h = household()
    h["members"][1]["counted"] = False  # her wages go with her
    b = dibao(h, terms(), ON)
    assert b["members_counted"] == 2 and b["per_capita_income"] == "0.00"
    assert b["monthly_amount"] == "1430"  # 650 × 2 + 65 + 65


def test_income_at_or_above_the_standard_is_not_eligible() -> None:
    h = household()
    h["incomes"][0]["amount"] = "11700"  # 1,950 a month = 650 per capita
    b = dibao(h, terms(), ON)
    assert b["eligible"] is False and b["monthly_amount"] == "0"
    assert "not below the standard 650" in b["ineligible_reasons"][0]


def test_assets_over_the_limits_are_not_eligible() -> None:
    h = household()
    h["assets"] = [{"kind": "deposit", "value": "46801", "exempt": False},  # 650×24×3 = 46,800
                   {"kind": "vehicle", "value": "30000", "exempt": False},
                   {"kind": "vehicle", "value": "5000", "exempt": True}]  # a work tricycle
    b = dibao(h, terms(), ON)
    assert b["eligible"] is False
    assert len(b["ineligible_reasons"]) == 2
    h["assets"] = [{"kind": "deposit", "value": "46800", "exempt": False},
                   {"kind": "vehicle", "value": "5000", "exempt": True}]
    assert dibao(h, terms(), ON)["eligible"] is True


@given(st.integers(min_value=0, max_value=20000), st.integers(min_value=0, max_value=20000))
def test_more_income_never_means_more_dibao(a: int, b: int) -> None:
    def amount(wages: int) -> Decimal:
        h = household()
        h["incomes"][0]["amount"] = str(wages)
        return Decimal(dibao(h, terms(), ON)["monthly_amount"])
    low, high = sorted((a, b))
    assert amount(low) >= amount(high) >= 0


# --- 特困 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("not_achieved", "tier", "amount"), [
    (0, "self_caring", "945"),  # 650 × 1.3 = 845, + 100
    (1, "partial", "1245"), (3, "partial", "1245"),  # + 400
    (4, "total", "1845"), (6, "total", "1845"),  # + 1,000
])
def test_tekun_tiers(not_achieved: int, tier: str, amount: str) -> None:
    assessment = dict(ALL_ACHIEVED)
    for activity in list(assessment)[:not_achieved]:
        assessment[activity] = False
    assert self_care_tier(assessment)[0].value == tier
    b = tekun(household(), terms(), ON, assessment, "dispersed")
    assert b["basic_living"] == "845.00" and b["self_care_tier"] == tier
    assert b["monthly_amount"] == amount and b["care_mode"] == "dispersed"


def test_tekun_urban_and_centralized() -> None:
    b = tekun(household(urban=True), terms(), ON,
                      {**ALL_ACHIEVED, "eating": False, "dressing": False, "bathing": False,
                       "toileting": False}, "centralized")
    assert b["monthly_amount"] == "1910"  # 700 × 1.3 + 1,000


def test_tekun_assessment_must_cover_six_activities() -> None:
    with pytest.raises(RuleViolation) as e:
        self_care_tier({"eating": True})
    assert e.value.code == "review.self_care_incomplete"
    with pytest.raises(RuleViolation) as e:
        tekun(household(), terms(), ON, ALL_ACHIEVED, "at_home")
    assert e.value.code == "review.care_mode"


# --- 低保边缘 ---------------------------------------------------------------------------------


def test_dibao_edge_below_one_and_a_half_standards() -> None:
    h = household()
    h["incomes"][0]["amount"] = "12000"  # 2,000 a month: 666.67 per capita
    b = dibao_edge(h, terms(), ON)
    assert b["threshold"] == "975.00" and b["per_capita_income"] == "666.67"
    assert b["eligible"] is True and b["below_dibao_standard"] is False
    assert b["validity_months"] == 12
    h["incomes"][0]["amount"] = "17550"  # 2,925 a month: exactly 975 per capita
    assert dibao_edge(h, terms(), ON)["eligible"] is False


# --- 临时救助 ---------------------------------------------------------------------------------


def test_linshi_band_within_the_township_ceiling() -> None:
    b = linshi(household(), terms(), ON, "serious", 1, "emergency")
    assert b["monthly_amount"] == "3900"  # 650 × 3 persons × 2 months
    assert b["township_ceiling"] == "5850"  # 650 × 3 × 3
    assert b["county_approval_required"] is False
    assert b["instalments"] == ["3900"]


def test_linshi_above_the_ceiling_goes_to_the_county() -> None:
    b = linshi(household(), terms(), ON, "major", 1, "emergency")
    assert b["monthly_amount"] == "11700" and b["county_approval_required"] is True
    # At the ceiling exactly is still the township's.
    b = linshi(household(), terms(), ON, "severe", 1, "emergency")
    assert b["monthly_amount"] == "5850" and b["county_approval_required"] is False


def test_linshi_instalments_put_the_remainder_last() -> None:
    h = household()
    h["members"][2]["counted"] = False
    b = linshi(h, terms(), ON, "general", 3, "emergency")
    assert b["monthly_amount"] == "1300"  # 650 × 2 × 1
    assert b["instalments"] == ["433", "433", "434"]
    assert split_instalments(Decimal("1000.00"), 6, terms(rounding_quantum="0.01")) == [
        Decimal("166.66")] * 5 + [Decimal("166.70")]
    with pytest.raises(RuleViolation) as e:
        split_instalments(Decimal(1300), 7, terms())
    assert e.value.code == "review.instalments"


def test_linshi_expenditure_type_checks_income() -> None:
    h = household()
    h["incomes"][0]["amount"] = "45000"  # 7,500 a month: 2,500 per capita, not below
    b = linshi(h, terms(), ON, "general", 1, "expenditure")
    assert b["eligible"] is False
    assert linshi(h, terms(), ON, "general", 1, "emergency")["eligible"] is True


# --- policy versions and recomputation ----------------------------------------------------


def test_recomputing_a_past_decision_with_its_policy_version_gives_the_same_number() -> None:
    table = PolicyTable(region="469028", actor=BUREAU.stored())
    v1 = table.publish(date(2015, 1, 1), terms(dibao_standard_rural="280",
                                                dibao_standard_urban="420"),
                       "2015 standards", date(2015, 1, 1), BUREAU)
    version, in_force = table.in_force(date(2020, 6, 1))
    assert version == v1 == 1
    inputs = {"household": household(), "on": date(2020, 6, 1)}
    first = recompute("dibao", inputs, in_force)
    assert first["monthly_amount"] == "396"  # 280 × 3 − 500 + 28 + 28

    v2 = table.publish(date(2024, 1, 1), terms(), "new standards", date(2023, 12, 1), BUREAU)
    assert table.in_force(date(2024, 1, 1))[0] == v2 == 2
    assert table.in_force(date(2023, 12, 31))[0] == 1
    again = recompute("dibao", inputs, table.terms(version))
    assert again == first
    assert recompute("dibao", inputs, table.terms(2))["monthly_amount"] == "1580"


def test_a_policy_version_cannot_take_effect_in_the_past() -> None:
    table = PolicyTable(region="469028", actor=BUREAU.stored())
    table.publish(date(2015, 1, 1), terms(), "seed", date(2025, 1, 1), BUREAU)
    with pytest.raises(RuleViolation) as e:
        table.publish(date(2024, 12, 31), terms(), "late", date(2025, 1, 1), BUREAU)
    assert e.value.code == "review.policy_retroactive"
    with pytest.raises(RuleViolation) as e:
        table.in_force(date(2014, 12, 31))
    assert e.value.code == "review.no_policy_in_force"


@pytest.mark.parametrize(("override", "field"), [
    ({"spot_check_percent": {**TERMS["spot_check_percent"], "tekun": "29"}},
     "terms.spot_check_percent"),
    ({"assessment_months": 9}, "terms.assessment_months"),
    ({"phase_out_max_months": 7}, "terms.phase_out_max_months"),
    ({"min_investigators": 1}, "terms.min_investigators"),
])
def test_policy_terms_the_county_cannot_set_aside(override: dict[str, object],
                                                  field: str) -> None:
    with pytest.raises(RuleViolation) as e:
        terms(**override)
    assert e.value.code == "review.policy_invalid" and e.value.field == field


# --- months -------------------------------------------------------------------------------


def test_roster_cut_off_on_the_15th() -> None:
    assert MonthlyRhythm(cutoff_day=15).first_payable_month(date(2025, 3, 15)) == "2025-03"
    assert MonthlyRhythm(cutoff_day=15).first_payable_month(date(2025, 3, 16)) == "2025-04"
    assert MonthlyRhythm(cutoff_day=15).first_payable_month(date(2025, 12, 20)) == "2026-01"
    # 31 means month end
    assert MonthlyRhythm(cutoff_day=31).first_payable_month(date(2025, 2, 28)) == "2025-02"
    assert next_month(date(2025, 12, 31)) == "2026-01"


def test_spot_check_sample_size() -> None:
    assert sample_size(10, Decimal(30)) == 3
    assert sample_size(11, Decimal(30)) == 4  # at least 30%: round up
    assert sample_size(1, Decimal(10)) == 1
    assert sample_size(0, Decimal(30)) == 0

