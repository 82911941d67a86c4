"""The one way to consume another service's events (shared/reactions.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import uuid4

import pytest

from shared.contracts import Actor, Envelope
from shared.contracts.intake import ApplicationWithdrawn
from shared.contracts.publicity import NoticeOpened
from shared.reactions import Reaction, reacting_to

pytestmark = pytest.mark.fast

TOWNSHIP = "469028100"


def withdrawn(actor: Actor | None) -> Envelope:
    data = ApplicationWithdrawn(application_id=uuid4(), kind="dibao", township=TOWNSHIP,
                                village="469028100201", withdrawn_on=date(2026, 3, 2),
                                reason="家庭情况好转", was_accepted=True)
    return Envelope.sealed("0" * 64, event_id=uuid4(), type=ApplicationWithdrawn.TYPE,
                           version=1, source="intake", region="469028", aggregate_id=uuid4(),
                           aggregate_version=1, position=1,
                           occurred_at=datetime(2026, 3, 2, 1, 30, tzinfo=UTC), actor=actor,
                           township=TOWNSHIP, data=data.model_dump(mode="json"))


def test_the_command_gets_the_contract_and_the_upstream_actor() -> None:
    seen: list[tuple[Any, Reaction]] = []
    table = reacting_to("intake", {ApplicationWithdrawn: lambda e, r: seen.append((e, r))})
    clerk = Actor(user_id="u1", role="township_clerk", township=TOWNSHIP)
    env = withdrawn(clerk)
    table[ApplicationWithdrawn.TYPE](env)
    [(event, reaction)] = seen
    assert isinstance(event, ApplicationWithdrawn) and event.reason == "家庭情况好转"
    assert reaction.actor == clerk.model_dump() and reaction.event_id == str(env.event_id)


def test_without_an_upstream_actor_the_who_is_the_upstream_system() -> None:
    seen: list[Reaction] = []
    reacting_to("intake", {ApplicationWithdrawn: lambda e, r: seen.append(r)})[
        ApplicationWithdrawn.TYPE](withdrawn(None))
    assert seen[0].actor == {"user_id": "system:intake", "role": "system",
                             "township": TOWNSHIP, "village": None}


def test_a_contract_of_another_upstream_is_refused_when_the_table_is_built() -> None:
    with pytest.raises(ValueError, match="publicity"):
        reacting_to("intake", {NoticeOpened: lambda e, r: None})
