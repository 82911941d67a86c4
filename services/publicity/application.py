"""Publicity's one writer: notices and their objections, the long-term roster, and the
queries behind the public board and the officials' queues."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError
from sqlalchemy import and_, func, select

from services.publicity.clock import Clock, SystemClock, today
from services.publicity.domain import (
    SYSTEM_ACTOR,
    InvestigationMethod,
    Notice,
    NoticeStatus,
    NoticeSubject,
    NoticeWindow,
    PublicContent,
    RosterChange,
    RosterEntry,
    month_of,
    notice_id_for,
    roster_entry_id_for,
)
from services.publicity.projections import PublicityProjection
from shared.auth import Principal
from shared.contracts.review import (
    EntitlementChanged,
    EntitlementStarted,
    OpinionIssued,
    TerminationNoticeRequested,
)
from shared.errors import NotFound, RuleViolation
from shared.eventstore import ServiceApplication
from shared.regions import County, UnknownRegion
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)

# Objectors are not identified to the township: the event records only that the public filed.
PUBLIC_ACTOR: dict[str, Any] = {"user_id": "public", "role": "public", "township": None,
                                "village": None}

OfficialView = Literal["open", "closing_soon", "pending_objections", "closed", "all"]


@dataclass(frozen=True)
class PublicityPolicy:
    """The county's settings for publicity (DOMAIN.md marks them "setting")."""

    window_days: int = 7  # 公示期, calendar days [S2 Art. 19]
    name_rule: str = "keep_surname"  # how the public board masks names
    closing_soon_days: int = 2  # officials' "closing soon" horizon


class PublicityApplication(ServiceApplication):
    name = "publicity"

    def __init__(self, settings: ServiceSettings, county: County,
                 policy: PublicityPolicy | None = None, clock: Clock | None = None) -> None:
        self.county = county
        self.policy = policy or PublicityPolicy()
        self.clock: Clock = clock or SystemClock()
        self.views = PublicityProjection()
        super().__init__(settings, self.views)

    def today(self) -> date:
        return today(self.clock)

    # --- reactions to review --------------------------------------------------------------

    def open_opinion_notice(self, opinion: OpinionIssued, actor: dict[str, Any],
                            source_event_id: str) -> UUID | None:
        """Post a review opinion in the household's village, unless it needs no publicity
        (急难型 先行救助) or this round is already posted."""
        if not opinion.publicity_required:
            return None
        content = PublicContent.masked(
            opinion.applicant_name, self.policy.name_rule, opinion.household_size,
            opinion.kind.value, opinion.monthly_amount if opinion.approve else None,
            opinion.village)
        return self._post(
            case_id=opinion.case_id, subject=NoticeSubject.OPINION, round_=opinion.round,
            kind=opinion.kind.value, township=opinion.township, village=opinion.village,
            household_id=opinion.household_id, entitlement_id=None, content=content,
            approve=opinion.approve, source_event_id=source_event_id, actor=actor)

    def open_termination_notice(self, request: TerminationNoticeRequested,
                                actor: dict[str, Any], source_event_id: str) -> UUID | None:
        """特困 termination: 7 days' publicity before it takes effect. The amount shown is
        the one being stopped, from the roster (when the roster knows the benefit)."""
        entry = self._roster_entry(request.entitlement_id)
        content = PublicContent.masked(
            request.applicant_name, self.policy.name_rule, request.household_size,
            request.kind.value, entry.monthly_amount if entry else None, request.village)
        with self.read_session() as s:
            t = self.views.notices
            rounds = s.execute(select(func.max(t.c.round)).where(
                t.c.case_id == str(request.case_id),
                t.c.subject == NoticeSubject.TERMINATION.value)).scalar()
        return self._post(
            case_id=request.case_id, subject=NoticeSubject.TERMINATION,
            round_=(rounds or 0) + 1, kind=request.kind.value, township=request.township,
            village=request.village, household_id=None, entitlement_id=request.entitlement_id,
            content=content, approve=False, source_event_id=source_event_id, actor=actor)

    def _post(self, *, case_id: UUID, subject: NoticeSubject, round_: int, kind: str,
              township: str, village: str, household_id: str | None,
              entitlement_id: UUID | None, content: PublicContent, approve: bool,
              source_event_id: str, actor: dict[str, Any]) -> UUID | None:
        t = self.views.notices
        with self.read_session() as s:
            earlier = s.execute(select(t.c.notice_id, t.c.round, t.c.status).where(
                t.c.case_id == str(case_id), t.c.subject == subject.value)).all()
        if any(r.round >= round_ for r in earlier):
            # The same round again (or a stale one) under a new position: already posted.
            log.warning("notice for case %s %s round %d already posted; ignored",
                        case_id, subject, round_)
            return None
        notice = Notice.post(
            case_id=case_id, subject=subject, round_=round_, kind=kind, township=township,
            village=village, household_id=household_id, entitlement_id=entitlement_id,
            window=NoticeWindow.posted(self.today(), self.policy.window_days), content=content,
            name_rule=self.policy.name_rule, approve=approve, opened_from=source_event_id,
            actor=actor)
        replaced = []
        for r in earlier:
            if r.status == NoticeStatus.OPEN.value:
                old: Notice = self.get(UUID(r.notice_id), "notice")
                old.supersede(notice.id, actor)
                replaced.append(old)
        self.save(notice, *replaced)
        return notice.id

    def list_entitlement(self, started: EntitlementStarted, actor: dict[str, Any],
                         source_event_id: str) -> UUID | None:
        entry_id = roster_entry_id_for(started.entitlement_id)
        if self._roster_entry(started.entitlement_id) is not None:
            log.warning("roster entry %s already listed; ignored", entry_id)
            return None
        content = PublicContent.masked(
            started.applicant_name, self.policy.name_rule, started.household_size,
            started.kind.value, started.monthly_amount, started.village)
        entry = RosterEntry.list_(
            entitlement_id=started.entitlement_id, case_id=started.case_id,
            township=started.township, content=content, name_rule=self.policy.name_rule,
            start_month=started.start_month, source_event_id=source_event_id, actor=actor)
        self.save(entry)
        return entry.id

    def change_entitlement(self, changed: EntitlementChanged, actor: dict[str, Any],
                           source_event_id: str) -> None:
        entry = self._roster_entry(changed.entitlement_id)
        if entry is None:
            raise RuleViolation("publicity.unknown_entitlement",
                                f"entitlement {changed.entitlement_id} was never started here",
                                field="entitlement_id")
        entry.change(RosterChange(changed.change), monthly_amount=changed.monthly_amount,
                     household_size=changed.household_size,
                     effective_month=changed.effective_month, source_event_id=source_event_id,
                     actor=actor)
        self.save(entry)

    def _roster_entry(self, entitlement_id: UUID) -> RosterEntry | None:
        try:
            entry: RosterEntry = self.get(roster_entry_id_for(entitlement_id), "roster entry")
        except NotFound:
            return None
        return entry

    # --- objections -------------------------------------------------------------------------

    def file_objection(self, notice_id: UUID, *, text: str, contact: str | None,
                       objector_name: str | None) -> UUID:
        """异议: anyone, no login. Only the public notice's id is needed."""
        notice = self._notice(notice_id)
        objection_id = uuid4()
        notice.file_objection(objection_id, text=text, contact=contact,
                              objector_name=objector_name, on=self.today(), actor=PUBLIC_ACTOR)
        self.save(notice)
        return objection_id

    def record_investigation(self, who: Principal, notice_id: UUID, objection_id: UUID, *,
                             method: InvestigationMethod, notes: str) -> Notice:
        notice = self._notice(notice_id)
        who.check_jurisdiction(notice.township)
        notice.record_investigation(objection_id, method=method, notes=notes, on=self.today(),
                                    actor=who.actor())
        self.save(notice)
        return notice

    def resolve_objection(self, who: Principal, notice_id: UUID, objection_id: UUID, *,
                          upheld: bool, finding: str) -> Notice:
        notice = self._notice(notice_id)
        who.check_jurisdiction(notice.township)
        notice.resolve_objection(objection_id, upheld=upheld, finding=finding, on=self.today(),
                                 actor=who.actor())
        self.save(notice)
        return notice

    def _notice(self, notice_id: UUID) -> Notice:
        notice: Notice = self.get(notice_id, "notice")
        return notice

    # --- the scheduler's command -------------------------------------------------------------

    def close_due_notices(self, limit: int = 200) -> list[UUID]:
        """Close every open notice whose window has ended and that awaits no finding.

        Safe to run any time and from any replica: a notice closed concurrently loses the
        version race and is simply skipped here.
        """
        day = self.today()
        t = self.views.notices
        with self.read_session() as s:
            due = s.execute(select(t.c.notice_id).where(
                t.c.status == NoticeStatus.OPEN.value, t.c.ends_on < day,
                t.c.objections_pending == 0).order_by(t.c.ends_on).limit(limit)).scalars().all()
        closed: list[UUID] = []
        for key in due:
            notice = self._notice(UUID(key))
            if notice.close_if_due(day, SYSTEM_ACTOR):
                try:
                    self.save(notice)
                except IntegrityError:  # an objection or another closer got there first
                    continue
                closed.append(notice.id)
        return closed

    # --- queries ----------------------------------------------------------------------------

    def village_name(self, code: str) -> str | None:
        try:
            return self.county.village(code)[1].name
        except UnknownRegion:
            return None

    def check_place(self, township: str | None, village: str | None) -> None:
        if village is not None and township is not None and not self.county.is_village_of(
                village, township):
            raise RuleViolation("publicity.unknown_village",
                                f"village {village} is not in township {township}",
                                field="village")
        if village is not None and township is None:
            try:
                self.county.village(village)
            except UnknownRegion as e:
                raise RuleViolation("publicity.unknown_village", str(e), field="village") from None
        if township is not None:
            try:
                self.county.township(township)
            except UnknownRegion as e:
                raise RuleViolation("publicity.unknown_township", str(e),
                                    field="township") from None

    def public_notices(self, *, township: str | None, village: str | None, limit: int,
                       offset: int) -> tuple[int, list[dict[str, Any]]]:
        """The notices posted now: open ones only, public fields only."""
        self.check_place(township, village)
        t = self.views.notices
        q = select(t).where(t.c.status == NoticeStatus.OPEN.value)
        if township is not None:
            q = q.where(t.c.township == township)
        if village is not None:
            q = q.where(t.c.village == village)
        return self._page(q, [t.c.village, t.c.starts_on, t.c.notice_id], limit, offset)

    def public_notice(self, notice_id: UUID) -> dict[str, Any]:
        t = self.views.notices
        with self.read_session() as s:
            row = s.execute(select(t).where(t.c.notice_id == str(notice_id),
                                            t.c.status == NoticeStatus.OPEN.value)).first()
        if row is None:
            raise NotFound("publicity.notice_not_posted", f"no notice {notice_id} is posted")
        return dict(row._mapping)

    def official_notices(self, who: Principal, township: str, view: OfficialView, limit: int,
                         offset: int) -> tuple[int, list[dict[str, Any]]]:
        who.check_jurisdiction(township, who.village)
        t = self.views.notices
        q = select(t).where(t.c.township == township)
        if who.village:  # a village assistant: their own village's board
            q = q.where(t.c.village == who.village)
        is_open = t.c.status == NoticeStatus.OPEN.value
        horizon = self.today() + timedelta(days=self.policy.closing_soon_days)
        q = q.where({
            "open": is_open,
            "closing_soon": and_(is_open, t.c.ends_on <= horizon),
            "pending_objections": t.c.objections_pending > 0,
            "closed": t.c.status != NoticeStatus.OPEN.value,
            "all": t.c.notice_id.is_not(None),
        }[view])
        return self._page(q, [t.c.ends_on, t.c.notice_id], limit, offset)

    def notice(self, who: Principal, notice_id: UUID) -> Notice:
        notice = self._notice(notice_id)
        who.check_jurisdiction(notice.township, notice.village)
        return notice

    def roster(self, *, township: str | None, village: str | None, as_of: date | None,
               limit: int, offset: int) -> tuple[date, int, list[dict[str, Any]]]:
        """长期公示 as it stood on `as_of` (default today): per entry, the latest event
        effective by that month, if it left the household listed."""
        self.check_place(township, village)
        day = as_of or self.today()
        if day > self.today():
            raise RuleViolation("publicity.as_of_future", "as_of cannot be in the future",
                                field="as_of")
        r = self.views.roster
        latest = func.row_number().over(
            partition_by=r.c.entry_id,
            order_by=[r.c.effective_month.desc(), r.c.position.desc()]).label("rn")
        inner = select(r, latest).where(r.c.effective_month <= month_of(day))
        if township is not None:
            inner = inner.where(r.c.township == township)
        if village is not None:
            inner = inner.where(r.c.village == village)
        sub = inner.subquery()
        q = select(sub).where(sub.c.rn == 1, sub.c.listed.is_(True))
        total, items = self._page(q, [sub.c.village, sub.c.display_name, sub.c.entry_id],
                                  limit, offset)
        return day, total, items

    def _page(self, q: Any, order: list[Any], limit: int,
              offset: int) -> tuple[int, list[dict[str, Any]]]:
        with self.read_session() as s:
            total = s.execute(select(func.count()).select_from(q.subquery())).scalar_one()
            rows = s.execute(q.order_by(*order).limit(limit).offset(offset))
            return int(total), [dict(row._mapping) for row in rows]

    # for tests and ops: what notice a case round got
    @staticmethod
    def notice_id(case_id: UUID, subject: str, round_: int) -> UUID:
        return notice_id_for(case_id, subject, round_)
