"""Review's test data and steps: a policy version with round numbers, 黎阿婆's household
as intake's acceptance hands it over, and a case taken through its stages by the proper
roles."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import httpx

from services.review.domain import PolicyTerms
from shared.auth import Role
from shared.contracts import Actor
from shared.contracts.intake import ApplicationAcceptedV1
from shared.pii import Keyring, make_resident_id, mask_resident_id
from shared.runtime import ServiceRuntime
from tests.support.actors import CLERK
from tests.support.places import TAOYUAN, YELIN

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


GRANNY_BORN, MOTHER_BORN, BOY_BORN = date(1956, 3, 14), date(1984, 5, 2), date(2014, 9, 1)


def people(keyring: Keyring) -> list[dict[str, Any]]:
    out = []
    for seq, (name, relation, born, sex, extra) in enumerate([
        ("黎阿婆", "self", GRANNY_BORN, "female", {"work_capacity": "none"}),
        ("符阿妹", "child_in_law", MOTHER_BORN, "female", {"work_capacity": "partial"}),
        ("黎小明", "grandchild", BOY_BORN, "male", {}),
    ]):
        rid = make_resident_id("469028", born, seq + 10, sex)
        out.append({"name": name, "relation": relation, "birth_date": born,
                    "resident_id": keyring.seal(rid, mask_resident_id(rid), "member.resident_id"),
                    "fingerprint": keyring.fingerprint(rid), **extra})
    return out


def acceptance(keyring: Keyring, *, kind: str = "dibao", township: str = YELIN,
               village: str = TAOYUAN, accepted_on: date = date(2025, 3, 3),
               linshi_type: str | None = None, applicant_born: date | None = None,
               application_id: UUID | None = None, **extra: Any) -> ApplicationAcceptedV1:
    """intake's ApplicationAccepted v1 (in clear) for 黎阿婆's household (wages 3,000
    over 6 months)."""
    members = people(keyring)
    if applicant_born is not None:
        members[0]["birth_date"] = applicant_born
    mother = members[1]["fingerprint"]
    data: dict[str, Any] = {
        "application_id": application_id or uuid4(), "kind": kind, "township": township,
        "village": village, "accepted_on": accepted_on, "applicant_name": "黎阿婆",
        "members": members, "close_relative_declared": False, "household_id": "hh-li-001",
        "linshi_type": linshi_type, "urban": False,
        "incomes": [
            {"member_fingerprint": mother, "kind": "wage", "amount": Decimal(3000), "months": 6},
            {"member_fingerprint": members[0]["fingerprint"], "kind": "basic_resident_pension",
             "amount": Decimal(1080), "months": 6},
        ],
        "assets": [{"kind": "deposit", "value": Decimal(8000)}],
        "bank_account": {"bank": "海南农信", "holder_name": "黎阿婆",
                         "account": keyring.seal("6228480123456789012", "***************9012",
                                                 "bank_account")},
    }
    data.update(extra)
    return ApplicationAcceptedV1.model_validate(data)


INTAKE_CLERK = CLERK.as_actor()


PANEL = [
    {"user_id": "u-lead", "name": "镇长", "role": "leader", "present": True,
     "opinion": "approve"},
    {"user_id": "u-dep", "name": "副镇长", "role": "deputy", "present": True,
     "opinion": "approve"},
    {"user_id": "u-jw", "name": "纪委委员", "role": "discipline", "present": True,
     "opinion": "approve"},
    {"user_id": "u-dir", "name": "中心主任", "role": "member", "present": True,
     "opinion": "approve"},
    {"user_id": "u-staff", "name": "民政专干", "role": "member", "present": True,
     "opinion": "approve"},
]


REPORT = {"bank": "two accounts, 8,000 in total", "tax": "no tax records",
          "real_estate": "one rural home", "vehicles": "none",
          "social_insurance": "basic residents' pension", "business_registration": "none",
          "conclusion": "consistent with the declaration"}


def visit_body(**extra: Any) -> dict[str, Any]:
    return {"visited_on": "2025-03-05", "investigators": ["王调查", "陈调查"],
            "members_present": ["黎阿婆", "符阿妹"],
            "signed_by": ["王调查", "陈调查", "黎阿婆"],
            "documents": [{"document_id": "arc-0001", "kind": "form"},
                          {"document_id": "arc-0002", "kind": "photo",
                           "description": "the kitchen"}],
            **extra}


async def to_reviewed(http: httpx.AsyncClient, as_: Any, case_id: str,
                      outcome: str = "approve") -> None:
    """Assignment → home visit → verification → joint review, all by their proper roles."""
    clerk = as_(Role.TOWNSHIP_CLERK)
    steps = [
        (f"/cases/{case_id}/investigation/assign", clerk, {"investigators": [
            {"user_id": "u-w", "name": "王调查"}, {"user_id": "u-c", "name": "陈调查"}]}),
        (f"/cases/{case_id}/investigation/visits", clerk, visit_body()),
        (f"/cases/{case_id}/verification/request", clerk, None),
        (f"/cases/{case_id}/verification/report", as_(Role.COUNTY_CENTRE), REPORT),
        (f"/cases/{case_id}/joint-review", as_(Role.TOWNSHIP_REVIEWER), {
            "held_on": "2025-03-07", "outcome": outcome,
            "members": [{**m, "opinion": outcome} for m in PANEL]}),
    ]
    for path, headers, body in steps:
        r = await http.post(path, json=body, headers=headers)
        assert r.status_code in (200, 201), (path, r.text)


def opened(review: ServiceRuntime, keyring: Keyring, **kw: Any) -> str:
    """Open a case the way the reaction to intake's acceptance does."""
    return str(review.app.open_case(acceptance(keyring, **kw), INTAKE_CLERK))


async def publicity_clean(review: ServiceRuntime, case_id: str, round_: int = 1,
                          closed_on: date = date(2025, 3, 18)) -> None:
    # What the reaction to publicity's NoticeClosed(subject="opinion") runs.
    review.app.publicity_closed(UUID(case_id), uuid4(), round_, "clean", None, closed_on,
                                Actor(user_id="system:publicity", role="township_clerk",
                                      township=YELIN))


async def confirmed(http: httpx.AsyncClient, review: ServiceRuntime, keyring: Keyring,
                    as_: Any, kind: str = "dibao", **opinion: Any) -> str:
    case_id = opened(review, keyring, kind=kind)
    await to_reviewed(http, as_, case_id)
    leader = as_(Role.TOWNSHIP_LEADER)
    r = await http.post(f"/cases/{case_id}/opinion", json={"approve": True, **opinion},
                        headers=leader)
    assert r.status_code == 201, r.text
    await publicity_clean(review, case_id)
    r = await http.post(f"/cases/{case_id}/confirm", json={"notice": "准予"}, headers=leader)
    return str(r.json()["entitlement_id"])
