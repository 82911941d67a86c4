"""Build valid integration-event chains the way the relays do (Envelope.sealed), so the
archive can be fed the streams of intake, review and publicity without running them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa

from shared.contracts import GENESIS_HASH, Actor, Envelope, event_id_for
from tests.support.places import TAOYUAN, YELIN
from tests.support.signing import sealed

T0 = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)  # Monday 09:00 in Lingshui


def actor(user: str, role: str, township: str | None = YELIN) -> Actor:
    return Actor(user_id=user, role=role, township=township)


class Streams:
    """Per-source positions and per-aggregate chain heads, as each service's relay keeps."""

    def __init__(self) -> None:
        self.positions: dict[str, int] = {}
        self.heads: dict[UUID, str] = {}
        self.versions: dict[UUID, int] = {}

    def emit(self, source: str, type_: str, aggregate_id: UUID, data: dict[str, Any], *,
             at: datetime, who: Actor | None, case_id: str | None, township: str | None,
             household_id: str | None = None) -> Envelope:
        position = self.positions.get(source, 0) + 1
        version = self.versions.get(aggregate_id, 0) + 1
        env = sealed(
            self.heads.get(aggregate_id, GENESIS_HASH),
            event_id=event_id_for(source, aggregate_id, version), type=type_, version=1,
            source=source, region="469028", aggregate_id=aggregate_id,
            aggregate_version=version, position=position, occurred_at=at, actor=who,
            case_id=case_id, household_id=household_id, township=township, data=data)
        self.positions[source], self.versions[aggregate_id] = position, version
        self.heads[aggregate_id] = env.hash
        return env


def tampered(env: Envelope, **data: Any) -> Envelope:
    """The same envelope with its data edited after sealing (the hash no longer fits)."""
    return Envelope.model_validate({**env.model_dump(mode="json"),
                                    "data": {**env.data, **data}})


def dibao_case(streams: Streams, *, township: str = YELIN, village: str = TAOYUAN,
               household_id: str | None = "HH-0001", decided_after_days: int = 10,
               investigated: bool = False, close_relative: bool = False,
               ) -> tuple[str, str, list[Envelope]]:
    """A 低保 case across intake → review → publicity → review; returns (application id,
    review case id, envelopes in publishing order)."""
    application, case = uuid4(), uuid4()
    clerk = actor("clerk-yelin-1", "township_clerk", township)
    leader = actor("lead-yelin", "township_leader", township)
    out = [
        streams.emit("intake", "application_submitted", application, {
            "application_id": str(application), "kind": "dibao", "township": township,
            "village": village, "household_size": 2,
            "close_relative_declared": close_relative},
            at=T0, who=clerk, case_id=str(application), township=township),
        streams.emit("intake", "application_accepted", application, {
            "application_id": str(application), "kind": "dibao", "township": township,
            "village": village, "accepted_on": "2025-03-03", "applicant_name": "黎阿婆",
            "members": [], "close_relative_declared": close_relative,
            "household_id": household_id},
            at=T0 + timedelta(hours=1), who=clerk, case_id=str(application),
            township=township, household_id=household_id),
        streams.emit("review", "case_opened", case, {
            "case_id": str(case), "application_id": str(application), "kind": "dibao",
            "township": township, "village": village, "accepted_on": "2025-03-03",
            "investigation_due": "2025-03-06", "decision_due": "2025-03-31",
            "deadlines_provisional": False, "close_relative_declared": close_relative},
            at=T0 + timedelta(hours=2), who=clerk, case_id=str(case), township=township),
    ]
    if investigated:
        out.append(streams.emit("review", "investigation_started", case, {
            "case_id": str(case), "township": township},
            at=T0 + timedelta(days=1), who=clerk, case_id=str(case), township=township))
    out += [
        streams.emit("review", "opinion_issued", case, {
            "case_id": str(case), "application_id": str(application), "kind": "dibao",
            "township": township, "village": village, "round": 1, "approve": True,
            "monthly_amount": "560.00", "reasons": ["收入低于标准"],
            "applicant_name": "黎阿婆", "household_size": 2},
            at=T0 + timedelta(days=3), who=leader, case_id=str(case), township=township),
        streams.emit("publicity", "notice_opened", uuid4(), {
            "notice_id": str(uuid4()), "case_id": str(case), "subject": "opinion",
            "round": 1, "township": township, "village": village,
            "starts_on": "2025-03-07", "ends_on": "2025-03-14"},
            at=T0 + timedelta(days=4), who=clerk, case_id=str(case), township=township),
        streams.emit("review", "case_confirmed", case, {
            "case_id": str(case), "application_id": str(application), "kind": "dibao",
            "township": township, "village": village,
            "decided_on": (T0 + timedelta(days=decided_after_days)).date().isoformat(),
            "monthly_amount": "560.00"},
            at=T0 + timedelta(days=decided_after_days), who=leader, case_id=str(case),
            township=township),
    ]
    return str(application), str(case), out


def stored(rt: Any, source: str | None = None, type_: str | None = None) -> int:
    """Envelopes the archive holds (of one source, of one type)."""
    t = rt.app.views.envelopes
    q = sa.select(sa.func.count()).select_from(t)
    if source:
        q = q.where(t.c.source == source)
    if type_:
        q = q.where(t.c.type == type_)
    with rt.app.read_session() as s:
        return int(s.execute(q).scalar_one())
