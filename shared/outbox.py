"""The sealed outbox (issue 23): each event's envelope is built, hash-chained and signed in
the writer's own transaction, so the relay only publishes stored bytes.

- `Sealer.seal_at_commit` runs inside `ServiceApplication._record`, after the events have
  their positions: per event the audit record, the contract, the envelope linked to its
  aggregate's chain head and signed; one outbox row per event, and the heads moved, in the
  same transaction as the events. The audit's "before" is the aggregate's plain values as
  the writer loaded it (`LoadedValues`), its "after" the aggregate being saved: no replay.
- An event committed without a row (before this release, by a process without a sealer,
  or whose aggregate's head was not at the version before it) is sealed by the relay
  (`seal_backlog`), in position order, by the same `envelope` code: the bytes are the same
  whichever path made them.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from shared.audit import AuditRecord, AuditTrail, plain_values
from shared.checkpoint import contract_of as checkpoint_contract
from shared.contracts import GENESIS_HASH, Actor, Envelope, IntegrationEvent, event_id_for
from shared.contracts.envelope import ENVELOPE_ACTOR_FIELDS

if TYPE_CHECKING:
    from shared.eventstore import ServiceApplication
    from shared.signing import BusSigner

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outgoing:
    """What a service's contracts.py maps a domain event to (None: internal, published as
    an audit record only)."""

    contract: IntegrationEvent
    case_id: str | None = None
    household_id: str | None = None
    township: str | None = None


ToIntegration = Callable[[Any, int], Outgoing | None]


class StaleRelay(Exception):
    """Another relay advanced the position first: this one's batch (or sealing) is
    discarded."""


class LoadedValues:
    """The plain values of each aggregate as `get`/`get_many` loaded it, by object, for as
    long as the object lives: at commit they are the audit record's "before" (a county-wide
    save must not replay 200,000 aggregates to learn what it changed)."""

    def __init__(self) -> None:
        self._by_object: dict[int, tuple[Any, int, dict[str, Any]]] = {}

    def remember(self, aggregate: Any) -> None:
        key, by_object = id(aggregate), self._by_object
        # The entry goes with the object (its id may then be reused by another).
        ref = weakref.ref(aggregate, lambda _r: by_object.pop(key, None))
        by_object[key] = (ref, aggregate.version, plain_values(aggregate))

    def values(self, aggregate: Any, version: int) -> dict[str, Any] | None:
        got = self._by_object.get(id(aggregate))
        if got is None or got[0]() is not aggregate or got[1] != version:
            return None
        return got[2]


class Sealer:
    """Turns committed domain events into signed envelopes: at commit for the writer, and
    for the relay whatever a writer left unsealed."""

    def __init__(self, app: ServiceApplication, to_integration: ToIntegration,
                 signer: BusSigner, region: str, remember_states: int = 2000) -> None:
        self.app, self.to_integration = app, to_integration
        self.signer, self.region = signer, region
        # The relay's trail (one thread at a time), keeping states between its batches.
        self.audit = AuditTrail(app, app.name, remember=remember_states)
        self._writers = threading.local()  # each writer thread's own trail

    # --- one envelope -----------------------------------------------------------------

    def envelope(self, event: Any, position: int, prev_hash: str,
                 audit: AuditRecord) -> Envelope:
        # Every event leaves: as its integration contract, or as an audit record. The
        # contract reads the state the audit record already holds.
        with self.app.viewing(audit.aggregate):
            out = _checkpoint(event) or self.to_integration(event, position)
        out = out or Outgoing(audit.contract, audit.case_id, audit.household_id,
                              audit.township)
        actor = getattr(event, "actor", None)
        return Envelope.sealed(
            prev_hash, signer=self.signer,
            event_id=event_id_for(self.app.name, event.originator_id, event.originator_version),
            type=out.contract.TYPE, version=out.contract.VERSION, source=self.app.name,
            region=self.region, aggregate_id=event.originator_id,
            aggregate_version=event.originator_version, position=position,
            occurred_at=event.timestamp,
            actor=Actor.model_validate({k: actor.get(k) for k in ENVELOPE_ACTOR_FIELDS})
            if actor else None,
            case_id=out.case_id, household_id=out.household_id, township=out.township,
            data=out.contract.model_dump(mode="json"), audit=audit.entry,
        )

    def row(self, env: Envelope, traceparent: str | None) -> tuple[Any, ...]:
        """The envelope's outbox row, in `ServiceApplication.OUTBOX_COLUMNS`' order."""
        return (env.position, str(env.aggregate_id), env.hash, env.subject, env.msg_id,
                self.app.at_rest_bytes(env.to_bytes()), traceparent)

    # --- at commit --------------------------------------------------------------------

    def seal_at_commit(self, session: Session, recordings: Sequence[Any],
                       aggregates: dict[UUID, Any], traceparent: str | None) -> set[int]:
        """Seal the save's events into outbox rows; returns the positions sealed. An event
        whose aggregate's head is not at the version before it is left to the relay, and
        so is every later event of that aggregate in this save (one chain, in order)."""
        app = self.app
        if len(recordings) > app.settings.seal_at_commit_max_events:
            return set()  # a bulk save: the relay seals it (settings.py says why)
        events = [(r.notification.id, r.domain_event) for r in recordings]
        # Writers hold the events table's lock from their insert to their commit
        # (PostgreSQL: LOCK TABLE ... EXCLUSIVE; SQLite: one writer), and a writer saving
        # version v of an aggregate loaded it at v-1: the head read here is v-1's, if v-1
        # was sealed (by a writer, or by the relay).
        heads = app.chain_heads_in(session, sorted({str(e.originator_id) for _, e in events}))
        per_aggregate = Counter(e.originator_id for _, e in events)
        trail = self._writer_trail()
        states: dict[UUID, Any] = {}
        rows: list[tuple[Any, ...]] = []
        moved: dict[str, tuple[str, str, int, int]] = {}
        left: set[str] = set()
        for position, event in events:
            agg, version = str(event.originator_id), event.originator_version
            if agg in left:
                continue
            head = heads.get(agg)
            if head is None and version == 1:
                prev = GENESIS_HASH
            elif head is not None and head[1] == version - 1:
                prev = head[0]
            else:
                left.add(agg)  # the relay seals it, after what comes before it
                continue
            try:
                audit = self._audit_at_commit(trail, event, aggregates, per_aggregate, states)
                env = self.envelope(event, position, prev, audit)
            except Exception:  # the command stands; the relay maps it (and says why not)
                log.exception("%s: sealing %s at commit failed; left to the relay",
                              app.name, type(event).__qualname__)
                left.add(agg)
                continue
            heads[agg] = (env.hash, version)
            moved[agg] = (agg, env.hash, position, version)
            rows.append(self.row(env, traceparent))
        app.insert_outbox(session, rows)
        app.move_chain_heads(session, list(moved.values()))
        for aggregate in aggregates.values():  # the next save's "before"
            app.loaded.remember(aggregate)
        return {r[0] for r in rows}

    def _writer_trail(self) -> AuditTrail:
        trail = getattr(self._writers, "trail", None)
        if trail is None:
            trail = self._writers.trail = AuditTrail(self.app, self.app.name)
        return trail

    def _audit_at_commit(self, trail: AuditTrail, event: Any, aggregates: dict[UUID, Any],
                         per_aggregate: Counter[UUID], states: dict[UUID, Any]) -> AuditRecord:
        version = event.originator_version
        saved = aggregates.get(event.originator_id)
        if per_aggregate[event.originator_id] == 1 and saved is not None \
                and saved.version == version:
            # The aggregate in hand is the state after the event; before it, the values
            # it had when loaded.
            if version == 1:
                return trail.record_known(event, None, saved)
            before = self.app.loaded.values(saved, version - 1)
            if before is not None:
                return trail.record_known(event, before, saved)
        # Several events of one aggregate in one save, or one loaded some other way: the
        # state before the first is replayed once, each event applied to it in turn.
        return trail.record(event, states)

    # --- by the relay -----------------------------------------------------------------

    def seal_backlog(self, relay: str, from_position: int, first: int, last: int) -> int:
        """Seal the events in [first, last] that have no outbox row, in position order,
        moving their heads; returns how many. One relay at a time (a lock, then the relay
        position checked): two relays sealing one event could rewind a head a writer has
        moved since."""
        app, k = self.app, self.app.kernel
        with app.unit_of_work() as s:
            if app.dialect == "postgresql":
                s.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
                          {"k": f"lingshui:seal:{app.name}"})
            if app.relay_position_in(s, relay) != from_position:
                raise StaleRelay(f"{relay} moved past {from_position} meanwhile")
            present = set(s.execute(select(k.outbox.c.position).where(
                k.outbox.c.position.between(first, last))).scalars())
            notifications = [n for n in app.recorder.select_notifications(
                start=first, limit=last - first + 1, stop=last) if n.id not in present]
            if not notifications:
                return 0
            events = [(n.id, app.mapper.to_domain_event(n)) for n in notifications]
            heads = {a: h for a, (h, _v) in app.chain_heads_in(
                s, sorted({str(e.originator_id) for _, e in events})).items()}
            traces = app.traces_in(s, events[0][0], events[-1][0])
            states: dict[Any, Any] = self.audit.states if self.audit.states.size else {}
            rows, moved = [], {}
            for position, event in events:
                agg = str(event.originator_id)
                env = self.envelope(event, position, heads.get(agg, GENESIS_HASH),
                                    self.audit.record(event, states))
                heads[agg] = env.hash
                moved[agg] = (agg, env.hash, position, event.originator_version)
                rows.append(self.row(env, traces.get(position)))
            app.insert_outbox(s, rows)
            app.move_chain_heads(s, list(moved.values()))
        return len(rows)


def _checkpoint(event: Any) -> Outgoing | None:
    contract = checkpoint_contract(event)
    return Outgoing(contract) if contract is not None else None
