"""The store's own save path (shared.eventstore): events inserted by one executemany with
their ids in the order saved, read-model rows batched, and a version conflict still the
library's IntegrityError with nothing of that save committed. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError

from services.review.application import ReviewApplication
from services.review.domain import Entitlement, compute
from services.review.main import ReviewSettings
from services.review.values import Household, OpinionInputs
from shared.auth import Principal, Role
from shared.regions import load_county
from tests.support.review import household, terms

YELIN = "469028100"
LEADER = Principal(user_id="lead-yelin", role=Role.TOWNSHIP_LEADER, township=YELIN)


def review_app(tmp_path: Path, url: str | None) -> ReviewApplication:
    settings = ReviewSettings(var_dir=tmp_path, database_url=url, seed_demo_policy=False,
                              encrypt_at_rest=True)
    return ReviewApplication(settings, settings.calendar, load_county(settings.region))


def entitlement(n: int) -> Entitlement:
    inputs = OpinionInputs(household=Household.of(household()), on=date(2026, 3, 1))
    b = compute("dibao", inputs, terms())
    return Entitlement(case_id=uuid4(), kind="dibao", household_id=None, township=YELIN,
                       village=YELIN + "201", urban=False, applicant_name=f"户主{n}",
                       household_size=3, monthly_amount=b.monthly_amount,
                       breakdown=b.to_stored(), policy_version=1, start_month="2026-03",
                       recheck_due=date(2027, 3, 1), recheck_months=12, payee=None,
                       inputs=inputs.to_stored(), actor=LEADER.as_actor().stored())


def test_a_save_of_many_keeps_order_and_a_conflict_commits_nothing(
        tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("postgres_url") if backend == "postgres" else None
    app = review_app(tmp_path, url)
    ents = [entitlement(n) for n in range(300)]
    recordings = app.save(*ents)
    ids = [r.notification.id for r in recordings]
    assert ids == sorted(ids) and len(set(ids)) == 300
    assert [r.domain_event.originator_id for r in recordings] == [e.id for e in ents]
    # The notification ids are the events' own: the log returns them in that order.
    log = app.notifications(ids[0] - 1, 300)
    assert [(n.id, n.originator_id) for n in log] == list(
        zip(ids, (e.id for e in ents), strict=True))
    assert set(app.get_many([e.id for e in ents])) == {e.id for e in ents}

    stale = app.get(ents[0].id)  # a second writer's copy, loaded before the change
    ents[0].record_recheck(date(2026, 4, 1), "无变化", False, date(2027, 4, 1), LEADER.as_actor())
    app.save(ents[0])
    stale.record_recheck(date(2026, 4, 2), "无变化", False, date(2027, 4, 2), LEADER.as_actor())
    late = entitlement(300)
    with pytest.raises(IntegrityError):
        app.save(late, stale)
    assert late.id not in app.get_many([late.id])
    t = app.views.entitlements
    with app.read_session() as s:
        due = s.execute(t.select().where(t.c.entitlement_id == str(ents[0].id))).one()
        count = s.query(t).count()
    assert (due.recheck_due, count) == (date(2027, 4, 1), 300)
