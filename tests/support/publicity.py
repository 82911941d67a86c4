"""Review's side of the contract, produced the way review's relay would, and a publicity
service on a manual clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from services.publicity.main import PublicityRuntime, build
from shared.bus import TrackedConsumer
from shared.clock import CHINA, ManualClock
from shared.contracts import GENESIS_HASH, Actor, Envelope, IntegrationEvent, event_id_for
from shared.contracts.review import (
    EntitlementChanged,
    EntitlementStarted,
    OpinionIssued,
    TerminationNoticeRequested,
)
from tests.support import actors
from tests.support.places import TAOYUAN, YELIN
from tests.support.signing import sealed
from tests.support.stack import NO_NATS, service_settings

MONDAY = datetime(2025, 3, 3, 9, 0, tzinfo=CHINA)
LEADER = actors.LEADER.as_actor()


@dataclass
class ReviewStream:
    """Numbers and chains review envelopes like review's outbox relay: per-stream positions,
    per-aggregate versions and hash chains, deterministic event ids."""

    position: int = 0
    versions: dict[UUID, int] = field(default_factory=dict)
    heads: dict[UUID, str] = field(default_factory=dict)

    def envelope(self, contract: IntegrationEvent, aggregate_id: UUID,
                 actor: Actor | None = LEADER, household_id: str | None = None) -> Envelope:
        self.position += 1
        version = self.versions.get(aggregate_id, 0) + 1
        self.versions[aggregate_id] = version
        data = contract.model_dump(mode="json")
        env = sealed(
            self.heads.get(aggregate_id, GENESIS_HASH),
            event_id=event_id_for("review", aggregate_id, version), type=contract.TYPE,
            version=contract.VERSION, source="review", region="469028",
            aggregate_id=aggregate_id, aggregate_version=version, position=self.position,
            occurred_at=MONDAY, actor=actor, case_id=str(data.get("case_id")),
            household_id=household_id, township=data.get("township"), data=data)
        self.heads[aggregate_id] = env.hash
        return env


def opinion(case_id: UUID, round_: int = 1, **overrides: Any) -> OpinionIssued:
    body: dict[str, Any] = dict(
        case_id=case_id, application_id=uuid4(), kind="dibao", township=YELIN,
        village=TAOYUAN, round=round_, approve=True, monthly_amount=Decimal("640"),
        reasons=["人均收入低于当地低保标准"], applicant_name="黎阿婆", household_size=2)
    body.update(overrides)
    return OpinionIssued(**body)


def started(entitlement_id: UUID, **overrides: Any) -> EntitlementStarted:
    body: dict[str, Any] = dict(
        entitlement_id=entitlement_id, case_id=uuid4(), kind="dibao", township=YELIN,
        village=TAOYUAN, urban=False, applicant_name="黎阿婆", household_size=2,
        monthly_amount=Decimal("640"), breakdown={}, start_month="2025-01",
        policy_version=1)
    body.update(overrides)
    return EntitlementStarted(**body)


def changed(entitlement_id: UUID, change: str, amount: str, month: str,
            **overrides: Any) -> EntitlementChanged:
    body: dict[str, Any] = dict(
        entitlement_id=entitlement_id, case_id=uuid4(), kind="dibao", township=YELIN,
        village=TAOYUAN, change=change, monthly_amount=Decimal(amount), household_size=2,
        effective_month=month)
    body.update(overrides)
    return EntitlementChanged(**body)


def termination(entitlement_id: UUID, case_id: UUID, **overrides: Any
                ) -> TerminationNoticeRequested:
    body: dict[str, Any] = dict(
        entitlement_id=entitlement_id, case_id=case_id, kind="tekun", township=YELIN,
        village=TAOYUAN, applicant_name="黎阿公", household_size=1, reasons=["供养对象死亡"])
    body.update(overrides)
    return TerminationNoticeRequested(**body)


def build_publicity(tmp: Path, keys_dir: Path, nats_url: str = NO_NATS,
                    database_url: str | None = None, clock: ManualClock | None = None,
                    **overrides: Any) -> PublicityRuntime:
    settings = service_settings("publicity", tmp=tmp, keys_dir=keys_dir, nats_url=nats_url,
                                database_url=database_url, **overrides)
    rt = build(settings, clock=clock or ManualClock(MONDAY))
    assert isinstance(rt, PublicityRuntime)
    return rt


def deliver(rt: PublicityRuntime, env: Envelope) -> bool:
    """Through the tracked consumer as a JetStream copy goes, without the wire (API tests)."""
    consumer = TrackedConsumer(rt.app, rt.bus, "review", rt.reactions["review"])
    return consumer.deliver(env)


def days(n: int) -> timedelta:
    return timedelta(days=n)
