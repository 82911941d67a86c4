"""Chain checkpoints (issue 16): truncation becomes detectable.

A per-aggregate hash chain cannot show that its newest links, or a whole aggregate, were
deleted from a copy. So every `every` published events, at least once a day, and once the
log has been quiet for a while (so the newest events are not left uncovered), the relay
records a checkpoint: a domain event of its own one-event aggregate holding every chain
head that moved since the previous checkpoint and the log position it covers, and linking
to the previous checkpoint's envelope hash. It is published like any event (so it is in
the stream, the chain and, once envelopes are signed, signed); archive checks its copy
against the heads and names what is missing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event
from sqlalchemy import delete, func, select

from shared.contracts.audit import ChainCheckpointed, CheckpointHead

SYSTEM_ACTOR = {"user_id": "chain-checkpoint", "role": "system", "township": None,
                "village": None}


def checkpoint_id(source: str, seq: int) -> UUID:
    return uuid5(NAMESPACE_URL, f"lingshui:chain-checkpoint:{source}:{seq}")


class ChainCheckpoint(Aggregate):
    """One checkpoint: one event, so recording the next never replays the earlier ones."""

    @staticmethod
    def create_id(source: str, seq: int, **_: Any) -> UUID:
        return checkpoint_id(source, seq)

    @event("Recorded")
    def __init__(self, source: str, seq: int, position: int, previous_position: int,
                 previous_hash: str | None, aggregates: int, heads: list[dict[str, Any]],
                 actor: dict[str, Any]) -> None:
        self.source, self.seq, self.position = source, seq, position


def contract_of(event: Any) -> ChainCheckpointed | None:
    if not isinstance(event, ChainCheckpoint.Recorded):
        return None
    return ChainCheckpointed(
        seq=event.seq, position=event.position, previous_position=event.previous_position,
        previous_hash=event.previous_hash, aggregates=event.aggregates,
        heads=[CheckpointHead(**h) for h in event.heads])


class Checkpointer:
    """Decides when a checkpoint is due and records it (the relay calls it after a batch)."""

    def __init__(self, app: Any, every: int = 1000,
                 max_age: timedelta = timedelta(days=1),
                 idle_after: timedelta = timedelta(minutes=1)) -> None:
        self.app, self.every, self.max_age, self.idle_after = app, every, max_age, idle_after
        self.key = f"{app.name}#checkpoint-seq"  # a row in the relay position table
        self.started = datetime.now(UTC)
        self._last: ChainCheckpoint | None = None

    def _newest(self) -> ChainCheckpoint | None:
        seq = self.app.relay_position(self.key)  # read each time: another replica may write
        if seq and (self._last is None or self._last.seq != seq):
            self._last = self.app.repository.get(checkpoint_id(self.app.name, seq))
        return self._last if seq else None

    def maybe_record(self, position: int, idle: bool = False) -> ChainCheckpoint | None:
        """Due every `every` events, after `max_age`, or once the log has been quiet for
        `idle_after` since the last checkpoint: so the newest events are not left
        uncovered for a day when a service goes quiet."""
        last = self._newest()
        covered = last.position if last else 0
        # Beyond the last checkpoint's own event, which it cannot cover.
        news = position - covered - (1 if last else 0)
        age = datetime.now(UTC) - (last.created_on if last else self.started)
        if news <= 0 or (news < self.every and age < self.max_age
                         and not (idle and age >= self.idle_after)):
            return None
        return self._record((last.seq if last else 0) + 1, covered, position)

    def _record(self, seq: int, covered: int, position: int) -> ChainCheckpoint:
        app, k = self.app, self.app.kernel
        t, o = k.chain_heads, k.outbox
        with app.read_session() as s:
            # Heads move at commit now, possibly past `position`: the heads the range
            # (covered, position] left are its outbox rows' newest per aggregate (rows stay
            # until a checkpoint covers them). Heads a relay moved before the outbox existed
            # (no version) are read from the chain heads, as they were then.
            newest: dict[str, tuple[str, int]] = {
                r[0]: (r[1], int(r[2])) for r in s.execute(
                    select(t.c.aggregate_id, t.c.last_hash, t.c.position)
                    .where(t.c.position > covered, t.c.position <= position,
                           t.c.version.is_(None)))}
            # Driver SQL: a thousand rows per checkpoint, read without Core's row processing.
            for agg, digest, at in s.connection().exec_driver_sql(
                    f"SELECT aggregate_id, hash, position FROM {o.name} WHERE position > "
                    f"{int(covered)} AND position <= {int(position)} ORDER BY position"):
                newest[agg] = (digest, int(at))
            heads = [{"aggregate_id": a, "hash": h, "position": p}
                     for a, (h, p) in sorted(newest.items(), key=lambda kv: kv[1][1])]
            total = int(s.execute(select(func.count()).select_from(t)).scalar_one())
        previous = app.chain_heads([str(checkpoint_id(app.name, seq - 1))]) if seq > 1 else {}
        cp = ChainCheckpoint(source=app.name, seq=seq, position=position,
                             previous_position=covered,
                             previous_hash=next(iter(previous.values()), None),
                             aggregates=total, heads=heads, actor=SYSTEM_ACTOR)
        with app.unit_of_work() as s:
            app.save(cp)
            app.set_relay_position(s, self.key, seq)
            # Published and now covered: what the next checkpoint needs starts after them.
            s.execute(delete(o).where(o.c.position <= position))
        return cp
