"""Archive's one writer: household files, documents, custody, chain alarms, and the audit
console's queries over the consolidated timeline. County supervision (issue 11: monthly
filings 报备, statistics, alerts) is `self.supervision`, a component in supervision_app.py
that saves through this application."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from sqlalchemy import select

from services.archive.document_store import DocumentStore, sha256_of
from services.archive.domain import (
    SYSTEM_ACTOR,
    CaseState,
    ChainAlarm,
    DocumentKind,
    HouseholdFile,
    PaperCopy,
    RequiredDocuments,
    alarm_id_for,
    check_document,
    file_id_for,
    fold_aggregate,
    fold_case,
    irregularities,
    link_verdict,
    timeline_order,
    why,
)
from services.archive.projections import ArchiveProjection
from services.archive.supervision_app import CountySupervision, SupervisionSetup
from shared.auth import Principal, Role
from shared.clock import today_from
from shared.contracts.audit import CHAIN_CHECKPOINT, ChainCheckpointed
from shared.contracts.envelope import GENESIS_HASH, Actor, Envelope, verify_chain
from shared.errors import Forbidden, NotFound, RuleViolation
from shared.eventstore import ServiceApplication
from shared.settings import ServiceSettings

COUNTY_AUDITORS = frozenset({Role.COUNTY_BUREAU, Role.COUNTY_CENTRE, Role.DISCIPLINE_INSPECTOR})
# Who keeps which paper copy (一式两份).
CUSTODIANS = {
    PaperCopy.COUNTY: frozenset({Role.COUNTY_BUREAU, Role.COUNTY_CENTRE}),
    PaperCopy.TOWNSHIP: frozenset({Role.TOWNSHIP_CLERK, Role.TOWNSHIP_LEADER}),
}


@dataclass(frozen=True, slots=True)
class Link:
    """What the next link of an aggregate needs of its newest stored one."""

    position: int
    hash: str
    case_id: str | None
    township: str | None
    household_id: str | None


class StreamLinks:
    """A rebuild's memory of one stream's stored links, between its batches: each
    aggregate's newest link (at most `limit`, the least recently linked forgotten first and
    then read back when needed) and the last position handled. Usable only while nothing
    else writes the stream's rows (a rebuild's shadow, consumers paused) and while each
    batch comes after the last; otherwise the queries decide, from then on."""

    def __init__(self, source: str, limit: int = 200_000) -> None:
        self.source, self.limit = source, limit
        self.heads: dict[str, Link] = {}
        self.last_position: int | None = None  # None: the stored rows not looked at yet
        self.usable = True
        self.forgot = False

    def follows(self, session: Any, views: ArchiveProjection, source: str,
                first: int) -> bool:
        if not self.usable or source != self.source:
            return False
        if self.last_position is None:  # starts from an empty stream, or not at all
            self.usable = not views.has_rows_of(session, source)
            self.last_position = 0
        return self.usable and first > self.last_position

    def remember(self, links: dict[str, Link], last_position: int) -> None:
        for agg, link in links.items():
            self.heads.pop(agg, None)
            self.heads[agg] = link
        while len(self.heads) > self.limit:
            del self.heads[next(iter(self.heads))]
            self.forgot = True
        self.last_position = max(self.last_position or 0, last_position)


class ArchiveApplication(ServiceApplication):
    name = "archive"

    def __init__(self, settings: ServiceSettings, store: DocumentStore,
                 required: RequiredDocuments, *, max_document_bytes: int,
                 allowed_media_types: Iterable[str],
                 investigation_prefixes: tuple[str, ...],
                 supervision: SupervisionSetup,
                 today: Callable[[], date] | None = None) -> None:
        self.store, self.required = store, required
        # County supervision: its commands save through this application (one writer).
        self.supervision = CountySupervision(self, supervision)
        self.max_document_bytes = max_document_bytes
        self.allowed_media_types = tuple(allowed_media_types)
        self.investigation_prefixes = investigation_prefixes
        self.today = today or today_from(settings.clock)
        self.views = ArchiveProjection()
        super().__init__(settings, self.views)

    # === the consolidated timeline: every service's integration events =====================

    def archive_envelope(self, env: Envelope, *, refuse_broken: bool = False,
                         views: ArchiveProjection | None = None) -> str:
        """Store a received envelope with its chain verdict; a broken link raises an alarm.

        Idempotent by (source, position): the consumer's redeliveries and a rebuild's replay
        store nothing twice and raise no second alarm. The live consumer hands over only
        verified, linked copies; a rebuild (`refuse_broken`) skips a broken link as the
        consumer refused it.
        """
        v = views or self.views
        with self.unit_of_work() as s:
            if v.has_envelope(s, env.source, env.position):
                return "duplicate"
            before = v.neighbour(s, env.source, env.aggregate_id, env.position, before=True)
            expected = before.hash if before else GENESIS_HASH
            verdict = link_verdict(env, expected)
            if verdict and refuse_broken:
                return verdict
            v.store_envelope(s, env, verdict or "linked", before)
            if verdict:
                self._raise_alarm(env, verdict, expected)
            # A redelivery can bring a link after its successor; the successor's alarm then
            # closes, recorded as such (never deleted).
            after = v.neighbour(s, env.source, env.aggregate_id, env.position, before=False)
            if (verdict is None and after is not None
                    and after.chain_status == "prev_hash_mismatch"
                    and after.prev_hash == env.hash):
                v.set_chain_status(s, env.source, after.position, "linked")
                self._resolve(alarm_id_for(env.source, env.aggregate_id, after.position),
                              "late_link_arrived", None, SYSTEM_ACTOR)
        return verdict or "linked"

    def archive_envelopes(self, envelopes: list[Envelope],
                          views: ArchiveProjection | None = None, *,
                          hashes_checked: bool = False,
                          links: StreamLinks | None = None) -> int:
        """A rebuild's batch of one stream, in one transaction: the same rows, verdicts and
        skips as `archive_envelope(env, refuse_broken=True)` one by one, with a few queries
        for the whole batch instead of four per copy. Into `views` (a rebuild's shadow read
        models) or the live ones. `hashes_checked`: every copy's hash was recomputed already
        (read_stream does), so only its link is checked here. `links`: the rebuild's memory
        of this stream's stored links, which spares the queries while batches follow each
        other. Returns the copies stored."""
        if not envelopes:
            return 0
        v = views or self.views
        source = envelopes[0].source
        positions = [e.position for e in envelopes]
        if any(e.source != source for e in envelopes) or positions != sorted(positions):
            if links is not None:
                links.usable = False
            with self.unit_of_work():  # not one stream in order: as the consumer would
                return sum(self.archive_envelope(e, refuse_broken=True, views=v) == "linked"
                           for e in envelopes)
        first = positions[0]
        aggregates = sorted({str(e.aggregate_id) for e in envelopes})
        stored = 0
        new: dict[str, Link] = {}
        with self.unit_of_work() as s:
            if links is not None and links.follows(s, v, source, first):
                # Every stored row of this stream is before `first`: none is in this batch
                # or after it, and each aggregate's newest is the one remembered.
                seen: set[int] = set()
                later: set[str] = set()
                known: Mapping[str, Any] = links.heads
                misses = [a for a in aggregates if a not in known] if links.forgot else []
                fetched = dict(v.last_links_before(s, source, misses, first)) if misses else {}
            else:
                if links is not None:
                    links.usable = False
                seen = v.stored_positions(s, source, positions)
                known = {}
                fetched = dict(v.last_links_before(s, source, aggregates, first))
                # A link stored at or after this batch's start (not in a rebuild; or a
                # copy of a stored position opening the batch): those aggregates one by one.
                later = v.linked_after(s, source, aggregates, first - 1)
            rows: list[dict[str, Any]] = []
            for env in envelopes:
                agg = str(env.aggregate_id)
                if agg in later:
                    if rows:
                        s.execute(v.envelopes.insert(), rows)
                        rows = []
                    stored += self.archive_envelope(env, refuse_broken=True,
                                                    views=v) == "linked"
                    continue
                if env.position in seen:
                    continue
                before = new.get(agg) or known.get(agg) or fetched.get(agg)
                expected = before.hash if before else GENESIS_HASH
                if (env.prev_hash != expected if hashes_checked
                        else link_verdict(env, expected)):
                    continue  # a broken link: refused, as the consumer refused it
                row = v.envelope_row(env, "linked", before)
                rows.append(row)
                seen.add(env.position)
                new[agg] = Link(row["position"], row["hash"], row["case_id"], row["township"],
                                row["household_id"])
                v.envelope_facts(s, env)
                stored += 1
            if rows:
                s.execute(v.envelopes.insert(), rows)
        if links is not None and links.usable:  # committed: remembered
            links.remember(new, positions[-1])
        return stored

    def raise_conflicting_copy_alarm(self, env: Envelope) -> None:
        """A second, different copy of a position already archived: the first copy stays,
        the second is recorded as an alarm."""
        with self.unit_of_work():
            self._raise_alarm(env, "conflicting_copy", env.prev_hash)

    def raise_rejection_alarm(self, env: Envelope, reason: str, expected_prev: str) -> None:
        """The consumer refused a copy (bad signature, tampered, off its chain…): nothing of
        it enters the timeline; the alarm names what it claimed to be."""
        with self.unit_of_work():
            self._raise_alarm(env, reason, expected_prev or env.prev_hash)

    def _raise_alarm(self, env: Envelope, reason: str, expected_prev: str) -> None:
        alarm_id = alarm_id_for(env.source, env.aggregate_id, env.position)
        try:
            self.repository.get(alarm_id)
            return  # raised when this copy first arrived
        except AggregateNotFoundError:
            pass
        self.save(ChainAlarm.raise_for(env, reason, expected_prev, SYSTEM_ACTOR))

    def _resolve(self, alarm_id: UUID, resolution: str, reason: str | None,
                 actor: Actor) -> ChainAlarm:
        alarm: ChainAlarm = self.get(alarm_id, "chain alarm")
        alarm.resolve(resolution, reason, actor)
        self.save(alarm)
        return alarm

    def acknowledge_alarm(self, who: Principal, alarm_id: UUID, reason: str) -> ChainAlarm:
        alarm: ChainAlarm = self.get(alarm_id, "chain alarm")
        self._audit_scope(who, alarm.township)
        return self._resolve(alarm_id, "acknowledged", reason, who.as_actor())

    # === household files =====================================================================

    def _case(self, case_id: str) -> tuple[str, CaseState]:
        with self.read_session() as s:
            key = self.views.case_key(s, case_id)
            envelopes = self._envelopes_of_cases(s, [case_id])
        state = fold_case(envelopes, investigation_prefixes=self.investigation_prefixes,
                          zone=self.settings.clock.zone)
        if state.township is None:
            raise RuleViolation("archive.unknown_case",
                                f"the archive has no events of case {case_id} yet",
                                field="case_id")
        return key, state

    def _file(self, household_id: str) -> HouseholdFile | None:
        try:
            file: HouseholdFile = self.repository.get(file_id_for(household_id))
            return file
        except AggregateNotFoundError:
            return None

    def _file_for_case(self, who: Principal, household_id: str,
                       case_id: str) -> tuple[HouseholdFile, str, CaseState]:
        key, state = self._case(case_id)
        who.check_jurisdiction(state.township or "", state.village)
        if state.household_id and state.household_id != household_id:
            raise RuleViolation("archive.case_household_mismatch",
                                f"case {case_id} belongs to another household",
                                field="case_id")
        file = self._file(household_id) or HouseholdFile.open(
            household_id, state.township or "", who.as_actor())
        return file, key, state

    def file_document(self, who: Principal, household_id: str, case_id: str,
                      document_kind: DocumentKind, content: bytes) -> dict[str, Any]:
        media = check_document(len(content), content[:16], self.max_document_bytes,
                               self.allowed_media_types)
        file, key, state = self._file_for_case(who, household_id, case_id)
        digest = sha256_of(content)
        file.file_document(state.facts(key), document_kind, digest, len(content), media,
                           self.required, who.as_actor())
        # Bytes first: if the event then fails to commit, an unnamed object is harmless.
        self.store.put(digest, content, media)
        self.save(file)
        return {"household_id": household_id, "case_id": key, "sha256": digest,
                "size": len(content), "media_type": media, "document_kind": document_kind}

    def file_paper_items(self, who: Principal, household_id: str, copy: PaperCopy,
                         case_id: str, document_kinds: list[DocumentKind],
                         location: str) -> HouseholdFile:
        self._custodian(who, copy)
        file, key, state = self._file_for_case(who, household_id, case_id)
        file.file_paper_items(copy, state.facts(key), document_kinds, location, who.as_actor())
        self.save(file)
        return file

    def check_out(self, who: Principal, household_id: str, copy: PaperCopy, borrower: str,
                  reason: str) -> HouseholdFile:
        file = self._existing_file(who, household_id)
        self._custodian(who, copy)
        file.check_out(copy, borrower, reason, who.as_actor())
        self.save(file)
        return file

    def return_copy(self, who: Principal, household_id: str, copy: PaperCopy,
                    location: str) -> HouseholdFile:
        file = self._existing_file(who, household_id)
        self._custodian(who, copy)
        file.return_copy(copy, location, who.as_actor())
        self.save(file)
        return file

    def _existing_file(self, who: Principal, household_id: str) -> HouseholdFile:
        file = self._file(household_id)
        if file is None:
            raise NotFound("archive.not_found", f"no file for household {household_id}")
        who.check_jurisdiction(file.township)
        return file

    @staticmethod
    def _custodian(who: Principal, copy: PaperCopy) -> None:
        if who.role not in CUSTODIANS[copy]:
            raise Forbidden("archive.custodian",
                            f"the {copy.value} copy is kept by "
                            f"{', '.join(sorted(r.value for r in CUSTODIANS[copy]))}",
                            field="copy")

    def household_file(self, who: Principal, household_id: str) -> dict[str, Any]:
        file = self._existing_file(who, household_id)
        v = self.views
        with self.read_session() as s:
            docs = [dict(r._mapping) for r in s.execute(
                select(v.documents).where(v.documents.c.household_id == household_id)
                .order_by(v.documents.c.position))]
            custody = [dict(r._mapping) for r in s.execute(
                select(v.custody).where(v.custody.c.household_id == household_id)
                .order_by(v.custody.c.position))]
        completeness = []
        for case_id in sorted({d["case_id"] for d in docs} | {
                c for p in file.paper.values() for c in p["items"]}):
            _, state = self._case(case_id)
            missing = self.required.missing(state.kind, state.stage, file.scanned_kinds(case_id))
            completeness.append({"case_id": case_id, "kind": state.kind, "stage": state.stage,
                                 "complete": not missing, "missing": missing})
        return {
            "household_id": household_id, "township": file.township, "version": file.version,
            "documents": docs, "custody": custody, "completeness": completeness,
            "paper_copies": {c: {"location": p["location"],
                                 "checked_out_to": p["checked_out_to"],
                                 "items": {k: sorted(v) for k, v in p["items"].items()}}
                             for c, p in file.paper.items()},
            "consistency": [asdict(c) for c in file.consistency()],
        }

    def completeness(self, who: Principal, case_id: str) -> dict[str, Any]:
        key, state = self._case(case_id)
        who.check_jurisdiction(state.township or "", state.village)
        d = self.views.documents
        with self.read_session() as s:
            filed = set(s.execute(select(d.c.document_kind).where(d.c.case_id == key))
                        .scalars())
        missing = self.required.missing(state.kind, state.stage, filed)
        return {"case_id": key, "kind": state.kind, "stage": state.stage,
                "household_id": state.household_id, "complete": not missing,
                "missing": missing, "filed": sorted(filed)}

    def open_document(self, who: Principal, household_id: str, sha256: str,
                      reason: str) -> tuple[bytes, str]:
        file = self._existing_file(who, household_id)
        file.view_document(sha256, reason, who.as_actor())
        media = next(d["media_type"] for d in file.documents if d["sha256"] == sha256)
        content = self.store.get(sha256)
        self.save(file)  # recorded before the bytes leave
        return content, media

    # === the audit console ===================================================================

    def _audit_scope(self, who: Principal, township: str | None) -> None:
        """County auditors see every township; township staff only their own."""
        if who.role in COUNTY_AUDITORS:
            return
        if township is None:
            raise Forbidden("auth.jurisdiction", "only county auditors see every township",
                            field="township")
        who.check_jurisdiction(township)

    def _envelopes_of_cases(self, s: Any, case_ids: Iterable[str]) -> list[Envelope]:
        ids: set[str] = set()
        for c in case_ids:
            ids |= self.views.case_ids(s, c)
        t = self.views.envelopes
        rows = s.execute(select(t.c.body).where(t.c.case_id.in_(sorted(ids)))).scalars()
        return [Envelope.model_validate_json(b) for b in rows]

    def _household_envelopes(self, s: Any, household_id: str) -> list[Envelope]:
        v = self.views
        t = v.envelopes
        cases = set(s.execute(select(t.c.case_id).where(
            t.c.household_id == household_id, t.c.case_id.is_not(None))).scalars())
        cases |= set(s.execute(select(v.documents.c.case_id).where(
            v.documents.c.household_id == household_id)).scalars())
        cases |= {c for c in s.execute(select(v.custody.c.case_id).where(
            v.custody.c.household_id == household_id)).scalars() if c}
        by_case = self._envelopes_of_cases(s, cases)
        direct = [Envelope.model_validate_json(b) for b in s.execute(
            select(t.c.body).where(t.c.household_id == household_id)).scalars()]
        unique = {(e.source, e.position): e for e in [*by_case, *direct]}
        return list(unique.values())

    def _scoped(self, who: Principal, envelopes: list[Envelope], what: str) -> None:
        if not envelopes:
            raise NotFound("archive.not_found", f"the archive holds no events of {what}")
        townships = {e.township or e.data.get("township") for e in envelopes} - {None}
        if who.role in COUNTY_AUDITORS:
            return
        if not townships:
            raise Forbidden("auth.jurisdiction", "only county auditors see this",
                            field="township")
        for t in townships:
            self._audit_scope(who, t)

    @staticmethod
    def _entry(e: Envelope, status: str | None = None) -> dict[str, Any]:
        return {
            "at": e.occurred_at, "source": e.source, "type": e.type, "position": e.position,
            "event_id": str(e.event_id), "aggregate_id": str(e.aggregate_id),
            "aggregate_version": e.aggregate_version, "case_id": e.case_id,
            "household_id": e.household_id, "township": e.township,
            "who": e.actor.user_id if e.actor else None,
            "role": e.actor.role if e.actor else None,
            # The one audit vocabulary (issue 16): absent only on copies made before it.
            "event": e.audit.event if e.audit else None,
            "label": e.audit.label if e.audit else None,
            "by": e.audit.who.model_dump(mode="json") if e.audit and e.audit.who else None,
            "when": e.audit.when if e.audit else None,
            "changes": [c.model_dump(mode="json") for c in e.audit.changes] if e.audit else [],
            "why": why(e), "data": e.data, "hash": e.hash,
            **({"chain_status": status} if status else {}),
        }

    def _statuses(self, s: Any, envelopes: list[Envelope]) -> dict[tuple[str, int], str]:
        t = self.views.envelopes
        keys = {(e.source, e.position) for e in envelopes}
        rows = s.execute(select(t.c.source, t.c.position, t.c.chain_status).where(
            t.c.event_id.in_(sorted({str(e.event_id) for e in envelopes})))).all()
        return {(r[0], int(r[1])): r[2] for r in rows if (r[0], int(r[1])) in keys}

    def case_timeline(self, who: Principal, case_id: str) -> dict[str, Any]:
        with self.read_session() as s:
            envelopes = self._envelopes_of_cases(s, [case_id])
            self._scoped(who, envelopes, f"case {case_id}")
            statuses = self._statuses(s, envelopes)
            key = self.views.case_key(s, case_id)
        return {"case_id": key, "events": [self._entry(e, statuses.get((e.source, e.position)))
                                           for e in timeline_order(envelopes)]}

    def household_timeline(self, who: Principal, household_id: str) -> dict[str, Any]:
        with self.read_session() as s:
            envelopes = self._household_envelopes(s, household_id)
            self._scoped(who, envelopes, f"household {household_id}")
            statuses = self._statuses(s, envelopes)
        return {"household_id": household_id,
                "events": [self._entry(e, statuses.get((e.source, e.position)))
                           for e in timeline_order(envelopes)]}

    def case_state(self, who: Principal, case_id: str, at: datetime | None) -> dict[str, Any]:
        with self.read_session() as s:
            envelopes = self._envelopes_of_cases(s, [case_id])
            self._scoped(who, envelopes, f"case {case_id}")
        state = fold_case(envelopes, at=at, investigation_prefixes=self.investigation_prefixes,
                          zone=self.settings.clock.zone)
        return {"as_of": at, "replayed_events": state.events, "state": state.as_dict()}

    def aggregate_state(self, who: Principal, source: str, aggregate_id: UUID,
                        at: datetime | None) -> dict[str, Any]:
        """Any aggregate of any service at a past instant, from archive's copy alone: the
        version reached and its plain values (the owning service's state at that version)."""
        t = self.views.envelopes
        with self.read_session() as s:
            envelopes = [Envelope.model_validate_json(b) for b in s.execute(
                select(t.c.body).where(t.c.source == source,
                                       t.c.aggregate_id == str(aggregate_id))).scalars()]
            townships = set(s.execute(select(t.c.township).where(
                t.c.source == source, t.c.aggregate_id == str(aggregate_id))).scalars())
        if not envelopes:
            raise NotFound("archive.not_found", f"the archive holds no events of {aggregate_id}")
        if who.role not in COUNTY_AUDITORS:
            for township in townships - {None} or {None}:
                self._audit_scope(who, township)
        version, state = fold_aggregate(envelopes, at)
        return {"source": source, "aggregate_id": str(aggregate_id), "as_of": at,
                "version": version, "state": state}

    def verify_case(self, who: Principal, case_id: str) -> dict[str, Any]:
        """Verify, from genesis, every chain that carries an event of this case."""
        with self.read_session() as s:
            envelopes = self._envelopes_of_cases(s, [case_id])
            self._scoped(who, envelopes, f"case {case_id}")
            t = self.views.envelopes
            aggregates = {(e.source, str(e.aggregate_id)) for e in envelopes}
            per_source: dict[str, list[tuple[int, str]]] = defaultdict(list)
            for source, agg in sorted(aggregates):
                per_source[source].extend((int(r[0]), r[1]) for r in s.execute(
                    select(t.c.position, t.c.body).where(t.c.source == source,
                                                         t.c.aggregate_id == agg)))
            completeness = {source: self._completeness(
                s, source, {a for src, a in aggregates if src == source}, series=False)
                for source in sorted({src for src, _ in aggregates})}
        return _with_completeness(self._verify(per_source, {}), completeness)

    def verify_stream(self, who: Principal, source: str, first: int,
                      last: int | None) -> dict[str, Any]:
        """Verify a position range of one service's stream, from the stored heads before it."""
        if who.role not in COUNTY_AUDITORS:
            raise Forbidden("auth.role", "a whole stream is for county auditors", field="role")
        t = self.views.envelopes
        with self.read_session() as s:
            q = select(t.c.position, t.c.body).where(t.c.source == source,
                                                     t.c.position >= first)
            if last is not None:
                q = q.where(t.c.position <= last)
            rows = [(int(r[0]), r[1]) for r in s.execute(q.order_by(t.c.position))]
            heads: dict[UUID, str] = {}
            for agg in {Envelope.model_validate_json(b).aggregate_id for _, b in rows
                        if _readable(b)}:
                before = self.views.neighbour(s, source, agg, first, before=True)
                if before is not None:
                    heads[agg] = before.hash
            completeness = {source: self._completeness(s, source, None, series=True)}
        return _with_completeness(self._verify({source: rows}, {source: heads}), completeness)

    def _completeness(self, s: Any, source: str, aggregate_ids: set[str] | None, *,
                      series: bool) -> dict[str, Any]:
        """What the service's checkpoints committed to that archive's copy lacks: a missing
        tail (the newest links of an aggregate), a missing aggregate, a missing checkpoint."""
        e, x = self.views.envelopes, self.views.expected_heads
        q = select(x.c.aggregate_id, x.c.hash, x.c.position).where(x.c.source == source)
        if aggregate_ids is not None:
            q = q.where(x.c.aggregate_id.in_(sorted(aggregate_ids)))
        expected = s.execute(q.order_by(x.c.position)).all()
        held = set(s.execute(select(e.c.hash).where(
            e.c.source == source, e.c.hash.in_([r[1] for r in expected]))).scalars()) \
            if expected else set()
        missing: list[dict[str, Any]] = []
        for agg, head, position in expected:
            if head in held:
                continue
            newest = s.execute(select(e.c.position, e.c.aggregate_version, e.c.body).where(
                e.c.source == source, e.c.aggregate_id == agg)
                .order_by(e.c.position.desc()).limit(1)).first()
            known = Envelope.model_validate_json(newest.body) if newest is not None else None
            missing.append({
                "reason": "missing_tail" if newest is not None else "missing_aggregate",
                "source": source, "aggregate_id": agg,
                "aggregate": known.audit.aggregate if known and known.audit else None,
                "expected_position": int(position), "expected_hash": head,
                "archived_position": int(newest.position) if newest is not None else None,
                "archived_version": int(newest.aggregate_version) if newest is not None
                else None,
                "case_id": known.case_id if known else None})
        cps = sorted(((ChainCheckpointed.model_validate(Envelope.model_validate_json(b).data), h)
                      for b, h in s.execute(select(e.c.body, e.c.hash).where(
                          e.c.source == source, e.c.type == CHAIN_CHECKPOINT)).all()),
                     key=lambda pair: pair[0].seq)
        if series:
            hashes = {cp.seq: h for cp, h in cps}
            for cp, _ in cps:
                if cp.seq > 1 and hashes.get(cp.seq - 1) != cp.previous_hash:
                    missing.append({"reason": "missing_checkpoint", "source": source,
                                    "checkpoint_seq": cp.seq - 1,
                                    "expected_position": cp.previous_position})
        return {"checkpoints": len(cps), "covered_position": cps[-1][0].position if cps else 0,
                "missing": missing}

    @staticmethod
    def _verify(per_source: dict[str, list[tuple[int, str]]],
                heads: dict[str, dict[UUID, str]]) -> dict[str, Any]:
        result: dict[str, Any] = {"ok": True, "checked": 0, "sources": {}, "first_broken": None}
        for source, rows in sorted(per_source.items()):
            envelopes, unreadable = [], None
            for position, body in sorted(rows):
                if not _readable(body):
                    unreadable = unreadable or position
                    continue
                envelopes.append(Envelope.model_validate_json(body))
            if unreadable is not None:
                envelopes = [e for e in envelopes if e.position < unreadable]
            check = verify_chain(envelopes, heads.get(source))
            broken = None
            if check.first_broken is not None:
                b = check.first_broken
                e = next(x for x in envelopes if x.position == b.position)
                broken = {"source": source, "position": b.position, "reason": b.reason,
                          "aggregate_id": str(b.aggregate_id),
                          "aggregate_version": b.aggregate_version, "type": e.type,
                          "event_id": str(e.event_id), "case_id": e.case_id}
            elif unreadable is not None:
                broken = {"source": source, "position": unreadable, "reason": "unreadable"}
            result["sources"][source] = {"checked": check.checked, "first_broken": broken}
            result["checked"] += check.checked
            if broken and result["first_broken"] is None:
                result["ok"], result["first_broken"] = False, broken
        return result

    def sensitive_access(self, who: Principal, township: str | None, since: datetime | None,
                         until: datetime | None, limit: int, offset: int) -> dict[str, Any]:
        self._audit_scope(who, township)
        t = self.views.envelopes
        q = select(t.c.body).where(t.c.sensitive_access.is_(True))
        if township:
            q = q.where(t.c.township == township)
        # In UTC: SQLite keeps the wall-clock time without its offset, as stored (UTC).
        if since:
            q = q.where(t.c.occurred_at >= (since.astimezone(UTC) if since.tzinfo else since))
        if until:
            q = q.where(t.c.occurred_at <= (until.astimezone(UTC) if until.tzinfo else until))
        with self.read_session() as s:
            bodies = s.execute(q.order_by(t.c.occurred_at.desc(), t.c.source, t.c.position)
                               .limit(limit).offset(offset)).scalars().all()
        items = []
        for b in bodies:
            e = Envelope.model_validate_json(b)
            items.append({**self._entry(e), "fields": e.data.get("fields"),
                          "case_ids": e.data.get("case_ids")})
        return {"township": township, "limit": limit, "offset": offset, "items": items}

    def _township_cases(self, s: Any, township: str | None,
                        extra: Any = None) -> dict[str, CaseState]:
        t = self.views.envelopes
        q = select(t.c.case_id).where(t.c.case_id.is_not(None)).distinct()
        if township:
            q = q.where(t.c.township == township)
        if extra is not None:
            q = q.where(extra)
        keys = {self.views.case_key(s, c) for c in s.execute(q).scalars()}
        return {k: fold_case(self._envelopes_of_cases(s, [k]),
                             investigation_prefixes=self.investigation_prefixes,
                             zone=self.settings.clock.zone)
                for k in sorted(keys)}

    @staticmethod
    def _summary(key: str, st: CaseState) -> dict[str, Any]:
        return {"case_id": key, "case_ids": sorted(st.case_ids), "township": st.township,
                "village": st.village, "kind": st.kind, "status": st.status,
                "accepted_on": st.accepted_on, "investigation_due": st.investigation_due,
                "investigated_on": st.investigated_on, "decision_due": st.decision_due,
                "decided_on": st.decided_on, "decision": st.decision,
                "advance_assistance": st.advance_assistance}

    def conflicts_of_interest(self, who: Principal, township: str | None) -> dict[str, Any]:
        """近亲属备案: cases of households with a close relative of staff."""
        self._audit_scope(who, township)
        t = self.views.envelopes
        with self.read_session() as s:
            cases = self._township_cases(s, township, t.c.close_relative_declared.is_(True))
        return _per_township([self._summary(k, st) for k, st in cases.items()
                              if st.close_relative_declared])

    def irregular_decisions(self, who: Principal, township: str | None,
                            today: date | None) -> dict[str, Any]:
        """Decided without investigation, or past the investigation or decision time limit."""
        self._audit_scope(who, township)
        on = today or self.today()
        with self.read_session() as s:
            cases = self._township_cases(s, township)
        items = []
        for k, st in cases.items():
            if found := irregularities(st, on):
                items.append({**self._summary(k, st), "findings": found})
        return {**_per_township(items), "as_of": on}

    def alarms(self, who: Principal, township: str | None, open_only: bool) -> list[dict[str, Any]]:
        self._audit_scope(who, township)
        t = self.views.alarms
        q = select(t)
        if township:
            q = q.where(t.c.township == township)
        if open_only:
            q = q.where(t.c.resolution.is_(None))
        with self.read_session() as s:
            return [dict(r._mapping) for r in s.execute(q.order_by(t.c.raised_at))]

    # === rebuild =============================================================================

    def reset_read_models(self) -> int:
        """Drop every read model and replay archive's own events; the streams follow."""
        return self.rebuild_projections()

    def snapshot_read_models(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every read-model row in key order: what "rebuilt identical" compares."""
        out: dict[str, list[tuple[Any, ...]]] = {}
        with self.read_session() as s:
            for table in self.views.metadata.sorted_tables:
                cols = list(table.primary_key.columns) or list(table.columns)
                out[table.name] = [tuple(r) for r in s.execute(select(table).order_by(*cols))]
        return out


def _with_completeness(result: dict[str, Any],
                       completeness: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A chain that verifies but lacks what a checkpoint committed to is not ok either."""
    result["completeness"] = completeness
    for source, c in sorted(completeness.items()):
        result["sources"].setdefault(source, {"checked": 0, "first_broken": None})
        result["sources"][source]["missing"] = c["missing"]
        if c["missing"] and result["first_broken"] is None:
            result["ok"], result["first_broken"] = False, c["missing"][0]
    return result


def _readable(body: str) -> bool:
    try:
        Envelope.model_validate_json(body)
        return True
    except ValueError:
        return False


def _per_township(items: list[dict[str, Any]]) -> dict[str, Any]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for i in items:
        grouped[i["township"] or "unknown"].append(i)
    return {"total": len(items),
            "townships": {t: {"count": len(v), "cases": v} for t, v in sorted(grouped.items())}}
