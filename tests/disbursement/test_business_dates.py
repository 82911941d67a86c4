"""One business time across services: a decision taken at an instant when the machine's
date and China's differ lands on the same roster month in review's decision, disbursement's
ledger and archive's statistics, by the cut-off of review's policy table.

Real applications on their own stores; review's clock is a manual one set to each instant,
and the envelopes carry real (UTC) timestamps, exactly as the relay publishes them.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from services.archive.supervision import Population, Record, rhythms
from services.disbursement.application import upstream_of
from services.review.contracts import ReviewContracts
from services.review.domain import Entitlement
from shared.clock import CHINA, ManualClock, local_date, month_of, today, today_from
from shared.contracts import parse_data
from shared.contracts.review import EntitlementChanged, PolicyChanged
from shared.pii import Keyring
from tests.support.actors import LEADER
from tests.support.disbursement import ReviewStream, application, started
from tests.support.places import TAOYUAN, YELIN
from tests.support.review import TERMS
from tests.support.stack import build_service

pytestmark = pytest.mark.fast

# (instant on review's clock, what China's calendar says, the roster month with the cut-off
# on the 15th, and the envelope's real timestamp when it differs from review's clock)
INSTANTS = [
    # 23:30 UTC: already the next day in China.
    (datetime(2026, 6, 9, 23, 30, tzinfo=UTC), date(2026, 6, 10), "2026-06"),
    # 16:30 UTC on the 15th: just after the cut-off in China.
    (datetime(2026, 6, 15, 16, 30, tzinfo=UTC), date(2026, 6, 16), "2026-07"),
    # 17:00 UTC on the last day of a month: already the 1st in China.
    (datetime(2026, 6, 30, 17, 0, tzinfo=UTC), date(2026, 7, 1), "2026-07"),
    # 31 December to 1 January.
    (datetime(2026, 12, 31, 16, 30, tzinfo=UTC), date(2027, 1, 1), "2027-01"),
    # Decided at 23:50 on the 15th by review's clock; the event's real timestamp reads 00:10
    # on the 16th (a host clock 20 minutes behind): the decision's date, not the timestamp.
    (datetime(2026, 6, 15, 15, 50, tzinfo=UTC), date(2026, 6, 15), "2026-06",
     datetime(2026, 6, 15, 16, 10, tzinfo=UTC)),
]


def policy(cutoff_from_june: int) -> list[dict[str, Any]]:
    """Two versions: the plan's 15th, then (from June 2026) the given cut-off."""
    return [{"effective_from": "2015-01-01", "reason": "the plan", "terms": TERMS},
            {"effective_from": "2026-06-01", "reason": "the county moves its cut-off",
             "terms": {**TERMS, "roster_cutoff_day": cutoff_from_june}}]


def review_app(tmp_path: Path, keys_dir: Path, versions: list[dict[str, Any]]) -> Any:
    rt = build_service("review", tmp=tmp_path / "review", keys_dir=keys_dir,
                       nats_url="nats://127.0.0.1:1", database_url=None,
                       seed_demo_policy=False)
    assert rt.app.seed_policy(versions)
    return rt.app


def envelopes_of(app: Any, stream: ReviewStream, at: datetime) -> list[Any]:
    """Review's new events as its relay maps them, stamped with the real instant."""
    contracts = ReviewContracts(app, Keyring.load_or_create(
        app.settings.resolved_keyring_file))
    out = []
    for n in app.notifications(stream.position, 100):
        event = app.mapper.to_domain_event(n)
        mapped = contracts(event, n.id)
        stream.position = n.id - 1
        if mapped is not None:
            out.append(stream.envelope(mapped.contract, at, event.originator_id, YELIN))
        stream.position = n.id
    return out


@pytest.mark.parametrize("cutoff", [15, 9, 20])
@pytest.mark.parametrize("case", INSTANTS)
def test_a_decision_lands_on_one_roster_month_everywhere(
        tmp_path: Path, keys_dir: Path, cutoff: int, case: tuple[Any, ...]) -> None:
    instant, china_day, month_at_15 = case[:3]
    stamped = case[3] if len(case) > 3 else instant
    versions = policy(cutoff)
    clock = ManualClock(instant)
    assert today(clock) == china_day
    assert china_day != instant.date() or stamped != instant  # the machine's date differs
    # The oracle: DOMAIN.md's rule, written out here; June 2026 on follow `cutoff`.
    day = cutoff if china_day >= date(2026, 6, 1) else 15
    following = date(china_day.year + china_day.month // 12, china_day.month % 12 + 1, 1)
    expected = month_of(china_day) if china_day.day <= day else month_of(following)
    if cutoff == 15:
        assert expected == month_at_15

    review = review_app(tmp_path, keys_dir, versions)
    review.today = today_from(clock)
    ring = Keyring.load_or_create(keys_dir / "bus-keyring.json")
    start = started(ring, amount="900.00", start_month="2026-01")
    entitlement = Entitlement(
        case_id=start.case_id, kind="dibao", household_id=start.household_id,
        township=YELIN, village=TAOYUAN, urban=False, applicant_name=start.applicant_name,
        household_size=2, monthly_amount=Decimal("900.00"), breakdown={}, policy_version=1,
        start_month="2026-01", recheck_due=date(2027, 1, 1), recheck_months=12,
        payee=start.payee.model_dump(mode="json") if start.payee else None, inputs={},
        actor=LEADER.actor(), decided_on=date(2025, 12, 20))
    review.save(entitlement)
    stream = ReviewStream()
    started_envs = envelopes_of(review, stream, datetime(2025, 12, 20, 2, tzinfo=UTC))

    # Review decides at the instant, on its own clock.
    ent = review.change_status(LEADER, entitlement.id, "suspend", ["外出务工，暂停发放"])
    assert ent.status.value == "suspended"
    changed_envs = envelopes_of(review, stream, stamped)
    (changed_env,) = changed_envs
    change = parse_data(changed_env)
    assert isinstance(change, EntitlementChanged)
    assert change.decided_on == china_day  # the contract carries the business date
    review_month = change.effective_month
    assert review_month == expected

    # Disbursement: review's policy, then the entitlement, then the change, over the bus.
    disbursement = application(tmp_path / "disbursement", keys_dir)
    # Review's own envelopes: its policy versions as seeded, then the entitlement.
    policy_envs = [e for e in started_envs if e.type == PolicyChanged.TYPE]
    (start_env,) = [e for e in started_envs if e.type == "entitlement_started"]
    assert len(policy_envs) == 2
    for env in policy_envs:
        disbursement.record_policy(parse_data(env), upstream_of(env))
    disbursement.record_entitlement_started(parse_data(start_env), upstream_of(start_env))
    disbursement.record_entitlement_changed(change, upstream_of(changed_env))
    entry = disbursement.get(disbursement_ledger_id(change.entitlement_id))
    assert entry.steps[-1].month == expected

    # Archive: the business date decides the statistics month, review's table the rhythm.
    records = [Record(source=e.source, type=e.type, position=e.position, at=e.occurred_at,
                      township=e.township, case_id=e.case_id, household_id=e.household_id,
                      actor_user=e.actor.user_id if e.actor else None,
                      actor_role=e.actor.role if e.actor else None,
                      data=json.loads(json.dumps(e.data)), hash=e.hash, zone=CHINA)
               for e in [*policy_envs, start_env, changed_env]]
    decided = next(r for r in records if r.type == "entitlement_changed")
    assert decided.day() == china_day  # the contract's date, whatever the timestamp says
    assert decided.local_date == local_date(stamped, CHINA) != stamped.date()
    assert rhythms(records).for_decision(china_day).cutoff_day == day
    population = Population.fold(records)
    steps = population.entitlements[str(change.entitlement_id)].steps
    assert steps[-1][0] == expected == entry.steps[-1].month == review_month


def disbursement_ledger_id(entitlement_id: Any) -> Any:
    from services.disbursement.domain import ledger_id
    return ledger_id(entitlement_id)
