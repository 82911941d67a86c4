"""The application keeps recently used aggregates in memory (a month's rosters are read by
every step). A command's changes reach the cache only through the store: an unsaved
change, a rolled-back transaction or another process's write never leaves it wrong."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.disbursement import application as application_module
from services.disbursement.application import DisbursementApplication, RowBudgetCache
from services.disbursement.domain import RosterStatus
from shared.bankcards import unionpay_card
from tests.support.actors import CLERK
from tests.support.disbursement import application, china, keyring, started, upstream
from tests.support.places import YELIN

pytestmark = pytest.mark.fast

MONTH = "2026-06"


@pytest.fixture
def app(tmp_path: Path, keys_dir: Path) -> DisbursementApplication:
    app = application(tmp_path, keys_dir)
    ring = keyring(keys_dir)
    for i, amount in enumerate(("300.00", "450.00")):
        app.record_entitlement_started(
            started(ring, amount=amount, start_month="2026-01", name=f"户主{i}",
                    account=unionpay_card(f"62220200000000{i}")), upstream(china(date(2026, 1, 5))))
    app.draft_roster(CLERK, YELIN, MONTH, "dibao")
    return app


def test_the_cache_is_on_and_hands_out_copies(app: DisbursementApplication) -> None:
    assert app.repository.cache is not None
    first = app.roster(CLERK, YELIN, MONTH, "dibao")
    first.lock(date(2026, 6, 16), CLERK.as_actor())  # changed, never saved
    again = app.roster(CLERK, YELIN, MONTH, "dibao")
    assert again is not first and again.status is RosterStatus.DRAFTED
    assert again.rows == first.rows and len(again.rows) == 2


def test_a_rolled_back_transaction_leaves_no_trace_in_the_cache(
        app: DisbursementApplication) -> None:
    app.roster(CLERK, YELIN, MONTH, "dibao")  # cached
    with pytest.raises(RuntimeError), app.unit_of_work():
        app.lock_roster(CLERK, YELIN, MONTH, "dibao")
        # Read again inside the transaction: the cached copy fast-forwards to the lock...
        assert app.roster(CLERK, YELIN, MONTH, "dibao").status is RosterStatus.LOCKED
        raise RuntimeError("the request fails after the save")
    # ...which was rolled back: neither the store nor the cache has it.
    roster = app.roster(CLERK, YELIN, MONTH, "dibao")
    assert roster.status is RosterStatus.DRAFTED and roster.version == 1
    app.lock_roster(CLERK, YELIN, MONTH, "dibao")
    assert app.roster(CLERK, YELIN, MONTH, "dibao").status is RosterStatus.LOCKED


def test_another_process_writes_are_seen(app: DisbursementApplication, tmp_path: Path,
                                         keys_dir: Path) -> None:
    assert app.roster(CLERK, YELIN, MONTH, "dibao").status is RosterStatus.DRAFTED  # cached
    other = application(tmp_path, keys_dir)  # a second process on the same store
    try:
        other.lock_roster(CLERK, YELIN, MONTH, "dibao")
    finally:
        other.close()
    roster = app.roster(CLERK, YELIN, MONTH, "dibao")
    assert roster.status is RosterStatus.LOCKED and roster.digest is not None


def test_a_roster_over_the_row_budget_is_served_from_the_store_not_kept(
        app: DisbursementApplication, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(application_module, "AGGREGATE_CACHE_ROWS", 2)  # 2 rows + 1 > 2
    app._forget_cached()
    rid = app.roster(CLERK, YELIN, MONTH, "dibao").id
    assert rid not in app.repository.cache._lru  # type: ignore[union-attr]
    app.lock_roster(CLERK, YELIN, MONTH, "dibao")
    roster = app.roster(CLERK, YELIN, MONTH, "dibao")
    assert roster.status is RosterStatus.LOCKED and len(roster.rows) == 2
    monkeypatch.setattr(application_module, "AGGREGATE_CACHE_ROWS", 3)
    app._forget_cached()
    rid = app.roster(CLERK, YELIN, MONTH, "dibao").id
    assert rid in app.repository.cache._lru  # type: ignore[union-attr]


class _Weighed:
    def __init__(self, rows: int, tag: int) -> None:
        self.rows, self.tag = range(rows), tag


@settings(max_examples=300, deadline=None)
@given(maxsize=st.integers(1, 5), budget=st.integers(1, 30),
       ops=st.lists(st.tuples(st.sampled_from(("put", "get", "evict")), st.integers(0, 6),
                              st.integers(0, 12)), max_size=60))
def test_the_row_budget_cache_is_an_lru_within_both_bounds(
        maxsize: int, budget: int, ops: list[tuple[str, int, int]]) -> None:
    cache = RowBudgetCache(maxsize, budget)
    model: list[tuple[int, _Weighed]] = []  # oldest first: the oracle
    for tag, (op, k, rows) in enumerate(ops):
        key = UUID(int=k)
        held = next((i for i, (mk, _) in enumerate(model) if mk == k), None)
        if op == "put":
            value = _Weighed(rows, tag)
            if held is not None:
                model.pop(held)
            if rows + 1 <= budget:
                model.append((k, value))
                while len(model) > maxsize or sum(len(v.rows) + 1 for _, v in model) > budget:
                    model.pop(0)
            cache.put(key, value)
        elif held is None:
            with pytest.raises(KeyError):
                cache.get(key, evict=op == "evict")
        else:
            _, expected = model.pop(held) if op == "evict" else model[held]
            if op == "get":
                model.append(model.pop(held))
            assert cache.get(key, evict=op == "evict") is expected
        assert [UUID(int=k) for k, _ in model] == list(cache._lru)
        assert cache._weight == sum(len(v.rows) + 1 for _, v in model) <= budget
        assert len(cache._lru) <= maxsize
