"""Review's domain: the policy table, the review case, the entitlement and the spot check.

Pure: no I/O, no framework. Working-day deadlines arrive already computed (the calendar is
data the application layer holds); policy terms arrive as values. Rules raise
RuleViolation("review.<rule>", message, field) with stable codes. The shapes that cross it
(household, findings, opinion, breakdown, ...) are the typed values of values.py; events hold
their plain forms, as they always did.

Money is Decimal throughout. Amount arithmetic is exact until the one rounding step that the
policy names, so recomputing a past decision with the policy version it recorded gives the
same number to the fen.
"""

from __future__ import annotations

import calendar as _stdlib_calendar
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.review.values import (
    Addon,
    Assessment,
    Breakdown,
    DibaoBreakdown,
    DibaoEdgeBreakdown,
    Findings,
    HomeVisit,
    Household,
    Interview,
    Investigator,
    LinshiAssessment,
    LinshiBreakdown,
    Member,
    Opinion,
    OpinionInputs,
    PanelMember,
    ReportedChange,
    SampledCase,
    Stored,
    TekunAssessment,
    TekunBreakdown,
    VerificationReport,
)
from shared.bankcards import account_problem, digits_of
from shared.calendar import Deadline
from shared.clock import MonthlyRhythm, RhythmSchedule, add_months, month_of, month_parts
from shared.contracts import Actor, StoredActor
from shared.contracts.common import AssistanceKind, LinshiType
from shared.errors import RuleViolation
from shared.pii import age_on

CENT = Decimal("0.01")


# Income kinds not counted (DOMAIN.md "Income not counted"); the same list as intake's
# EXCLUDED_INCOME, kept as plain strings so the domain does not depend on a schema module.
EXCLUDED_INCOME_KINDS = frozenset({
    "preferential_care", "family_planning_award", "scholarship", "heroism_award",
    "social_assistance", "basic_resident_pension",
})
FINANCIAL_ASSETS = frozenset({"deposit", "securities", "insurance"})

# The six activities of the 特困 self-care assessment (生活自理能力评估).
SELF_CARE_ACTIVITIES = ("eating", "dressing", "bed_transfer", "toileting", "indoor_walking",
                        "bathing")


# ============================================================================================
# Policy table (政策标准): effective-dated, versioned, maintained by the county bureau
# ============================================================================================


class SelfCareTier(StrEnum):
    """Result of the six-activity assessment."""

    SELF_CARING = "self_caring"  # 具备生活自理能力: 0 activities not achieved
    PARTIAL = "partial"  # 部分丧失: 1–3
    TOTAL = "total"  # 完全丧失: 4–6


class CareMode(StrEnum):
    DISPERSED = "dispersed"  # 分散供养, at home
    CENTRALIZED = "centralized"  # 集中供养, in an institution


_ROUNDING = {"half_up": ROUND_HALF_UP, "up": ROUND_CEILING, "down": ROUND_FLOOR}


@dataclass(frozen=True)
class PolicyTerms:
    """Every number DOMAIN.md marks "setting", as one effective-dated version.

    Amounts are yuan per month; percentages are of the 低保 standard per person.
    """

    illustrative: bool  # demo figures, not the county's published standard
    label: str
    dibao_standard_urban: Decimal
    dibao_standard_rural: Decimal
    assessment_months: int  # 6 or 12: the period income is averaged over
    rounding_quantum: Decimal  # 1 = whole yuan, 0.1 = jiao, 0.01 = fen
    rounding_mode: str  # half_up | up | down
    addon_percent: dict[str, Decimal]  # elderly, minor, severe_disability, serious_illness
    addon_elderly_age: int
    addon_minor_age: int  # under this age
    severe_disability_max_grade: int  # grades 1..this are "severe"
    financial_asset_limit_months: int  # deposits+securities+insurance ≤ standard×this×members
    vehicle_allowed: bool
    extra_housing_allowed: bool
    tekun_basic_multiple: Decimal  # basic living standard = this × the 低保 standard
    tekun_care_standard: dict[str, Decimal]  # by SelfCareTier
    dibao_edge_multiple: Decimal  # per-capita income below this × the standard
    dibao_edge_validity_months: int
    linshi_bands: dict[str, Decimal]  # severity → months of the standard per person
    linshi_township_ceiling_multiple: Decimal  # × standard × household size
    linshi_max_instalments: int
    linshi_expenditure_income_limit: Decimal  # prior-year local per-capita monthly income
    linshi_advance_completion_working_days: int  # 先行救助: complete the record within
    investigation_start_working_days: int
    decision_working_days: dict[str, int]  # by AssistanceKind
    decision_extended_working_days: int
    tekun_confirmation_working_days: int
    rejection_notice_working_days: int
    recheck_months_stable: int
    recheck_months_irregular: int
    recheck_months_tekun: int
    phase_out_max_months: int
    roster_cutoff_day: int  # the monthly rhythm (shared.clock.MonthlyRhythm) is policy too
    reconcile_by_day: int
    file_by_day: int
    spot_check_percent: dict[str, Decimal]  # by AssistanceKind
    joint_review_quorum: int  # members present and not recused
    investigator_must_recuse: bool
    min_investigators: int
    tekun_elderly_age: int  # 特困 by age: this old or older, or younger than the minor age
    tekun_minor_age: int
    tekun_student_minor_age: int  # a student still counts as a minor below this age
    working_age_min: int
    working_age_max: int

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PolicyTerms:
        # Terms added after tables were published: an older table meant the plan's value.
        data = {**TERMS_ADDED_LATER, **data}
        names = {f.name for f in fields(cls)}
        missing = sorted(names - set(data))
        if missing:
            raise RuleViolation("review.policy_incomplete",
                                f"policy terms lack {', '.join(missing)}",
                                field=f"terms.{missing[0]}")
        unknown = sorted(set(data) - names)
        if unknown:
            raise RuleViolation("review.policy_unknown_term", f"unknown term {unknown[0]}",
                                field=f"terms.{unknown[0]}")
        values: dict[str, Any] = {}
        for f in fields(cls):
            v = data[f.name]
            if f.type == "Decimal":
                v = Decimal(str(v))
            elif f.type.startswith("dict[str, Decimal]"):
                v = {k: Decimal(str(x)) for k, x in v.items()}
            elif f.type.startswith("dict[str, int]"):
                v = {k: int(x) for k, x in v.items()}
            values[f.name] = v
        terms = cls(**values)
        terms.check()
        return terms

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def check(self) -> None:
        """Consistency rules a county cannot set aside."""
        def bad(name: str, message: str) -> RuleViolation:
            return RuleViolation("review.policy_invalid", message, field=f"terms.{name}")

        for name in ("dibao_standard_urban", "dibao_standard_rural"):
            if getattr(self, name) <= 0:
                raise bad(name, "a 低保 standard must be positive")
        if self.assessment_months not in (6, 12):
            raise bad("assessment_months", "the assessment period is 6 or 12 months")
        if self.rounding_mode not in _ROUNDING:
            raise bad("rounding_mode", f"rounding mode is one of {sorted(_ROUNDING)}")
        if self.rounding_quantum not in (Decimal("1"), Decimal("0.1"), Decimal("0.01")):
            raise bad("rounding_quantum", "round to 1, 0.1 or 0.01 yuan")
        for cat in ("elderly", "minor", "severe_disability", "serious_illness"):
            if cat not in self.addon_percent or not 0 <= self.addon_percent[cat] <= 100:
                raise bad("addon_percent", f"add-on {cat} must be a percentage 0-100")
        for tier in SelfCareTier:
            if tier.value not in self.tekun_care_standard:
                raise bad("tekun_care_standard", f"care standard for {tier.value} missing")
        if self.tekun_basic_multiple < 1:
            raise bad("tekun_basic_multiple", "the 特困 basic standard is at least the 低保 one")
        if self.dibao_edge_multiple <= 1:
            raise bad("dibao_edge_multiple", "the 低保边缘 multiple must exceed 1")
        if not self.linshi_bands or any(m <= 0 for m in self.linshi_bands.values()):
            raise bad("linshi_bands", "临时救助 bands must be positive")
        if self.linshi_max_instalments < 1:
            raise bad("linshi_max_instalments", "at least one instalment")
        for kind in AssistanceKind:
            if self.decision_working_days.get(kind.value, 0) < 1:
                raise bad("decision_working_days", f"a time limit for {kind.value} is needed")
            if kind.value not in self.spot_check_percent:
                raise bad("spot_check_percent", f"a spot-check rate for {kind.value} is needed")
        if self.spot_check_percent[AssistanceKind.TEKUN.value] < 30:
            raise bad("spot_check_percent", "特困 spot checks cover at least 30% of cases")
        if any(not 0 <= p <= 100 for p in self.spot_check_percent.values()):
            raise bad("spot_check_percent", "spot-check rates are percentages")
        if not 1 <= self.phase_out_max_months <= 6:
            raise bad("phase_out_max_months", "渐退 lasts at most 6 months")
        if not 1 <= self.roster_cutoff_day <= 31:
            raise bad("roster_cutoff_day", "the cut-off is a day of the month")
        for name in ("reconcile_by_day", "file_by_day"):
            if not self.roster_cutoff_day <= getattr(self, name) <= 31:
                raise bad(name, "a day of the month, on or after the roster cut-off")
        if self.min_investigators < 2:
            raise bad("min_investigators", "a home visit needs at least 2 investigators")
        if not (0 < self.tekun_minor_age <= self.tekun_student_minor_age
                < self.tekun_elderly_age <= 120):
            raise bad("tekun_elderly_age", "特困 ages: 0 < minor age <= a student's minor age "
                      "< elderly age <= 120")
        if self.joint_review_quorum < 1:
            raise bad("joint_review_quorum", "the quorum is at least one member")

    # --- derived values -------------------------------------------------------------------

    def rhythm(self) -> MonthlyRhythm:
        return MonthlyRhythm.from_terms(self.to_dict())

    def standard(self, urban: bool) -> Decimal:
        return self.dibao_standard_urban if urban else self.dibao_standard_rural

    def round(self, amount: Decimal) -> Decimal:
        return amount.quantize(self.rounding_quantum, rounding=_ROUNDING[self.rounding_mode])


# Terms a version published before they existed takes at the values the rules then had.
TERMS_ADDED_LATER: dict[str, Any] = {"reconcile_by_day": MonthlyRhythm().reconcile_by_day,
                                     "file_by_day": MonthlyRhythm().file_by_day,
                                     "tekun_elderly_age": 60, "tekun_minor_age": 18,
                                     "tekun_student_minor_age": 18}


def policy_table_id(region: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"lingshui:review-policy-table:{region}")


class PolicyTable(Aggregate):
    """政策标准表: the county bureau's versioned, effective-dated settings.

    A version never changes once published; a correction is a new version. A version may
    not take effect before the day it is published (except the first), so the policy "in
    force" on any past day never changes after the fact.
    """

    @staticmethod
    def create_id(region: str, **_: Any) -> UUID:
        return policy_table_id(region)

    @classmethod
    def for_region(cls, region: str, actor: Actor) -> PolicyTable:
        return cls(region=region, actor=actor.stored())

    @event("Created")
    def __init__(self, region: str, actor: StoredActor) -> None:
        self.region = region
        self.versions: list[Stored] = []

    def publish(self, effective_from: date, terms: PolicyTerms, reason: str, today: date,
                actor: Actor) -> int:
        if not reason.strip():
            raise RuleViolation("review.reason_required", "say why the policy changes",
                                field="reason")
        if self.versions and effective_from < today:
            raise RuleViolation("review.policy_retroactive",
                                "a new version cannot take effect before today; decisions "
                                "already made keep the version they used",
                                field="effective_from")
        number = len(self.versions) + 1
        self._published(policy_version=number, effective_from=effective_from,
                        terms=terms.to_dict(), reason=reason, actor=actor.stored())
        return number

    @event("Published")
    def _published(self, policy_version: int, effective_from: date, terms: Stored,
                   reason: str, actor: StoredActor) -> None:
        self.versions.append({"policy_version": policy_version, "effective_from": effective_from,
                              "terms": terms, "reason": reason})

    def terms(self, policy_version: int) -> PolicyTerms:
        if not 1 <= policy_version <= len(self.versions):
            raise RuleViolation("review.policy_version_unknown",
                                f"no policy version {policy_version}", field="policy_version")
        return PolicyTerms.from_dict(self.versions[policy_version - 1]["terms"])

    def in_force(self, on: date) -> tuple[int, PolicyTerms]:
        """The version in force on `on`: the latest effective date, then the latest version."""
        candidates = [v for v in self.versions if v["effective_from"] <= on]
        if not candidates:
            raise RuleViolation("review.no_policy_in_force",
                                f"no policy version is in force on {on}", field="policy")
        chosen = max(candidates, key=lambda v: (v["effective_from"], v["policy_version"]))
        return chosen["policy_version"], PolicyTerms.from_dict(chosen["terms"])

    def rhythms(self) -> RhythmSchedule:
        """The monthly rhythm by month, by the one rule every service applies."""
        return RhythmSchedule.from_policy(self.versions)


# ============================================================================================
# Computations (pure functions of a household snapshot, the terms and a date)
# ============================================================================================


@dataclass(frozen=True)
class _IncomeTest:
    assessment_months: int
    members_counted: int
    income_over_period: Decimal
    excluded_income_over_period: Decimal
    household_monthly_income: Decimal
    per_capita_income: Decimal


def _income(household: Household, terms: PolicyTerms) -> _IncomeTest:
    members = household.counted_members
    if not members:
        raise RuleViolation("review.no_counted_members", "no member is counted in the household",
                            field="members")
    in_household = {m.fingerprint for m in members}
    counted = Decimal(0)
    excluded = Decimal(0)
    for item in household.incomes:
        if item.member_fingerprint not in in_household:
            continue  # a member found not to belong to the household
        if item.kind in EXCLUDED_INCOME_KINDS:
            excluded += item.monthly
        else:
            counted += item.monthly
    period = terms.assessment_months
    return _IncomeTest(
        assessment_months=period, members_counted=len(members),
        income_over_period=(counted * period).quantize(CENT),
        excluded_income_over_period=(excluded * period).quantize(CENT),
        household_monthly_income=counted, per_capita_income=counted / len(members))


def assets_within_limits(household: Household, terms: PolicyTerms,
                         standard: Decimal, members: int) -> tuple[bool, list[str]]:
    problems: list[str] = []
    taxable = [a for a in household.assets if not a.exempt]
    financial = sum((a.value for a in taxable if a.kind in FINANCIAL_ASSETS), Decimal(0))
    limit = standard * terms.financial_asset_limit_months * members
    if financial > limit:
        problems.append(f"financial assets {financial} exceed the limit {limit}")
    if not terms.vehicle_allowed and any(a.kind == "vehicle" for a in taxable):
        problems.append("a vehicle not needed to live or work")
    if not terms.extra_housing_allowed and any(
            a.kind == "housing_beyond_first" for a in taxable):
        problems.append("housing beyond the first home")
    return not problems, problems


def addon_category(member: Member, terms: PolicyTerms, on: date) -> str | None:
    """分类施保: the one category (the highest percentage) that applies to a member."""
    cats = []
    age = age_on(member.birth_date, on)
    if age >= terms.addon_elderly_age:
        cats.append("elderly")
    if age < terms.addon_minor_age:
        cats.append("minor")
    grade = member.disability_grade
    if grade is not None and grade <= terms.severe_disability_max_grade:
        cats.append("severe_disability")
    if member.serious_illness:
        cats.append("serious_illness")
    if not cats:
        return None
    # Equal percentages: the order above decides, so the result is stable.
    return max(cats, key=lambda c: (terms.addon_percent[c], -cats.index(c)))


def _standard_kind(household: Household) -> str:
    return "urban" if household.urban else "rural"


def compute_dibao(household: Household, terms: PolicyTerms, on: date) -> DibaoBreakdown:
    """低保 补差: (standard − per-capita income) × members + add-ons, rounded per policy.

    The gap is computed exactly as standard × members − household monthly income (the same
    number as the per-capita form, without an intermediate rounding); the per-capita income
    is shown to the fen.
    """
    standard = terms.standard(household.urban)
    inc = _income(household, terms)
    n = inc.members_counted
    gap_total = standard * n - inc.household_monthly_income
    addons = []
    for m in household.counted_members:
        cat = addon_category(m, terms, on)
        if cat is not None and terms.addon_percent[cat] > 0:
            addons.append(Addon(member=m.name, category=cat, percent=terms.addon_percent[cat],
                                amount=standard * terms.addon_percent[cat] / 100))
    addons_total = sum((a.amount for a in addons), Decimal(0))
    assets_ok, asset_problems = assets_within_limits(household, terms, standard, n)
    income_ok = inc.per_capita_income < standard
    eligible = income_ok and assets_ok
    unrounded = gap_total + addons_total if eligible else Decimal(0)
    amount = terms.round(unrounded) if eligible else Decimal(0)
    reasons = ([] if income_ok else [
        f"per-capita income {inc.per_capita_income.quantize(CENT)} is not below the "
        f"standard {standard}"]) + asset_problems
    return DibaoBreakdown(
        kind=AssistanceKind.DIBAO.value, standard_kind=_standard_kind(household),
        standard=standard, assessment_months=inc.assessment_months,
        income_over_period=inc.income_over_period,
        excluded_income_over_period=inc.excluded_income_over_period,
        members_counted=n, per_capita_income=inc.per_capita_income.quantize(CENT),
        gap_per_capita=(standard - inc.per_capita_income).quantize(CENT),
        gap_total=gap_total.quantize(CENT), addons=tuple(addons),
        addons_total=addons_total.quantize(CENT), unrounded=unrounded.quantize(CENT),
        rounding=f"{terms.rounding_mode} to {terms.rounding_quantum}", eligible=eligible,
        ineligible_reasons=tuple(reasons), monthly_amount=amount)


def self_care_tier(assessment: Mapping[str, bool]) -> tuple[SelfCareTier, int]:
    """Six activities, each achieved or not: 0 not achieved → self-caring, 1–3 partial,
    4–6 total loss."""
    missing = [a for a in SELF_CARE_ACTIVITIES if a not in assessment]
    if missing:
        raise RuleViolation("review.self_care_incomplete",
                            f"assess all six activities; missing {', '.join(missing)}",
                            field=f"self_care.{missing[0]}")
    not_achieved = sum(1 for a in SELF_CARE_ACTIVITIES if not assessment[a])
    if not_achieved == 0:
        return SelfCareTier.SELF_CARING, 0
    return (SelfCareTier.PARTIAL if not_achieved <= 3 else SelfCareTier.TOTAL), not_achieved


def compute_tekun(household: Household, terms: PolicyTerms, on: date,
                  self_care: Mapping[str, bool], care_mode: str | None) -> TekunBreakdown:
    """特困 support = basic living standard (multiple × 低保 standard) + care by tier."""
    tier, not_achieved = self_care_tier(self_care)
    if care_mode not in {c.value for c in CareMode}:
        raise RuleViolation("review.care_mode", "care mode is dispersed or centralized",
                            field="care_mode")
    assert care_mode is not None
    standard = terms.standard(household.urban)
    basic = standard * terms.tekun_basic_multiple
    care = terms.tekun_care_standard[tier.value]
    unrounded = basic + care
    return TekunBreakdown(
        kind=AssistanceKind.TEKUN.value, standard_kind=_standard_kind(household),
        standard=standard, basic_multiple=terms.tekun_basic_multiple,
        basic_living=basic.quantize(CENT), activities_not_achieved=not_achieved,
        self_care_tier=tier.value, care_standard=care, care_mode=care_mode,
        unrounded=unrounded.quantize(CENT),
        rounding=f"{terms.rounding_mode} to {terms.rounding_quantum}", eligible=True,
        ineligible_reasons=(), monthly_amount=terms.round(unrounded))


def tekun_category(member: Member, terms: PolicyTerms, on: date) -> str | None:
    """Who may be 特困: the elderly, minors (under 16, a student under 18), or the severely
    disabled; the ages are policy terms."""
    age = age_on(member.birth_date, on)
    if age >= terms.tekun_elderly_age:
        return "elderly"
    if age < terms.tekun_minor_age or (member.student and age < terms.tekun_student_minor_age):
        return "minor"
    grade = member.disability_grade
    if grade is not None and grade <= terms.severe_disability_max_grade:
        return "severe_disability"
    return None


def compute_dibao_edge(household: Household, terms: PolicyTerms,
                       on: date) -> DibaoEdgeBreakdown:
    """低保边缘: per-capita income below multiple × standard, assets within limits."""
    standard = terms.standard(household.urban)
    inc = _income(household, terms)
    threshold = standard * terms.dibao_edge_multiple
    assets_ok, asset_problems = assets_within_limits(household, terms, standard,
                                                     inc.members_counted)
    income_ok = inc.per_capita_income < threshold
    reasons = ([] if income_ok else [
        f"per-capita income {inc.per_capita_income.quantize(CENT)} is not below "
        f"{threshold.quantize(CENT)}"]) + asset_problems
    return DibaoEdgeBreakdown(
        kind=AssistanceKind.DIBAO_EDGE.value, standard_kind=_standard_kind(household),
        standard=standard, multiple=terms.dibao_edge_multiple,
        threshold=threshold.quantize(CENT), assessment_months=inc.assessment_months,
        members_counted=inc.members_counted,
        per_capita_income=inc.per_capita_income.quantize(CENT),
        below_dibao_standard=inc.per_capita_income < standard,
        validity_months=terms.dibao_edge_validity_months, eligible=income_ok and assets_ok,
        ineligible_reasons=tuple(reasons), monthly_amount=Decimal("0"))


def split_instalments(amount: Decimal, count: int, terms: PolicyTerms) -> list[Decimal]:
    """Equal parts rounded down to the policy's unit; the remainder goes to the last."""
    if not 1 <= count <= terms.linshi_max_instalments:
        raise RuleViolation("review.instalments",
                            f"pay in 1 to {terms.linshi_max_instalments} instalments",
                            field="instalments")
    part = (amount / count).quantize(terms.rounding_quantum, rounding=ROUND_FLOOR)
    parts = [part] * (count - 1)
    return [*parts, amount - sum(parts, Decimal(0))]


def compute_linshi(household: Household, terms: PolicyTerms, on: date, band: str | None,
                   instalments: int, linshi_type: str | None) -> LinshiBreakdown:
    """临时救助: band months × standard × household size; above the township ceiling the
    county bureau approves; one approval may be paid in instalments."""
    if band not in terms.linshi_bands:
        raise RuleViolation("review.linshi_band",
                            f"band is one of {', '.join(sorted(terms.linshi_bands))}",
                            field="band")
    assert band is not None
    standard = terms.standard(household.urban)
    size = len(household.counted_members)
    if size == 0:
        raise RuleViolation("review.no_counted_members", "no member is counted",
                            field="members")
    months = terms.linshi_bands[band]
    amount = terms.round(standard * size * months)
    ceiling = terms.round(standard * size * terms.linshi_township_ceiling_multiple)
    reasons: list[str] = []
    per_capita = None
    if linshi_type == LinshiType.EXPENDITURE.value:
        # 支出型: full procedure, income in principle below the local average (setting).
        per_capita = _income(household, terms).per_capita_income
        if per_capita >= terms.linshi_expenditure_income_limit:
            reasons.append(f"per-capita income {per_capita.quantize(CENT)} is not below "
                           f"{terms.linshi_expenditure_income_limit}")
    parts = split_instalments(amount, instalments, terms)
    return LinshiBreakdown(
        kind=AssistanceKind.LINSHI.value, linshi_type=linshi_type,
        standard_kind=_standard_kind(household), standard=standard, household_size=size,
        band=band, band_months=months, unrounded=(standard * size * months).quantize(CENT),
        rounding=f"{terms.rounding_mode} to {terms.rounding_quantum}",
        township_ceiling=ceiling, ceiling_multiple=terms.linshi_township_ceiling_multiple,
        county_approval_required=amount > ceiling, instalments=tuple(parts),
        per_capita_income=None if per_capita is None else per_capita.quantize(CENT),
        eligible=not reasons, ineligible_reasons=tuple(reasons), monthly_amount=amount)


def apply_findings(household: Household, findings: Findings) -> Household:
    """The verified household: the filed one with the investigators' findings applied.

    Member findings update the members they name; verified income and asset lists replace
    the filed ones when given (None means the filed figures were confirmed).
    """
    known = {m.fingerprint: i for i, m in enumerate(household.members)}
    members = list(household.members)
    for i, f in enumerate(findings.members):
        if f.member_fingerprint not in known:
            raise RuleViolation("review.unknown_member",
                                "a finding about a member not in the application",
                                field=f"members[{i}].member_fingerprint")
        at = known[f.member_fingerprint]
        found = {key: getattr(f, key) for key in ("counted", "work_capacity",
                                                   "serious_illness", "disability_grade")
                 if getattr(f, key) is not None}
        if f.finding:
            found["finding"] = f.finding
        members[at] = replace(members[at], **found)
    for i, item in enumerate(findings.incomes or ()):
        if item.member_fingerprint not in known:
            raise RuleViolation("review.unknown_member", "income of a member not in the "
                                "application", field=f"incomes[{i}].member_fingerprint")
    return replace(
        household, members=tuple(members),
        incomes=household.incomes if findings.incomes is None else findings.incomes,
        assets=household.assets if findings.assets is None else findings.assets,
        irregular_income=(household.irregular_income if findings.irregular_income is None
                          else bool(findings.irregular_income)))


def apply_reported_change(household: Household, change: ReportedChange) -> Household:
    """A change reported in intake applied to a household: members who left are no longer
    counted, new members join, the named members' incomes and (when reported) the
    household's assets replace the old ones."""
    left = {m.fingerprint for m in change.members_left}
    members = [replace(m, counted=False) if m.fingerprint in left else m
               for m in household.members]
    known = {m.fingerprint for m in members}
    members += [m for m in change.members_joined if m.fingerprint not in known]
    incomes = household.incomes
    if change.incomes:
        named = {i.member_fingerprint for i in change.incomes}
        incomes = tuple(i for i in household.incomes
                        if i.member_fingerprint not in named) + change.incomes
    assets = change.assets if change.subject == "assets" else household.assets
    return replace(household, members=tuple(members), incomes=incomes, assets=assets)


def compute(kind: str, inputs: OpinionInputs, terms: PolicyTerms) -> Breakdown:
    """The amount of one opinion, from the inputs it recorded: replayable."""
    household, on = inputs.household, inputs.on
    if kind == AssistanceKind.DIBAO.value:
        return compute_dibao(household, terms, on)
    if kind == AssistanceKind.TEKUN.value:
        tekun = inputs.tekun or TekunAssessment(self_care={}, care_mode=None)
        return compute_tekun(household, terms, on, tekun.self_care, tekun.care_mode)
    if kind == AssistanceKind.DIBAO_EDGE.value:
        return compute_dibao_edge(household, terms, on)
    linshi = inputs.linshi or LinshiAssessment(band=None, instalments=1, linshi_type=None)
    return compute_linshi(household, terms, on, linshi.band, linshi.instalments,
                          linshi.linshi_type)


# ============================================================================================
# Months (the cut-off rule is shared.clock.MonthlyRhythm)
# ============================================================================================


def add_months_to_date(d: date, n: int) -> date:
    y, m = divmod(d.year * 12 + (d.month - 1) + n, 12)
    last = _stdlib_calendar.monthrange(y, m + 1)[1]
    return date(y, m + 1, min(d.day, last))


def next_month(d: date) -> str:
    """Benefits start on the first day of the month after the decision."""
    return add_months(month_of(d), 1)


# ============================================================================================
# ReviewCase (审核确认)
# ============================================================================================


class CaseStatus(StrEnum):
    OPENED = "opened"
    INVESTIGATING = "investigating"  # a team or a contractor is assigned
    INVESTIGATED = "investigated"  # the home visit of this round is on record
    REVIEWED = "reviewed"  # joint review held
    OPINION_ISSUED = "opinion_issued"  # waiting for publicity (or the rejection notice)
    AWAITING_COUNTY = "awaiting_county"  # 临时救助 above the township ceiling
    IN_PUBLICITY = "in_publicity"
    PUBLICIZED = "publicized"  # notice closed clean: confirmation allowed
    REINVESTIGATING = "reinvestigating"  # objection upheld: a new round
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"  # the applicant withdrew in intake


TERMINAL = frozenset({CaseStatus.CONFIRMED, CaseStatus.REJECTED, CaseStatus.WITHDRAWN})
JOINT_REVIEW_ROLES = frozenset({"leader", "deputy", "discipline", "member"})


def case_id_for(application_id: UUID) -> UUID:
    # One application opens exactly one case: a second "open" is a version conflict.
    return uuid5(NAMESPACE_URL, f"lingshui:review-case:{application_id}")


def entitlement_id_for(case_id: UUID) -> UUID:
    return uuid5(NAMESPACE_URL, f"lingshui:entitlement:{case_id}")


def payment_id_for(case_id: UUID, instalment: int) -> UUID:
    return uuid5(NAMESPACE_URL, f"lingshui:temporary-payment:{case_id}:{instalment}")


def _reasons(reasons: Sequence[str], field: str = "reasons") -> list[str]:
    cleaned = [r.strip() for r in reasons if r.strip()]
    if not cleaned:
        raise RuleViolation("review.reason_required", "give the reasons in writing", field=field)
    return cleaned


class ReviewCase(Aggregate):
    """审核: investigation, verification, joint review, opinion and decision for one
    application."""

    # Never in an audit record (shared.audit): what investigators found in the home and
    # heard from neighbours stays in review; the record says who visited, when, which round.
    AUDIT_WITHHELD = frozenset({"visit", "interview", "household", "inputs", "payee"})

    @staticmethod
    def create_id(application_id: UUID, **_: Any) -> UUID:
        return case_id_for(application_id)

    @classmethod
    def open(cls, application_id: UUID, kind: str, township: str, village: str,
             accepted_on: date, household_size: int, applicant_name: str,
             close_relative_declared: bool, investigation_due: date, decision_due: date,
             deadlines_provisional: bool, actor: Actor, household: Household,
             household_id: str | None, linshi_type: str | None, payee: Stored | None,
             policy_version: int) -> ReviewCase:
        """An accepted application opens its case (the Opened event holds plain data)."""
        return cls(application_id=application_id, kind=kind, township=township,
                   village=village, accepted_on=accepted_on, household_size=household_size,
                   applicant_name=applicant_name,
                   close_relative_declared=close_relative_declared,
                   investigation_due=investigation_due, decision_due=decision_due,
                   deadlines_provisional=deadlines_provisional, actor=actor.stored(),
                   household=household.to_stored(), household_id=household_id,
                   linshi_type=linshi_type, payee=payee, policy_version=policy_version)

    @event("Opened")
    def __init__(self, application_id: UUID, kind: str, township: str, village: str,
                 accepted_on: date, household_size: int, applicant_name: str,
                 close_relative_declared: bool, investigation_due: date, decision_due: date,
                 deadlines_provisional: bool, actor: StoredActor,
                 household: Stored | None = None, household_id: str | None = None,
                 linshi_type: str | None = None, payee: Stored | None = None,
                 policy_version: int | None = None) -> None:
        self.application_id = application_id
        self.kind = kind
        self.township = township
        self.village = village
        self.accepted_on = accepted_on
        self.household_size = household_size
        self.applicant_name = applicant_name
        self.close_relative_declared = close_relative_declared
        self.investigation_due = investigation_due
        self.decision_due = decision_due
        self.deadlines_provisional = deadlines_provisional
        self.status = CaseStatus.OPENED
        # The household as filed; the home visit replaces it with the verified one.
        self.household: Stored = household or {"urban": False, "members": [],
                                                "incomes": [], "assets": []}
        self.household_id = household_id
        self.linshi_type = linshi_type
        self.payee = payee
        self.deadline_policy_version = policy_version
        self.round = 1
        self.investigators: list[Stored] = []
        self.contractor: str | None = None
        self.visit_round = 0
        self.visits: list[Stored] = []
        self.interviews: list[Stored] = []
        self.verification_requested_on: date | None = None
        self.verification: Stored | None = None
        self.joint_review_round = 0
        self.joint_review: Stored | None = None
        self.opinion: Stored | None = None
        self.county_approved = False
        self.decision_extended = False
        self.rejection_due: date | None = None
        self.confirmation_due: date | None = None
        self.publicity_closed_on: date | None = None
        self.decided_on: date | None = None
        self.decision: Stored | None = None
        self.advance: Stored | None = None  # 先行救助
        self.payments: list[Stored] = []  # 临时救助 instalments

    # --- typed views of what the events hold ----------------------------------------------

    @property
    def household_on_record(self) -> Household:
        """As filed; after a home visit, as the investigators found it."""
        return Household.of(self.household)

    @property
    def issued_opinion(self) -> Opinion | None:
        """The latest opinion (of this round or an earlier one), or the 先行救助 grant."""
        return None if self.opinion is None else Opinion.of(self.opinion)

    # --- guards ---------------------------------------------------------------------------

    def _open(self) -> None:
        if self.status in TERMINAL:
            raise RuleViolation("review.case_closed", f"the case is already {self.status}")

    @property
    def advance_record_pending(self) -> bool:
        return self.advance is not None and self.advance["completed_on"] is None

    def _open_for_investigation(self) -> None:
        # After 先行救助 the case is decided, but the record is still being completed.
        if not self.advance_record_pending:
            self._open()

    def check_contractor(self, org: str | None) -> None:
        """A contractor acts only on the cases assigned to its organisation."""
        if org is None or self.contractor is None or self.contractor != org:
            raise RuleViolation("review.contractor_not_assigned",
                                "this case is not assigned to the contractor",
                                field="case_id")

    # --- 1. investigation -----------------------------------------------------------------

    def assign_investigation(self, investigators: Sequence[Investigator],
                             contractor: str | None, terms: PolicyTerms, on: date,
                             actor: Actor) -> None:
        self._open_for_investigation()
        if self.status not in (CaseStatus.OPENED, CaseStatus.INVESTIGATING,
                               CaseStatus.REINVESTIGATING) and not self.advance_record_pending:
            raise RuleViolation("review.investigation_state",
                                f"investigation cannot be assigned when the case is "
                                f"{self.status}")
        if contractor is None and len(investigators) < terms.min_investigators:
            raise RuleViolation("review.investigation_team",
                                f"the township team needs at least {terms.min_investigators} "
                                "investigators, or assign a contractor", field="investigators")
        self._assigned(investigators=[i.to_stored() for i in investigators],
                       contractor=contractor, assigned_on=on,
                       actor=actor.stored())

    @event("InvestigationAssigned")
    def _assigned(self, investigators: list[Stored], contractor: str | None,
                  assigned_on: date, actor: StoredActor) -> None:
        self.investigators = investigators
        self.contractor = contractor
        if self.status is CaseStatus.OPENED:
            self.status = CaseStatus.INVESTIGATING

    def record_home_visit(self, visit: HomeVisit, findings: Findings,
                          min_investigators: int, actor: Actor) -> None:
        """入户调查: findings, who visited, who was present and signed, documents."""
        self._open_for_investigation()
        if not self.investigators and self.contractor is None:
            raise RuleViolation("review.investigation_not_assigned",
                                "assign the investigation before recording a home visit")
        if self.status in (CaseStatus.REVIEWED, CaseStatus.OPINION_ISSUED,
                           CaseStatus.AWAITING_COUNTY, CaseStatus.IN_PUBLICITY,
                           CaseStatus.PUBLICIZED):
            # The joint review decided on the record as it stood; a new visit needs a new
            # round (an upheld objection).
            raise RuleViolation("review.investigation_closed",
                                f"the investigation of round {self.round} is closed")
        if len(visit.investigators) < min_investigators:
            raise RuleViolation("review.investigation_team",
                                f"a home visit is made by at least {min_investigators} "
                                "investigators", field="investigators")
        if not visit.signed_by:
            raise RuleViolation("review.visit_unsigned",
                                "the form is signed by the investigators and members present",
                                field="signed_by")
        unsigned = [n for n in visit.investigators if n not in visit.signed_by]
        if unsigned:
            raise RuleViolation("review.visit_unsigned",
                                f"investigator {unsigned[0]} did not sign", field="signed_by")
        household = apply_findings(self.household_on_record, findings)
        self._visited(visit=visit.to_stored(), household=household.to_stored(), round=self.round,
                      actor=actor.stored())

    @event("HomeVisitRecorded")
    def _visited(self, visit: Stored, household: Stored, round: int,
                 actor: StoredActor) -> None:
        self.visits.append({**visit, "round": round})
        self.household = household
        self.visit_round = round
        if self.status in (CaseStatus.INVESTIGATING, CaseStatus.REINVESTIGATING):
            self.status = CaseStatus.INVESTIGATED

    def record_interview(self, interview: Interview, actor: Actor) -> None:
        """邻里访问 and 信函索证."""
        self._open_for_investigation()
        if not self.investigators and self.contractor is None:
            raise RuleViolation("review.investigation_not_assigned",
                                "assign the investigation before recording interviews")
        self._interviewed(interview=interview.to_stored(), round=self.round,
                          actor=actor.stored())

    @event("InterviewRecorded")
    def _interviewed(self, interview: Stored, round: int,
                     actor: StoredActor) -> None:
        self.interviews.append({**interview, "round": round})

    # --- 2. economic-status verification --------------------------------------------------

    def request_verification(self, on: date, actor: Actor) -> None:
        self._open()
        if self.verification_requested_on is not None:
            raise RuleViolation("review.verification_already_requested",
                                "economic-status verification was already requested")
        self._verification_requested(requested_on=on, actor=actor.stored())

    @event("VerificationRequested")
    def _verification_requested(self, requested_on: date, actor: StoredActor) -> None:
        self.verification_requested_on = requested_on

    def record_verification(self, report: VerificationReport, on: date,
                            actor: Actor) -> None:
        """家庭经济状况核对 report of the county centre. Sensitive: masked in reads."""
        self._open()
        if self.verification_requested_on is None:
            raise RuleViolation("review.verification_not_requested",
                                "the township has not requested verification")
        self._verified(report=report.to_stored(), reported_on=on, actor=actor.stored())

    @event("VerificationReported")
    def _verified(self, report: Stored, reported_on: date,
                  actor: StoredActor) -> None:
        self.verification = {"report": report, "reported_on": reported_on}

    # --- 3. joint review (联审联批) -------------------------------------------------------

    def hold_joint_review(self, held_on: date, members: Sequence[PanelMember], outcome: str,
                          terms: PolicyTerms, actor: Actor) -> None:
        self._open()
        if self.visit_round != self.round:
            raise RuleViolation("review.investigation_missing",
                                "no home visit is on record for this round")
        if self.verification is None:
            raise RuleViolation("review.verification_missing",
                                "the economic-status verification report is not in")
        if self.status not in (CaseStatus.INVESTIGATED, CaseStatus.REVIEWED):
            raise RuleViolation("review.joint_review_state",
                                f"a joint review cannot be held when the case is {self.status}")
        investigator_ids = {i.get("user_id") for i in self.investigators} - {None}
        investigator_names = {n for v in self.visits if v["round"] == self.round
                              for n in v["investigators"]}
        for i, m in enumerate(members):
            if m.role not in JOINT_REVIEW_ROLES:
                raise RuleViolation("review.joint_review_role",
                                    f"role is one of {sorted(JOINT_REVIEW_ROLES)}",
                                    field=f"members[{i}].role")
            must_recuse = m.related_to_household or (
                terms.investigator_must_recuse
                and (m.user_id in investigator_ids or m.name in investigator_names))
            if must_recuse and not m.recused:
                raise RuleViolation("review.recusal_required",
                                    f"{m.name} must recuse (related to the household or "
                                    "investigated the case)", field=f"members[{i}].recused")
            if m.recused and not (m.recusal_reason or "").strip():
                raise RuleViolation("review.reason_required", "record why the member recused",
                                    field=f"members[{i}].recusal_reason")
        sitting = [m for m in members if m.sits]
        if not any(m.role in ("leader", "deputy") for m in sitting):
            raise RuleViolation("review.joint_review_no_chair",
                                "the group leader or the deputy must be present",
                                field="members")
        if not any(m.role == "discipline" for m in sitting):
            raise RuleViolation("review.joint_review_no_discipline_member",
                                "the discipline commission member must be present",
                                field="members")
        if len(sitting) < terms.joint_review_quorum:
            raise RuleViolation("review.joint_review_quorum",
                                f"{len(sitting)} members sitting; the quorum is "
                                f"{terms.joint_review_quorum}", field="members")
        for i, m in enumerate(members):
            if m.sits and m.opinion not in ("approve", "reject"):
                raise RuleViolation("review.member_opinion_missing",
                                    "each sitting member gives an opinion",
                                    field=f"members[{i}].opinion")
        approvals = sum(1 for m in sitting if m.opinion == "approve")
        majority = "approve" if approvals * 2 > len(sitting) else "reject"
        if outcome != majority:
            raise RuleViolation("review.joint_review_outcome",
                                f"the members' opinions give {majority}", field="outcome")
        self._joint_review_held(held_on=held_on, members=[m.to_stored() for m in members],
                                outcome=outcome, round=self.round, actor=actor.stored())

    @event("JointReviewHeld")
    def _joint_review_held(self, held_on: date, members: list[Stored], outcome: str,
                           round: int, actor: StoredActor) -> None:
        self.joint_review = {"held_on": held_on, "members": members, "outcome": outcome,
                             "round": round}
        self.joint_review_round = round
        self.status = CaseStatus.REVIEWED

    # --- 4. opinion (初审意见) ------------------------------------------------------------

    def opinion_inputs(self, on: date, assessment: Assessment) -> OpinionInputs:
        tekun = linshi = None
        if self.kind == AssistanceKind.TEKUN.value:
            tekun = TekunAssessment(self_care=dict(assessment.self_care or {}),
                                    care_mode=assessment.care_mode)
        if self.kind == AssistanceKind.LINSHI.value:
            linshi = LinshiAssessment(band=assessment.band,
                                      instalments=assessment.instalments or 1,
                                      linshi_type=self.linshi_type)
        return OpinionInputs(household=self.household_on_record, on=on, tekun=tekun,
                             linshi=linshi)

    def issue_opinion(self, approve: bool, reasons: list[str], assessment: Assessment,
                      policy_version: int, terms: PolicyTerms, on: date,
                      rejection_due: date, actor: Actor) -> Opinion:
        self._open()
        if self.visit_round != self.round:
            raise RuleViolation("review.investigation_missing",
                                "an opinion needs the home visit of this round")
        if self.joint_review_round != self.round or self.status is not CaseStatus.REVIEWED:
            raise RuleViolation("review.joint_review_missing",
                                "an opinion follows the joint review of this round")
        assert self.joint_review is not None
        if (self.joint_review["outcome"] == "approve") != approve:
            raise RuleViolation("review.opinion_contradicts_joint_review",
                                f"the joint review decided {self.joint_review['outcome']}",
                                field="approve")
        inputs = self.opinion_inputs(on, assessment)
        breakdown: Breakdown | None = None
        if approve:
            if self.kind == AssistanceKind.TEKUN.value:
                applicant = inputs.household.applicant
                if applicant is None or tekun_category(applicant, terms, on) is None:
                    raise RuleViolation("review.tekun_category",
                                        "特困 support is for people 60+, under 18, or severely "
                                        "disabled", field="approve")
            breakdown = compute(self.kind, inputs, terms)
            if not breakdown.eligible:
                raise RuleViolation("review.not_eligible",
                                    "; ".join(breakdown.ineligible_reasons), field="approve")
            if (self.kind in (AssistanceKind.DIBAO.value, AssistanceKind.TEKUN.value)
                    and breakdown.monthly_amount <= 0):
                raise RuleViolation("review.not_eligible", "the computed amount is zero",
                                    field="approve")
            reasons = [r.strip() for r in reasons if r.strip()]
        else:
            reasons = _reasons(reasons)
        amount = None if breakdown is None else breakdown.monthly_amount
        needs_county = isinstance(breakdown, LinshiBreakdown) and breakdown.county_approval_required
        self._opinion_issued(
            round=self.round, approve=approve, reasons=reasons, amount=amount,
            breakdown=None if breakdown is None else breakdown.to_stored(),
            inputs=inputs.to_stored(), policy_version=policy_version, issued_on=on,
            publicity_required=approve, county_approval_required=needs_county,
            household_size=len(inputs.household.counted_members) or self.household_size,
            rejection_due=None if approve else rejection_due, actor=actor.stored())
        opinion = self.issued_opinion
        assert opinion is not None
        return opinion

    @event("OpinionIssued")
    def _opinion_issued(self, round: int, approve: bool, reasons: list[str],
                        amount: Decimal | None, breakdown: Stored | None,
                        inputs: Stored, policy_version: int, issued_on: date,
                        publicity_required: bool, county_approval_required: bool,
                        household_size: int, rejection_due: date | None,
                        actor: StoredActor) -> None:
        self.opinion = {"round": round, "approve": approve, "reasons": reasons,
                        "amount": amount, "breakdown": breakdown, "inputs": inputs,
                        "policy_version": policy_version, "issued_on": issued_on,
                        "publicity_required": publicity_required,
                        "household_size": household_size}
        self.county_approved = not county_approval_required
        self.rejection_due = rejection_due
        self.status = (CaseStatus.AWAITING_COUNTY if county_approval_required
                       else CaseStatus.OPINION_ISSUED)

    def approve_at_county(self, reasons: list[str], on: date, actor: Actor) -> None:
        """临时救助 above the township ceiling: the county bureau approves."""
        if self.status is not CaseStatus.AWAITING_COUNTY:
            raise RuleViolation("review.county_approval_not_needed",
                                "the case is not waiting for the county bureau")
        self._county_approved(reasons=_reasons(reasons), approved_on=on, actor=actor.stored())

    @event("CountyApproved")
    def _county_approved(self, reasons: list[str], approved_on: date,
                         actor: StoredActor) -> None:
        self.county_approved = True
        self.status = CaseStatus.OPINION_ISSUED

    # --- 5. publicity (公示) ---------------------------------------------------------------

    def publicity_opened(self, notice_id: UUID, round: int, starts_on: date, ends_on: date,
                         actor: Actor) -> bool:
        """Returns False for a notice of an earlier round (nothing to do)."""
        if round != self.round or self.status is not CaseStatus.OPINION_ISSUED:
            return False
        self._publicity_opened(notice_id=notice_id, round=round, starts_on=starts_on,
                               ends_on=ends_on, actor=actor.stored())
        return True

    @event("PublicityOpened")
    def _publicity_opened(self, notice_id: UUID, round: int, starts_on: date, ends_on: date,
                          actor: StoredActor) -> None:
        self.status = CaseStatus.IN_PUBLICITY

    def publicity_closed(self, notice_id: UUID, round: int, outcome: str, finding: str | None,
                         closed_on: date, confirmation_due: date | None,
                         actor: Actor) -> bool:
        if round != self.round or self.status not in (CaseStatus.OPINION_ISSUED,
                                                      CaseStatus.IN_PUBLICITY):
            return False
        self._publicity_closed(notice_id=notice_id, round=round, outcome=outcome,
                               finding=finding, closed_on=closed_on,
                               confirmation_due=confirmation_due, actor=actor.stored())
        return True

    @event("PublicityClosed")
    def _publicity_closed(self, notice_id: UUID, round: int, outcome: str, finding: str | None,
                          closed_on: date, confirmation_due: date | None,
                          actor: StoredActor) -> None:
        self.publicity_closed_on = closed_on
        if outcome == "clean":
            self.status = CaseStatus.PUBLICIZED
            self.confirmation_due = confirmation_due
        else:
            # 异议成立: re-investigate, then a new opinion and a new notice.
            self.round = round + 1
            self.status = CaseStatus.REINVESTIGATING

    # --- 6. confirmation or rejection ------------------------------------------------------

    def confirm(self, decided_on: date, notice: str, recheck_months: int | None,
                valid_until: date | None, rhythm: MonthlyRhythm, actor: Actor) -> None:
        self._open()
        opinion = self.issued_opinion
        if opinion is None or opinion.round != self.round:
            raise RuleViolation("review.opinion_missing", "no opinion for this round")
        if not opinion.approve:
            raise RuleViolation("review.opinion_rejects", "the opinion is to reject; issue the "
                                "rejection notice instead")
        if self.status is CaseStatus.AWAITING_COUNTY:
            raise RuleViolation("review.county_approval_missing",
                                "above the township ceiling the county bureau approves first")
        if opinion.publicity_required and self.status is not CaseStatus.PUBLICIZED:
            raise RuleViolation("review.publicity_not_ended",
                                "confirmation waits until the notice has closed clean")
        self._confirmed(decided_on=decided_on, notice=notice.strip(),
                        amount=opinion.amount, start_month=next_month(decided_on),
                        recheck_months=recheck_months, valid_until=valid_until,
                        actor=actor.stored())
        if isinstance(opinion.breakdown, LinshiBreakdown):
            self._approve_payments(opinion.breakdown, rhythm.first_payable_month(decided_on),
                                   False, actor)

    def _approve_payments(self, breakdown: LinshiBreakdown, first_month: str, advance: bool,
                          actor: Actor) -> None:
        parts = breakdown.instalments
        for i, amount in enumerate(parts, start=1):
            self._payment_approved(payment_id=payment_id_for(self.id, i), instalment=i,
                                   instalments=len(parts), amount=amount,
                                   month=add_months(first_month, i - 1), advance=advance,
                                   actor=actor.stored())

    @event("PaymentApproved")
    def _payment_approved(self, payment_id: UUID, instalment: int, instalments: int,
                          amount: Decimal, month: str, advance: bool,
                          actor: StoredActor) -> None:
        self.payments.append({"payment_id": payment_id, "instalment": instalment,
                              "amount": amount, "month": month, "advance": advance})

    @event("Confirmed")
    def _confirmed(self, decided_on: date, notice: str, amount: Decimal | None,
                   start_month: str, recheck_months: int | None, valid_until: date | None,
                   actor: StoredActor) -> None:
        self.status = CaseStatus.CONFIRMED
        self.decided_on = decided_on
        self.decision = {"outcome": "confirmed", "notice": notice, "amount": amount,
                         "start_month": start_month, "valid_until": valid_until}

    def reject(self, decided_on: date, reasons: list[str], actor: Actor) -> None:
        """不予确认: the written notice with reasons, within 3 working days of the opinion."""
        self._open()
        reasons = _reasons(reasons)
        opinion = self.issued_opinion
        if opinion is None or opinion.round != self.round:
            raise RuleViolation("review.opinion_missing", "no opinion for this round")
        if opinion.approve and self.status not in (CaseStatus.PUBLICIZED,
                                                   CaseStatus.AWAITING_COUNTY):
            raise RuleViolation("review.publicity_not_ended",
                                "an approving opinion is decided after its publicity")
        self._rejected(decided_on=decided_on, reasons=reasons, actor=actor.stored())

    @event("Rejected")
    def _rejected(self, decided_on: date, reasons: list[str], actor: StoredActor) -> None:
        self.status = CaseStatus.REJECTED
        self.decided_on = decided_on
        self.decision = {"outcome": "rejected", "reasons": reasons}

    def withdraw(self, reason: str, on: date, actor: Actor) -> bool:
        """The applicant withdrew in intake: close an undecided case (False if decided)."""
        if self.status in TERMINAL:
            return False
        self._withdrawn(reason=reason, withdrawn_on=on, actor=actor.stored())
        return True

    @event("Withdrawn")
    def _withdrawn(self, reason: str, withdrawn_on: date, actor: StoredActor) -> None:
        self.status = CaseStatus.WITHDRAWN
        self.decided_on = withdrawn_on
        self.decision = {"outcome": "withdrawn", "reasons": [reason]}

    # --- 7. time limits --------------------------------------------------------------------

    def extend_decision_deadline(self, reason: str, new_due: Deadline,
                                 actor: Actor) -> None:
        """20 → 45 working days in special cases (objection, split household, ...)."""
        self._open()
        if self.decision_extended:
            raise RuleViolation("review.already_extended", "the time limit was already extended")
        if not reason.strip():
            raise RuleViolation("review.reason_required", "record why the limit is extended",
                                field="reason")
        self._extended(reason=reason.strip(), decision_due=new_due.due, actor=actor.stored(),
                       provisional=new_due.provisional)

    @event("DecisionDeadlineExtended")
    def _extended(self, reason: str, decision_due: date, actor: StoredActor,
                  provisional: bool = False) -> None:
        self.decision_extended = True
        self.decision_due = decision_due
        # Counted through a year without an official schedule: provisional, like at opening.
        self.deadlines_provisional = self.deadlines_provisional or provisional

    # --- 临时救助 急难型 先行救助 -----------------------------------------------------------

    def grant_advance(self, band: str, instalments: int, policy_version: int,
                      terms: PolicyTerms, on: date, completion_due: date, reason: str,
                      actor: Actor) -> LinshiBreakdown:
        """Pay first; complete the record (visit, signatures) by `completion_due`."""
        self._open()
        if self.kind != AssistanceKind.LINSHI.value or \
                self.linshi_type != LinshiType.EMERGENCY.value:
            raise RuleViolation("review.advance_not_allowed",
                                "先行救助 is for 急难型 temporary assistance only")
        if self.opinion is not None:
            raise RuleViolation("review.advance_not_allowed", "an opinion was already issued")
        if not reason.strip():
            raise RuleViolation("review.reason_required", "describe the emergency",
                                field="reason")
        inputs = self.opinion_inputs(on, Assessment(band=band, instalments=instalments))
        breakdown = compute(self.kind, inputs, terms)
        assert isinstance(breakdown, LinshiBreakdown)
        if breakdown.county_approval_required:
            raise RuleViolation("review.advance_above_ceiling",
                                "先行救助 above the township ceiling needs the county first",
                                field="band")
        self._advance_granted(
            amount=breakdown.monthly_amount, breakdown=breakdown.to_stored(),
            inputs=inputs.to_stored(), policy_version=policy_version, granted_on=on,
            completion_due=completion_due, reason=reason.strip(),
            household_size=breakdown.household_size, start_month=month_of(on),
            actor=actor.stored())
        # Help first: paid in the current month, outside the roster cut-off.
        self._approve_payments(breakdown, month_of(on), True, actor)
        return breakdown

    @event("AdvanceGranted")
    def _advance_granted(self, amount: Decimal, breakdown: Stored,
                         inputs: Stored, policy_version: int, granted_on: date,
                         completion_due: date, reason: str, household_size: int,
                         start_month: str, actor: StoredActor) -> None:
        self.opinion = {"round": self.round, "approve": True, "reasons": [reason],
                        "amount": amount, "breakdown": breakdown, "inputs": inputs,
                        "policy_version": policy_version, "issued_on": granted_on,
                        "publicity_required": False, "household_size": household_size}
        self.advance = {"granted_on": granted_on, "completion_due": completion_due,
                        "completed_on": None}
        self.status = CaseStatus.CONFIRMED
        self.decided_on = granted_on
        self.decision = {"outcome": "confirmed", "notice": reason, "amount": amount,
                         "start_month": start_month, "valid_until": None, "advance": True}

    def complete_advance_record(self, on: date, note: str, actor: Actor) -> None:
        if self.advance is None or self.advance["completed_on"] is not None:
            raise RuleViolation("review.no_advance_pending", "no 先行救助 record to complete")
        if not self.visits:
            raise RuleViolation("review.investigation_missing",
                                "complete the record with the signed home-visit form")
        if not note.strip():
            raise RuleViolation("review.reason_required",
                                "record how the 先行救助 record was completed", field="note")
        self._advance_completed(completed_on=on, note=note, actor=actor.stored())

    @event("AdvanceRecordCompleted")
    def _advance_completed(self, completed_on: date, note: str, actor: StoredActor) -> None:
        assert self.advance is not None
        self.advance = {**self.advance, "completed_on": completed_on}

    # --- values for the application layer --------------------------------------------------

    def recheck_months(self, terms: PolicyTerms, on: date) -> int:
        """Yearly; half-yearly for irregular income or a member able to work; 特困 yearly."""
        if self.kind == AssistanceKind.TEKUN.value:
            return terms.recheck_months_tekun
        household = self.household_on_record
        if household.irregular_income:
            return terms.recheck_months_irregular
        for m in household.counted_members:
            age = age_on(m.birth_date, on)
            if (m.work_capacity == "full"
                    and terms.working_age_min <= age < terms.working_age_max):
                return terms.recheck_months_irregular
        return terms.recheck_months_stable


# ============================================================================================
# Entitlement (待遇): a confirmed benefit over time, and its dynamic management
# ============================================================================================


STANDARD_CHANGE_REASON = "标准调整"
# 注销 for a death or a fraud, and the fine for fraud: 1 to 3 times [S1 Art. 68].
ENDING_CAUSES = ("death", "fraud")
FINE_MIN, FINE_MAX = Decimal(1), Decimal(3)


def check_payee_account(account_number: str) -> str:
    """The account as the bank will read it (digits only), or the rule it breaks: 6 to 32
    digits, and a UnionPay card (62…) passes its Luhn check (shared.bankcards)."""
    problem = account_problem(account_number)
    if problem == "account_format":
        raise RuleViolation("review.payee_account_format",
                            "the account number is 6 to 32 digits", field="account_number")
    if problem == "card_luhn":
        raise RuleViolation("review.payee_card_luhn", "the UnionPay card number fails its "
                            "check digit (Luhn): check it against the card",
                            field="account_number")
    return digits_of(account_number)


class EntitlementStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    PHASING_OUT = "phasing_out"  # 渐退
    TERMINATION_PENDING = "termination_pending"  # 特困: in 7 days' publicity
    TERMINATED = "terminated"  # 注销


class Entitlement(Aggregate):
    """A confirmed 低保 or 特困 benefit: monthly amount, breakdown, recheck schedule."""

    # Never in an audit record: the household the amount was computed from, and the payee.
    AUDIT_WITHHELD = frozenset({"inputs", "payee"})

    @staticmethod
    def create_id(case_id: UUID, **_: Any) -> UUID:
        return entitlement_id_for(case_id)

    @classmethod
    def start(cls, case_id: UUID, kind: str, household_id: str | None, township: str,
              village: str, urban: bool, applicant_name: str, household_size: int,
              monthly_amount: Decimal, breakdown: Breakdown, policy_version: int,
              start_month: str, recheck_due: date, recheck_months: int, payee: Stored | None,
              inputs: OpinionInputs, actor: Actor, decided_on: date) -> Entitlement:
        """A confirmed 低保 or 特困 benefit begins (the Started event holds plain data)."""
        return cls(case_id=case_id, kind=kind, household_id=household_id, township=township,
                   village=village, urban=urban, applicant_name=applicant_name,
                   household_size=household_size, monthly_amount=monthly_amount,
                   breakdown=breakdown.to_stored(), policy_version=policy_version,
                   start_month=start_month, recheck_due=recheck_due,
                   recheck_months=recheck_months, payee=payee, inputs=inputs.to_stored(),
                   actor=actor.stored(), decided_on=decided_on)

    @event("Started")
    def __init__(self, case_id: UUID, kind: str, household_id: str | None, township: str,
                 village: str, urban: bool, applicant_name: str, household_size: int,
                 monthly_amount: Decimal, breakdown: Stored, policy_version: int,
                 start_month: str, recheck_due: date, recheck_months: int,
                 payee: Stored | None, inputs: Stored,
                 actor: StoredActor, decided_on: date | None = None) -> None:
        self.case_id = case_id
        # The confirmation's business date; None in events stored before it was recorded.
        self.decided_on = decided_on
        self.inputs = inputs  # what the amount was computed from: replayable
        self.kind = kind
        self.household_id = household_id
        self.township = township
        self.village = village
        self.urban = urban
        self.applicant_name = applicant_name
        self.household_size = household_size
        self.monthly_amount = monthly_amount
        self.breakdown = breakdown
        self.policy_version = policy_version
        self.start_month = start_month
        self.recheck_due = recheck_due
        self.recheck_months = recheck_months
        self.payee = payee
        self.status = EntitlementStatus.ACTIVE
        self.rechecks: list[Stored] = []
        self.changes: list[Stored] = []
        self.phase_out_until: str | None = None
        self.ends_after: str | None = None
        self.pending_termination: Stored | None = None
        self.reported_changes: list[Stored] = []  # waiting for the township
        self.recheck_requests: list[Stored] = []  # upheld reports (举报查实) waiting

    # --- typed views of what the events hold ----------------------------------------------

    @property
    def computation_inputs(self) -> OpinionInputs:
        """What the current amount was computed from."""
        return OpinionInputs.of(self.inputs)

    @property
    def pending_changes(self) -> list[ReportedChange]:
        """Changes reported in intake that no adjustment has applied yet."""
        return [ReportedChange.of(c) for c in self.reported_changes]

    def record_reported_change(self, change: ReportedChange, reported_on: date,
                               actor: Actor) -> bool:
        """A change reported in intake: kept for the township, and the recheck falls due."""
        if self.status in (EntitlementStatus.TERMINATED,):
            return False
        self._change_reported(change=change.to_stored(), reported_on=reported_on,
                              actor=actor.stored())
        return True

    @event("ChangeReported")
    def _change_reported(self, change: Stored, reported_on: date,
                         actor: StoredActor) -> None:
        self.reported_changes.append(change)
        self.recheck_due = min(self.recheck_due, reported_on)

    def request_recheck(self, report_id: str, category: str, finding: str | None,
                        upheld_on: date, actor: Actor) -> bool:
        """A public report (举报) found true: the recheck (复查) falls due at once. Once per
        report; an ended benefit has nothing left to recheck."""
        if self.status is EntitlementStatus.TERMINATED or any(
                r["report_id"] == report_id for r in self.recheck_requests):
            return False
        self._recheck_requested(report_id=report_id, category=category, finding=finding,
                                upheld_on=upheld_on, actor=actor.stored())
        return True

    @event("RecheckRequested")
    def _recheck_requested(self, report_id: str, category: str, finding: str | None,
                           upheld_on: date, actor: StoredActor) -> None:
        self.recheck_requests.append({"report_id": report_id, "category": category,
                                      "finding": finding, "upheld_on": upheld_on})
        self.recheck_due = min(self.recheck_due, upheld_on)

    def _effective(self, decided_on: date, rhythm: MonthlyRhythm) -> str:
        # Never before the entitlement's own first month.
        return rhythm.roster_month(self.start_month, decided_on)

    def _live(self) -> None:
        if self.status is EntitlementStatus.TERMINATED:
            raise RuleViolation("review.entitlement_terminated", "the entitlement has ended")
        if self.status is EntitlementStatus.TERMINATION_PENDING:
            raise RuleViolation("review.termination_pending",
                                "a termination is in publicity; wait for its outcome")

    def record_recheck(self, on: date, finding: str, changed: bool, next_due: date,
                       actor: Actor) -> None:
        """复查: recorded; when circumstances changed an adjustment follows separately."""
        self._live()
        if not finding.strip():
            raise RuleViolation("review.reason_required", "record the recheck finding",
                                field="finding")
        self._rechecked(checked_on=on, finding=finding.strip(), changed=changed,
                        next_due=next_due, actor=actor.stored())

    @event("Rechecked")
    def _rechecked(self, checked_on: date, finding: str, changed: bool, next_due: date,
                   actor: StoredActor) -> None:
        self.rechecks.append({"checked_on": checked_on, "finding": finding, "changed": changed})
        self.recheck_due = next_due
        self.reported_changes = []  # the recheck considered them
        self.recheck_requests = []

    def adjust(self, amount: Decimal, household_size: int, breakdown: Breakdown,
               inputs: OpinionInputs, policy_version: int, reasons: list[str],
               decided_on: date, rhythm: MonthlyRhythm, actor: Actor) -> str:
        """Increase or decrease to a recomputed amount; a decrease needs written reasons."""
        self._live()
        if self.status is not EntitlementStatus.ACTIVE:
            raise RuleViolation("review.entitlement_state",
                                f"an entitlement that is {self.status} cannot be adjusted")
        if amount <= 0:
            raise RuleViolation("review.adjust_to_zero",
                                "nothing is due any more: terminate or phase out instead",
                                field="amount")
        if amount == self.monthly_amount:
            raise RuleViolation("review.adjust_unchanged", "the amount does not change",
                                field="amount")
        change = "increase" if amount > self.monthly_amount else "decrease"
        if change == "decrease":
            reasons = _reasons(reasons)
        self._changed(change=change, amount=amount, household_size=household_size,
                      breakdown=breakdown.to_stored(), policy_version=policy_version,
                      reasons=[r.strip() for r in reasons if r.strip()], decided_on=decided_on,
                      effective_month=self._effective(decided_on, rhythm),
                      until_month=None, actor=actor.stored(), inputs=inputs.to_stored())
        return change

    def restandardise(self, amount: Decimal, breakdown: Breakdown, policy_version: int,
                      effective_month: str, decided_on: date,
                      actor: Actor) -> str | None:
        """标准调整: the amount recomputed under a new standard, from the month it takes
        effect (never before the benefit's own first month; months already paid are
        settled by disbursement as arrears or recovery). None: nothing changes."""
        if self.status is not EntitlementStatus.ACTIVE or self.policy_version >= policy_version:
            return None
        if amount == self.monthly_amount or amount <= 0:
            return None
        change = "increase" if amount > self.monthly_amount else "decrease"
        self._changed(change=change, amount=amount, household_size=self.household_size,
                      breakdown=breakdown.to_stored(), policy_version=policy_version,
                      reasons=[STANDARD_CHANGE_REASON], decided_on=decided_on,
                      effective_month=max(effective_month, self.start_month),
                      until_month=None, actor=actor.stored())
        return change

    def suspend(self, reasons: list[str], decided_on: date, rhythm: MonthlyRhythm,
                actor: Actor) -> None:
        self._live()
        if self.status is not EntitlementStatus.ACTIVE:
            raise RuleViolation("review.entitlement_state",
                                f"an entitlement that is {self.status} cannot be suspended")
        self._changed(change="suspend", amount=Decimal(0), household_size=self.household_size,
                      breakdown=self.breakdown, policy_version=self.policy_version,
                      reasons=_reasons(reasons), decided_on=decided_on,
                      effective_month=self._effective(decided_on, rhythm),
                      until_month=None, actor=actor.stored())

    def resume(self, reasons: list[str], decided_on: date, rhythm: MonthlyRhythm,
               actor: Actor) -> None:
        self._live()
        if self.status is not EntitlementStatus.SUSPENDED:
            raise RuleViolation("review.entitlement_state", "only a suspended benefit resumes")
        self._changed(change="resume", amount=self.monthly_amount,
                      household_size=self.household_size, breakdown=self.breakdown,
                      policy_version=self.policy_version,
                      reasons=[r.strip() for r in reasons if r.strip()], decided_on=decided_on,
                      effective_month=self._effective(decided_on, rhythm),
                      until_month=None, actor=actor.stored())

    def phase_out(self, months: int, reasons: list[str], decided_on: date, terms: PolicyTerms,
                  rhythm: MonthlyRhythm, actor: Actor) -> None:
        """渐退 after employment: the amount continues for at most N months, then ends."""
        self._live()
        if self.kind != AssistanceKind.DIBAO.value:
            raise RuleViolation("review.phase_out_kind", "渐退 applies to 低保")
        if self.status is not EntitlementStatus.ACTIVE:
            raise RuleViolation("review.entitlement_state",
                                f"an entitlement that is {self.status} cannot be phased out")
        if not 1 <= months <= terms.phase_out_max_months:
            raise RuleViolation("review.phase_out_too_long",
                                f"渐退 lasts 1 to {terms.phase_out_max_months} months",
                                field="months")
        effective = self._effective(decided_on, rhythm)
        self._changed(change="phase_out", amount=self.monthly_amount,
                      household_size=self.household_size, breakdown=self.breakdown,
                      policy_version=self.policy_version, reasons=_reasons(reasons),
                      decided_on=decided_on, effective_month=effective,
                      until_month=add_months(effective, months - 1), actor=actor.stored())

    def terminate(self, reasons: list[str], decided_on: date, rhythm: MonthlyRhythm,
                  actor: Actor) -> bool:
        """注销 with written reasons. 特困 goes to 7 days' publicity first: returns False then,
        and the termination takes effect when the notice closes clean."""
        self._live()
        reasons = _reasons(reasons)
        if self.kind == AssistanceKind.TEKUN.value:
            self._termination_requested(reasons=reasons, requested_on=decided_on,
                                        actor=actor.stored())
            return False
        self._changed(change="terminate", amount=Decimal(0), household_size=self.household_size,
                      breakdown=self.breakdown, policy_version=self.policy_version,
                      reasons=reasons, decided_on=decided_on,
                      effective_month=self._effective(decided_on, rhythm),
                      until_month=None, actor=actor.stored())
        return True

    def end_for_cause(self, cause: str, first_month_not_due: str, reasons: list[str],
                      decided_on: date, rhythm: MonthlyRhythm, actor: Actor,
                      fine_multiple: Decimal | None = None,
                      fine_reason: str | None = None) -> bool:
        """A death or a fraud ends the benefit from the first month not due, backdated if
        months were paid since (disbursement then recovers them, 追回). Fraud may carry the
        fine (S1 Art. 68: 1 to 3 times what was obtained), a decision with its reason.
        特困 still goes to 7 days' publicity first (returns False then)."""
        self._live()
        reasons = _reasons(reasons)
        if cause not in ENDING_CAUSES:
            raise RuleViolation("review.cause", "the cause is death or fraud", field="cause")
        try:
            month_parts(first_month_not_due)
        except ValueError:
            raise RuleViolation("review.cause_month", "the first month not due is YYYY-MM",
                                field="first_month_not_due") from None
        latest = self._effective(decided_on, rhythm)
        if first_month_not_due > latest:
            raise RuleViolation("review.cause_month",
                                f"the first month not due is at the latest {latest}, the "
                                "month this decision takes effect", field="first_month_not_due")
        ending: Stored = {"cause": cause, "first_month_not_due": first_month_not_due}
        if fine_multiple is not None or fine_reason is not None:
            if cause != "fraud":
                raise RuleViolation("review.fine", "a fine is imposed only for fraud",
                                    field="fine_multiple")
            if fine_multiple is None or not FINE_MIN <= fine_multiple <= FINE_MAX:
                raise RuleViolation("review.fine", f"the fine is {FINE_MIN} to {FINE_MAX} "
                                    "times the amount obtained (S1 Art. 68)",
                                    field="fine_multiple")
            ending.update(fine_multiple=str(fine_multiple),
                          fine_reason=_reasons([fine_reason or ""], "fine_reason")[0])
        if self.kind == AssistanceKind.TEKUN.value:
            self._termination_for_cause_requested(reasons=reasons, requested_on=decided_on,
                                                  actor=actor.stored(), cause=ending)
            return False
        self._ended_for_cause(
            change="terminate", amount=Decimal(0), household_size=self.household_size,
            breakdown=self.breakdown, policy_version=self.policy_version, reasons=reasons,
            decided_on=decided_on, effective_month=max(first_month_not_due, self.start_month),
            until_month=None, actor=actor.stored(), cause=ending)
        return True

    def change_payee(self, name: str, bank: str, account: Stored, reason: str,
                     holder_not_member: str | None, changed_on: date,
                     actor: Actor) -> str | None:
        """收款账户变更: the household's new account (sealed before it reaches here), with
        the reason. The holder is a counted household member, or the clerk says why not
        (e.g. a guardian's account). Returns the holder's masked resident ID, if a member."""
        self._live()
        reason = _reasons([reason], "reason")[0]
        members = [m for m in self.computation_inputs.household.members if m.counted]
        holder = next((m for m in members if m.name == name.strip()), None)
        why_not = (holder_not_member or "").strip() or None
        if holder is None and why_not is None:
            raise RuleViolation("review.payee_holder",
                                "the account holder is not a member of the household: say "
                                "why the account is theirs", field="holder_name")
        payee: Stored = {"name": name.strip(), "bank": bank.strip(), "account": account,
                         "resident_id_mask": holder.resident_id_mask if holder else None}
        self._payee_changed(payee=payee, reason=reason,
                            holder_not_member=None if holder else why_not,
                            changed_on=changed_on, actor=actor.stored())
        return payee["resident_id_mask"]

    @event("PayeeChanged")
    def _payee_changed(self, payee: Stored, reason: str, holder_not_member: str | None,
                       changed_on: date, actor: StoredActor) -> None:
        self.payee = payee
        # Why the holder's account is theirs when not a member (None: a member).
        self.payee_holder_not_member = holder_not_member

    @event("TerminationNoticeRequested")
    def _termination_requested(self, reasons: list[str], requested_on: date,
                               actor: StoredActor) -> None:
        self._pending_termination(reasons, requested_on, None)

    @event("TerminationForCauseRequested")
    def _termination_for_cause_requested(self, reasons: list[str], requested_on: date,
                                         actor: StoredActor, cause: Stored) -> None:
        """TerminationNoticeRequested with its cause (its own event: the stored form of
        the other stays the earlier releases')."""
        self._pending_termination(reasons, requested_on, cause)

    def _pending_termination(self, reasons: list[str], requested_on: date,
                             cause: Stored | None) -> None:
        self.pending_termination = {"reasons": reasons, "requested_on": requested_on,
                                    "status_before": self.status.value,
                                    **({"cause": cause} if cause else {})}
        self.status = EntitlementStatus.TERMINATION_PENDING

    def termination_notice_closed(self, outcome: str, finding: str | None, closed_on: date,
                                  actor: Actor) -> bool:
        if self.status is not EntitlementStatus.TERMINATION_PENDING:
            return False
        assert self.pending_termination is not None
        if outcome == "clean":
            # 特困 termination takes effect the month after the notice; a death or fraud
            # from the first month not due.
            ending = self.pending_termination.get("cause")
            effective = ending["first_month_not_due"] if ending else next_month(closed_on)
            change: dict[str, Any] = dict(
                change="terminate", amount=Decimal(0), household_size=self.household_size,
                breakdown=self.breakdown, policy_version=self.policy_version,
                reasons=self.pending_termination["reasons"], decided_on=closed_on,
                effective_month=max(effective, self.start_month), until_month=None,
                actor=actor.stored())
            if ending:
                self._ended_for_cause(**change, cause=ending)
            else:
                self._changed(**change)
        else:
            self._termination_withdrawn(
                finding=finding or "objection upheld", closed_on=closed_on,
                restored_status=self.pending_termination["status_before"], actor=actor.stored())
        return True

    @event("TerminationWithdrawn")
    def _termination_withdrawn(self, finding: str, closed_on: date, restored_status: str,
                               actor: StoredActor) -> None:
        self.status = EntitlementStatus(restored_status)
        self.pending_termination = None

    @event("Changed")
    def _changed(self, change: str, amount: Decimal, household_size: int,
                 breakdown: Stored, policy_version: int, reasons: list[str],
                 decided_on: date, effective_month: str, until_month: str | None,
                 actor: StoredActor, inputs: Stored | None = None) -> None:
        self._apply_change(change, amount, household_size, breakdown, policy_version, reasons,
                           decided_on, effective_month, until_month, inputs)

    @event("EndedForCause")
    def _ended_for_cause(self, change: str, amount: Decimal, household_size: int,
                         breakdown: Stored, policy_version: int, reasons: list[str],
                         decided_on: date, effective_month: str, until_month: str | None,
                         actor: StoredActor, cause: Stored) -> None:
        """A Changed (terminate) with its cause: its own event, so that every other Changed
        keeps the stored form earlier releases wrote."""
        self._apply_change(change, amount, household_size, breakdown, policy_version, reasons,
                           decided_on, effective_month, until_month, None, cause)

    def _apply_change(self, change: str, amount: Decimal, household_size: int,
                      breakdown: Stored, policy_version: int, reasons: list[str],
                      decided_on: date, effective_month: str, until_month: str | None,
                      inputs: Stored | None, cause: Stored | None = None) -> None:
        if inputs is not None:
            self.inputs = inputs
            self.reported_changes = []  # the recomputation applied them
        self.changes.append({"change": change, "amount": amount, "decided_on": decided_on,
                             "effective_month": effective_month, "reasons": reasons,
                             "until_month": until_month, **({"cause": cause} if cause else {})})
        self.pending_termination = None
        if change in ("increase", "decrease"):
            self.monthly_amount = amount
            self.household_size = household_size
            self.breakdown = breakdown
            self.policy_version = policy_version
        elif change == "suspend":
            self.status = EntitlementStatus.SUSPENDED
        elif change == "resume":
            self.status = EntitlementStatus.ACTIVE
        elif change == "phase_out":
            self.status = EntitlementStatus.PHASING_OUT
            self.phase_out_until = until_month
            self.ends_after = until_month
        elif change == "terminate":
            self.status = EntitlementStatus.TERMINATED
            self.ends_after = add_months(effective_month, -1)


# ============================================================================================
# SpotCheck (抽查): the county centre samples confirmed cases per township per month
# ============================================================================================


def spot_check_id_for(township: str, month: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"lingshui:spot-check:{township}:{month}")


def sample_size(population: int, percent: Decimal) -> int:
    """At least the percentage, rounded up; at least one case when there are any."""
    if population == 0:
        return 0
    return max(1, min(population, math.ceil(population * percent / 100)))


class SpotCheck(Aggregate):
    """抽查 of one township's confirmations in one month."""

    @staticmethod
    def create_id(township: str, month: str, **_: Any) -> UUID:
        return spot_check_id_for(township, month)

    @classmethod
    def draw(cls, township: str, month: str, seed: str, population: dict[str, int],
             percent: dict[str, str], sample: Sequence[SampledCase], policy_version: int,
             actor: Actor) -> SpotCheck:
        return cls(township=township, month=month, seed=seed, population=population,
                   percent=percent, sample=[s.to_stored() for s in sample],
                   policy_version=policy_version, actor=actor.stored())

    @event("Drawn")
    def __init__(self, township: str, month: str, seed: str, population: dict[str, int],
                 percent: dict[str, str], sample: list[Stored], policy_version: int,
                 actor: StoredActor) -> None:
        self.township = township
        self.month = month
        self.seed = seed  # recorded so an auditor can redraw the same sample
        self.population = population
        self.percent = percent
        self.sample = sample
        self.policy_version = policy_version
        self.results: dict[str, dict[str, Any]] = {}
        self.completed = False

    @property
    def sampled(self) -> list[SampledCase]:
        return [SampledCase.of(s) for s in self.sample]

    def record_result(self, case_id: str, upheld: bool, finding: str | None,
                      corrective_action: str | None, actor: Actor) -> None:
        if self.completed:
            raise RuleViolation("review.spot_check_completed", "the spot check is completed")
        if case_id not in {s.case_id for s in self.sampled}:
            raise RuleViolation("review.not_in_sample", "the case is not in this sample",
                                field="case_id")
        if not upheld and not ((finding or "").strip() and (corrective_action or "").strip()):
            raise RuleViolation("review.corrective_action_required",
                                "an error found needs the finding and a corrective action",
                                field="corrective_action")
        self._result(case_id=case_id, upheld=upheld, finding=finding,
                     corrective_action=corrective_action, actor=actor.stored())

    @event("ResultRecorded")
    def _result(self, case_id: str, upheld: bool, finding: str | None,
                corrective_action: str | None, actor: StoredActor) -> None:
        self.results[case_id] = {"case_id": case_id, "upheld": upheld, "finding": finding,
                                 "corrective_action": corrective_action}

    def complete(self, actor: Actor) -> None:
        if self.completed:
            raise RuleViolation("review.spot_check_completed", "the spot check is completed")
        missing = [s.case_id for s in self.sampled if s.case_id not in self.results]
        if missing:
            raise RuleViolation("review.spot_check_incomplete",
                                f"{len(missing)} sampled case(s) have no result",
                                field="results")
        self._completed(actor=actor.stored())

    @event("Completed")
    def _completed(self, actor: StoredActor) -> None:
        self.completed = True
