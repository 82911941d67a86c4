"""Shared test data for review: a policy version with round numbers, and households."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from typing import Any

from services.review.domain import PolicyTerms

# Illustrative figures chosen for readable worked examples (not Lingshui's standard).
TERMS: dict[str, Any] = {
    "illustrative": True, "label": "test terms",
    "dibao_standard_urban": "700", "dibao_standard_rural": "650",
    "assessment_months": 6, "rounding_quantum": "1", "rounding_mode": "half_up",
    "addon_percent": {"elderly": "10", "minor": "10", "severe_disability": "20",
                      "serious_illness": "15"},
    "addon_elderly_age": 60, "addon_minor_age": 18, "severe_disability_max_grade": 2,
    "financial_asset_limit_months": 24, "vehicle_allowed": False, "extra_housing_allowed": False,
    "tekun_basic_multiple": "1.3",
    "tekun_care_standard": {"self_caring": "100", "partial": "400", "total": "1000"},
    "dibao_edge_multiple": "1.5", "dibao_edge_validity_months": 12,
    "linshi_bands": {"general": "1", "serious": "2", "severe": "3", "major": "6"},
    "linshi_township_ceiling_multiple": "3", "linshi_max_instalments": 6,
    "linshi_expenditure_income_limit": "2500", "linshi_advance_completion_working_days": 10,
    "investigation_start_working_days": 3,
    "decision_working_days": {"dibao": 20, "dibao_edge": 20, "tekun": 15, "linshi": 20},
    "decision_extended_working_days": 45, "tekun_confirmation_working_days": 15,
    "rejection_notice_working_days": 3,
    "recheck_months_stable": 12, "recheck_months_irregular": 6, "recheck_months_tekun": 12,
    "phase_out_max_months": 6, "roster_cutoff_day": 15, "reconcile_by_day": 20, "file_by_day": 20,
    "spot_check_percent": {"dibao": "10", "dibao_edge": "10", "tekun": "30", "linshi": "10"},
    "joint_review_quorum": 5, "investigator_must_recuse": True, "min_investigators": 2,
    "working_age_min": 16, "working_age_max": 60,
}


def terms(**overrides: Any) -> PolicyTerms:
    data = copy.deepcopy(TERMS)
    data.update(overrides)
    return PolicyTerms.from_dict(data)


GRANNY, MOTHER, BOY = "fp-granny", "fp-mother", "fp-boy"


def member(fp: str, name: str, relation: str, born: date, **extra: Any) -> dict[str, Any]:
    return {"fingerprint": fp, "name": name, "relation": relation, "birth_date": born,
            "disability_grade": None, "serious_illness": False, "work_capacity": "full",
            "counted": True, **extra}


def household(urban: bool = False, **extra: Any) -> dict[str, Any]:
    """黎阿婆 (68), her daughter-in-law (40, partial work capacity) and grandson (10)."""
    return {
        "urban": urban,
        "members": [
            member(GRANNY, "黎阿婆", "self", date(1956, 3, 14), work_capacity="none"),
            member(MOTHER, "符阿妹", "child_in_law", date(1984, 5, 2), work_capacity="partial"),
            member(BOY, "黎小明", "grandchild", date(2014, 9, 1)),
        ],
        "incomes": [
            # 3,000 wages over 6 months: 500 a month, counted.
            {"member_fingerprint": MOTHER, "kind": "wage", "amount": "3000", "months": 6},
            # Not counted: the basic residents' pension and a scholarship.
            {"member_fingerprint": GRANNY, "kind": "basic_resident_pension", "amount": "1080",
             "months": 6},
            {"member_fingerprint": BOY, "kind": "scholarship", "amount": "500", "months": 12},
        ],
        "assets": [{"kind": "deposit", "value": Decimal(8000), "exempt": False}],
        **extra,
    }


ALL_ACHIEVED = {a: True for a in ("eating", "dressing", "bed_transfer", "toileting",
                                   "indoor_walking", "bathing")}
