"""注销 for a death or a fraud (issue 18): backdated to the first month not due, and the
EntitlementChanged review publishes states the cause and, for fraud, the fine (1 to 3 times,
S1 Art. 68) with its reason, so disbursement recovers the months paid since and records the
fine. Bad input is a RuleViolation naming its field. The real application on SQLite."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.review.application import ReviewApplication
from services.review.contracts import ReviewContracts
from services.review.domain import Entitlement
from shared.auth import Role
from shared.contracts.review import EntitlementChanged
from shared.errors import RuleViolation
from shared.fieldcrypt import Keyring
from shared.runtime import ServiceRuntime
from tests.support.actors import BUREAU, LEADER
from tests.support.entitlements import app_on, live
from tests.support.places import YELIN
from tests.support.review import TERMS, confirmed
from tests.support.web import PROBLEM, assert_problem


def published(app: ReviewApplication, keys_dir: Path) -> list[EntitlementChanged]:
    """What the outbox relay would publish for the entitlements' changes so far."""
    contracts = ReviewContracts(app, Keyring.load_or_create(keys_dir / "bus-keyring.json"))
    out = [contracts(app.mapper.to_domain_event(n), n.id)
           for n in app.notifications(0, 1000)]
    return [o.contract for o in out if o and isinstance(o.contract, EntitlementChanged)]


@pytest.fixture
def app(tmp_path: Path, keys_dir: Path) -> ReviewApplication:
    app = app_on(tmp_path, keys_dir)
    app.publish_policy(BUREAU, date(2026, 2, 1), TERMS, "首版")
    return app


def test_a_death_ends_the_benefit_from_the_month_after_backdated(
        app: ReviewApplication, keys_dir: Path) -> None:
    e = live(app, YELIN)
    app.today = lambda: date(2026, 6, 10)  # reported in June: died in March
    ended = app.end_for_cause(LEADER, e.id, "death", "2026-04", ["户主于2026年3月去世"])
    assert (ended.status.value, ended.ends_after) == ("terminated", "2026-03")
    [changed] = published(app, keys_dir)
    assert (changed.change, changed.monthly_amount, changed.effective_month) == (
        "terminate", Decimal(0), "2026-04")
    assert (changed.cause, changed.fine_multiple, changed.fine_reason) == ("death", None, None)


def test_fraud_carries_the_fine_decided_with_its_reason(app: ReviewApplication,
                                                        keys_dir: Path) -> None:
    e = live(app, YELIN)
    app.today = lambda: date(2026, 7, 2)
    app.end_for_cause(LEADER, e.id, "fraud", "2026-03", ["隐瞒务工收入骗取低保"],
                      fine_multiple=Decimal("2"), fine_reason="隐瞒收入金额较大，情节较重")
    [changed] = published(app, keys_dir)
    assert (changed.cause, changed.fine_multiple, changed.fine_reason,
            changed.effective_month) == ("fraud", Decimal(2), "隐瞒收入金额较大，情节较重",
                                         "2026-03")
    # An end without a cause states none (the field is optional on the contract).
    other = live(app, YELIN)
    app.change_status(LEADER, other.id, "terminate", ["不再符合条件"])
    assert published(app, keys_dir)[-1].cause is None


@pytest.mark.parametrize(("cause", "month", "fine", "reason", "field"), [
    ("illness", "2026-04", None, None, "cause"),
    ("death", "2026-4", None, None, "first_month_not_due"),
    ("death", "2026-09", None, None, "first_month_not_due"),  # after the decision's month
    ("death", "2026-04", Decimal(1), "罚款", "fine_multiple"),  # a fine only for fraud
    ("fraud", "2026-04", Decimal("0.5"), "罚款", "fine_multiple"),
    ("fraud", "2026-04", Decimal("3.5"), "罚款", "fine_multiple"),
    ("fraud", "2026-04", Decimal(2), " ", "fine_reason"),  # a decision needs its reason
    ("fraud", "2026-04", None, "罚款", "fine_multiple"),
])
def test_a_bad_cause_month_or_fine_is_refused_naming_its_field(
        app: ReviewApplication, cause: str, month: str, fine: Decimal | None,
        reason: str | None, field: str) -> None:
    e = live(app, YELIN)
    app.today = lambda: date(2026, 6, 10)
    with pytest.raises(RuleViolation) as err:
        app.end_for_cause(LEADER, e.id, cause, month, ["核实"], fine_multiple=fine,
                          fine_reason=reason)
    assert err.value.field == field
    assert app.entitlement(LEADER, e.id).status.value == "active"  # nothing recorded


def test_tekun_goes_to_publicity_and_ends_from_the_first_month_not_due(
        app: ReviewApplication, keys_dir: Path) -> None:
    e = live(app, YELIN)
    tekun = Entitlement(**{**_started(e), "kind": "tekun"})
    app.save(tekun)
    app.today = lambda: date(2026, 6, 10)
    ended = app.end_for_cause(LEADER, tekun.id, "death", "2026-05", ["供养对象于4月去世"])
    assert ended.status.value == "termination_pending"
    app.termination_notice_closed(tekun.case_id, "clean", None, date(2026, 6, 18),
                                  LEADER.as_actor())
    assert app.entitlement(LEADER, tekun.id).ends_after == "2026-04"
    [changed] = [c for c in published(app, keys_dir) if c.entitlement_id == tekun.id]
    assert (changed.cause, changed.effective_month) == ("death", "2026-05")


def _started(e: Entitlement) -> dict[str, Any]:
    from uuid import uuid4
    return dict(case_id=uuid4(), household_id=None, township=e.township, village=e.village,
                urban=e.urban, applicant_name=e.applicant_name,
                household_size=e.household_size, monthly_amount=e.monthly_amount,
                breakdown=e.breakdown, policy_version=1, start_month=e.start_month,
                recheck_due=e.recheck_due, recheck_months=12, payee=None, inputs=e.inputs,
                actor=LEADER.as_actor().stored())


async def test_over_http_bad_input_is_a_problem_naming_its_field(
        http: httpx.AsyncClient, review: ServiceRuntime, keyring: Keyring, as_: Any,
        keys_dir: Path) -> None:
    entitlement_id = await confirmed(http, review, keyring, as_)
    leader = as_(Role.TOWNSHIP_LEADER)
    path = f"/entitlements/{entitlement_id}/end-for-cause"
    fraud = {"cause": "fraud", "first_month_not_due": "2025-04", "reasons": ["隐瞒收入"]}
    r = await http.post(path, headers=leader, json={**fraud, "fine_multiple": "4",
                                                    "fine_reason": "情节严重"})
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM), r.text
    assert "fine_multiple" in r.text
    assert_problem(await http.post(path, headers=leader, json={
        **fraud, "cause": "death", "fine_multiple": "1", "fine_reason": "罚款"}),
        422, "review.fine", "fine_multiple")
    assert_problem(await http.post(path, headers=leader, json={**fraud, "reasons": []}),
                   422, "review.reason_required", "reasons")
    r = await http.post(path, headers=leader, json={**fraud, "fine_multiple": "1.5",
                                                    "fine_reason": "初次违规，主动退回"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "terminated"
    [changed] = [c for c in published(review.app, keys_dir)
                 if str(c.entitlement_id) == entitlement_id]
    assert (changed.cause, changed.fine_multiple) == ("fraud", Decimal("1.5"))
