"""标准调整: a new standard (a published policy version) recomputes every live 低保 and 特困
entitlement of a township from the version's effective month; the township sees the list
and confirms it; each change is an Entitlement event with reason 标准调整 (disbursement then
pays or recovers months already on a roster). The real application on SQLite."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from services.review.application import ReviewApplication
from shared.auth import Principal, Role
from shared.errors import Forbidden
from tests.support.actors import BUREAU, LEADER
from tests.support.entitlements import app_on, live
from tests.support.places import GUANGPO, YELIN
from tests.support.review import TERMS

pytestmark = pytest.mark.fast

OTHER = Principal(user_id="lead-guangpo", role=Role.TOWNSHIP_LEADER, township=GUANGPO)


def test_a_new_standard_is_listed_confirmed_and_recorded_once(tmp_path: Path,
                                                              keys_dir: Path) -> None:
    app = app_on(tmp_path, keys_dir)
    app.publish_policy(BUREAU, date(2026, 2, 1), TERMS, "首版")
    app.today = lambda: date(2026, 4, 20)
    app.publish_policy(BUREAU, date(2026, 5, 1),
                       {**TERMS, "dibao_standard_rural": "720", "dibao_standard_urban": "760"},
                       "县政府提高低保标准")
    ours = [live(app, YELIN), live(app, YELIN, urban=True)]
    theirs = live(app, GUANGPO)

    preview = app.standard_change_preview(LEADER, YELIN, 2)
    assert preview["effective_month"] == "2026-05"
    by_id = {i["entitlement_id"]: i for i in preview["items"]}
    assert set(by_id) == {str(e.id) for e in ours}  # only this township's
    for e in ours:
        item = by_id[str(e.id)]
        assert Decimal(item["new"]) > Decimal(item["current"]) == e.monthly_amount

    with pytest.raises(Forbidden):
        app.confirm_standard_change(OTHER, YELIN, 2)
    app.today = lambda: date(2026, 6, 3)  # confirmed late: May is already paid
    done = app.confirm_standard_change(LEADER, YELIN, 2)
    assert done["changed"] == 2
    for e in ours:
        after = app.entitlement(LEADER, e.id)
        last = after.changes[-1]
        assert (last["reasons"], last["effective_month"], after.policy_version) == (
            ["标准调整"], "2026-05", 2)
        assert after.monthly_amount == Decimal(by_id[str(e.id)]["new"])
    assert app.entitlement(OTHER, theirs.id).policy_version == 1
    assert app.confirm_standard_change(LEADER, YELIN, 2)["changed"] == 0  # once


def entitlement_rows(app: ReviewApplication) -> list[dict[str, Any]]:
    t = app.views.entitlements
    with app.read_session() as s:
        return [dict(r._mapping) for r in s.execute(select(t).order_by(t.c.entitlement_id))]


def test_one_save_of_many_events_leaves_the_rows_one_event_at_a_time_would(
        tmp_path: Path, keys_dir: Path) -> None:
    """The projection batches a save's updates (one executemany per run of like updates):
    the rows must end as a replay, one event at a time, leaves them."""
    app = app_on(tmp_path, keys_dir)
    app.publish_policy(BUREAU, date(2026, 2, 1), TERMS, "首版")
    app.publish_policy(BUREAU, date(2026, 5, 1),
                       {**TERMS, "dibao_standard_rural": "720", "dibao_standard_urban": "760"},
                       "县政府提高低保标准")
    ents = [live(app, YELIN, urban=bool(i % 2)) for i in range(4)]
    app.today = lambda: date(2026, 5, 3)
    changes, _ = app._standard_changes(LEADER, YELIN, 2)
    for e, amount, breakdown in changes:
        assert e.restandardise(amount, breakdown, 2, "2026-05", app.today(), LEADER.as_actor())
    today, rhythm = app.today(), app.rhythm_for(app.today())
    first, second = (next(e for e, _, _ in changes if e.id == x.id) for x in ents[:2])
    first.suspend(["外出务工核实中"], today, rhythm, LEADER.as_actor())  # same row, same column:
    first.resume(["核实无误"], today, rhythm, LEADER.as_actor())  # the later one must win
    second.record_recheck(today, "无变化", False, date(2027, 5, 1), LEADER.as_actor())
    app.save(*(e for e, _, _ in changes))

    saved = entitlement_rows(app)
    by_id = {r["entitlement_id"]: r for r in saved}
    assert by_id[str(first.id)]["status"] == "active"
    assert by_id[str(second.id)]["recheck_due"] == date(2027, 5, 1)
    assert {r["monthly_amount"] for r in saved} == {str(e.monthly_amount) for e, _, _ in changes}
    app.rebuild_projections()
    assert entitlement_rows(app) == saved
