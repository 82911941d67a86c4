"""What a county may set each policy term to: the ranges beside `PolicyTerms` (domain.py),
declared once. The API's input model is built from PolicyTerms' fields and these bounds,
so a term added to the domain without its bounds fails at import, not in production.

Pure data, like the domain: no framework. `PolicyTerms.check()` keeps the rules that tie
terms to each other (a 特困 minor age below the elderly age, at least 30% of 特困 spot
checks); these are each term's own range.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from services.review.domain import _ROUNDING, SelfCareTier  # the domain's own lists
from shared.contracts.common import AssistanceKind

# The add-on (分类施保) categories a percentage is set for.
ADDON_CATEGORIES = ("elderly", "minor", "severe_disability", "serious_illness")
KINDS = tuple(k.value for k in AssistanceKind)

NOT_SET = object()


@dataclass(frozen=True)
class Bounds:
    """One term's range. Amounts are exact to the fen; a term set per category takes
    exactly `keys`; a term keyed freely (the 临时救助 bands) has 1..`max_keys` keys."""

    ge: int | Decimal | None = None
    gt: int | Decimal | None = None
    le: int | Decimal | None = None
    max_digits: int | None = None
    decimal_places: int | None = None
    min_length: int | None = None
    max_length: int | None = None
    choices: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    max_keys: int | None = None
    key_max_length: int | None = None
    default: Any = NOT_SET  # a new publication may omit the term


MONEY = Bounds(ge=0, max_digits=14, decimal_places=2)
POSITIVE = Bounds(gt=0, max_digits=12, decimal_places=2)
PERCENT = Bounds(ge=0, le=100, max_digits=6, decimal_places=2)
DAYS = Bounds(ge=1, le=366)
ANY = Bounds()  # PolicyTerms.check() alone rules (a choice of values, or a cross-term rule)


def by(keys: tuple[str, ...], each: Bounds) -> Bounds:
    return Bounds(**{**each.__dict__, "keys": keys})


TERM_BOUNDS: dict[str, Bounds] = {
    "illustrative": ANY,
    "label": Bounds(min_length=1, max_length=200),
    "dibao_standard_urban": POSITIVE,
    "dibao_standard_rural": POSITIVE,
    "assessment_months": ANY,  # 6 or 12
    "rounding_quantum": ANY,  # 1, 0.1 or 0.01
    "rounding_mode": Bounds(choices=tuple(_ROUNDING)),
    "addon_percent": by(ADDON_CATEGORIES, PERCENT),
    "addon_elderly_age": Bounds(ge=0, le=120),
    "addon_minor_age": Bounds(ge=0, le=30),
    "severe_disability_max_grade": Bounds(ge=1, le=4),
    "financial_asset_limit_months": Bounds(ge=0, le=240),
    "vehicle_allowed": ANY,
    "extra_housing_allowed": ANY,
    "tekun_basic_multiple": POSITIVE,
    "tekun_care_standard": by(tuple(t.value for t in SelfCareTier), MONEY),
    "dibao_edge_multiple": POSITIVE,
    "dibao_edge_validity_months": Bounds(ge=1, le=60),
    "linshi_bands": Bounds(gt=0, max_digits=12, decimal_places=2, max_keys=10,
                           key_max_length=32),
    "linshi_township_ceiling_multiple": POSITIVE,
    "linshi_max_instalments": Bounds(ge=1, le=24),
    "linshi_expenditure_income_limit": POSITIVE,
    "linshi_advance_completion_working_days": DAYS,
    "investigation_start_working_days": DAYS,
    "decision_working_days": by(KINDS, DAYS),
    "decision_extended_working_days": DAYS,
    "tekun_confirmation_working_days": DAYS,
    "rejection_notice_working_days": DAYS,
    "recheck_months_stable": Bounds(ge=1, le=24),
    "recheck_months_irregular": Bounds(ge=1, le=24),
    "recheck_months_tekun": Bounds(ge=1, le=24),
    "phase_out_max_months": ANY,  # 1..6
    "roster_cutoff_day": ANY,  # a day of the month
    "reconcile_by_day": Bounds(default=20),  # on or after the cut-off
    "file_by_day": Bounds(default=20),
    "spot_check_percent": by(KINDS, PERCENT),
    "joint_review_quorum": Bounds(ge=1, le=30),
    "investigator_must_recuse": ANY,
    "min_investigators": ANY,  # at least 2
    "tekun_elderly_age": Bounds(ge=1, le=120, default=60),
    "tekun_minor_age": Bounds(ge=1, le=120, default=16),
    "tekun_student_minor_age": Bounds(ge=1, le=120, default=18),
    "working_age_min": Bounds(ge=0, le=100),
    "working_age_max": Bounds(ge=0, le=100),
}
