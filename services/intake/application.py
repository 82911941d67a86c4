"""Intake's one writer: filing, completion, acceptance, withdrawal, reported changes, the
unmasked-view record, and the case status learned from review."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.intake.domain import (
    Application,
    Disclosure,
    PolicyBook,
    check_change,
    check_filing,
    missing_items,
)
from services.intake.projections import IntakeProjection
from services.intake.values import Household, HouseholdChange, Member, MissingItem
from shared.auth import Principal, Role
from shared.clock import today_from
from shared.contracts import Actor
from shared.contracts.common import AssistanceKind
from shared.errors import Forbidden, NotFound, RuleViolation
from shared.eventstore import ServiceApplication
from shared.pii import Keyring
from shared.regions import County
from shared.settings import ServiceSettings

# Who may see ID numbers, bank accounts and phones unmasked (each view is recorded): the
# township clerk who handles the case (identity checks against the paper file), the county
# centre (runs the economic verification) and the discipline inspectors (audit).
DEFAULT_UNMASK_ROLES = frozenset({Role.TOWNSHIP_CLERK, Role.COUNTY_CENTRE,
                                  Role.DISCIPLINE_INSPECTOR})


class IntakeApplication(ServiceApplication):
    name = "intake"

    def __init__(self, settings: ServiceSettings, county: County, policies: PolicyBook,
                 keyring: Keyring, *, today: Callable[[], date] | None = None,
                 unmask_roles: Iterable[Role] = DEFAULT_UNMASK_ROLES) -> None:
        self.county, self.policies, self.keyring = county, policies, keyring
        self.today = today or today_from(settings.clock)
        self.unmask_roles = frozenset(unmask_roles)
        self.views = IntakeProjection()
        super().__init__(settings, self.views)

    # --- filing ----------------------------------------------------------------------------

    def submit(self, who: Principal, *, kind: AssistanceKind, linshi_type: str | None,
               township: str, village: str, filed_by: str, filing: Household) -> UUID:
        owner = None
        if who.role is Role.PUBLIC:
            # An online application: the filer owns it and may follow it, in any township.
            if filed_by == "village_committee":
                raise RuleViolation("intake.filed_by_role",
                                    "a village-committee filing is made by a village assistant "
                                    "or the township", field="filed_by")
            owner = who.user_id
        else:
            who.check_jurisdiction(township, village)
        on = self.today()
        policy = self.policies.in_force(on)
        filing = check_filing(self.county, policy, kind=kind.value, linshi_type=linshi_type,
                              township=township, village=village, filed_by=filed_by,
                              filing=filing, on=on, names=self.policies.name_rule(on))
        filing = filing.fingerprinted(self.keyring.fingerprint)
        with self.unit_of_work() as s:
            # The public learns nothing about strangers: a duplicate is the township's to see.
            flagged = self._refuse_duplicates(s, kind.value, _fingerprints(filing.members),
                                              "members", quiet=who.role is Role.PUBLIC)
            application = Application(
                kind=kind.value, linshi_type=linshi_type, township=township, village=village,
                urban=self.county.village(village)[1].urban, filed_by=filed_by, owner=owner,
                household_id=self._household_id(filing), filing=filing.to_stored(), filed_on=on,
                policy_version=policy.version, actor=who.as_actor().stored(),
                **({"already_members": flagged} if flagged else {}))
            self.save(application)
        return application.id

    def resubmit(self, who: Principal, application_id: UUID,
                 filing: Household) -> Application:
        with self._changing(who, application_id, filer=True) as a:
            on = self.today()
            policy = self.policies.in_force(on)
            filing = check_filing(self.county, policy, kind=a.kind, linshi_type=a.linshi_type,
                                  township=a.township, village=a.village, filed_by=a.filed_by,
                                  filing=filing, on=on, names=self.policies.name_rule(on))
            filing = filing.fingerprinted(self.keyring.fingerprint)
            with self.unit_of_work() as s:
                flagged = self._refuse_duplicates(s, a.kind, _fingerprints(filing.members),
                                                  "members", a.id, quiet=who.role is Role.PUBLIC)
            a.resubmit(filing, self._household_id(filing), policy.version, on, who.as_actor(),
                       already_members=flagged)
        return a

    # --- the township's decisions on acceptance ---------------------------------------------

    def missing(self, a: Application) -> list[MissingItem]:
        """What the filing lacks against the checklist it was filed under."""
        return missing_items(self.policies.version(a.policy_version), a.kind, a.linshi_type,
                             a.filed_by, a.as_filed, self.today())

    def accept(self, who: Principal, application_id: UUID) -> Application:
        with self._changing(who, application_id) as a:
            # A duplicate a public filing was not told about is refused here, to the township.
            with self.read_session() as s:
                self._refuse_duplicates(s, a.kind, _fingerprints(a.members), "members", a.id)
            policy = self.policies.version(a.policy_version)
            a.accept(self.today(), self.missing(a), policy.may_follow(a.kind, a.linshi_type),
                     who.as_actor())
        return a

    def return_for_completion(self, who: Principal, application_id: UUID, items: list[str],
                              note: str | None) -> Application:
        with self._changing(who, application_id) as a:
            missing = self.missing(a) + [MissingItem(code="clerk", description=i) for i in items]
            a.return_for_completion(missing, note, self.today(), who.as_actor())
        return a

    def decline(self, who: Principal, application_id: UUID, reason: str) -> Application:
        with self._changing(who, application_id) as a:
            a.decline(reason, self.today(), who.as_actor())
        return a

    def withdraw(self, who: Principal, application_id: UUID, reason: str) -> Application:
        with self._changing(who, application_id, filer=True) as a:
            a.withdraw(reason, self.today(), who.as_actor())
        return a

    def report_change(self, who: Principal, application_id: UUID,
                      change: HouseholdChange) -> UUID:
        with self._changing(who, application_id, filer=True) as a:
            on = self.today()
            change = check_change(self.policies.in_force(on), change, on,
                                  names=self.policies.name_rule(on))
            change = change.fingerprinted(self.keyring.fingerprint)
            with self.unit_of_work() as s:
                # As for a filing: the public learns nothing; the township sees the flag.
                flagged = self._refuse_duplicates(s, a.kind,
                                                  _fingerprints(change.members_joined),
                                                  "members_joined", a.id,
                                                  quiet=who.role is Role.PUBLIC)
            change_id = a.report_change(change, on, who.as_actor(), already_members=flagged)
        return change_id

    # --- facts from review (reactions.py) ---------------------------------------------------

    def record_confirmation(self, application_id: UUID, case_id: UUID, decided_on: date,
                            actor: Actor) -> None:
        a: Application = self.get(application_id, "application")
        one_off = self.policies.version(a.policy_version).one_off_kinds
        if a.record_confirmation(case_id, decided_on, AssistanceKind(a.kind) in one_off, actor):
            self.save(a)

    def record_rejection(self, application_id: UUID, case_id: UUID, decided_on: date,
                         reasons: list[str], actor: Actor) -> None:
        a: Application = self.get(application_id, "application")
        if a.record_rejection(case_id, decided_on, reasons, actor):
            self.save(a)

    def record_termination(self, case_id: UUID, effective_month: str, reasons: list[str],
                           actor: Actor) -> None:
        t = self.views.applications
        with self.unit_of_work() as s:
            row = s.execute(select(t.c.application_id).where(
                t.c.case_id == str(case_id))).first()
            if row is None:
                raise NotFound("intake.case_not_found",
                               f"no confirmed application for review case {case_id}")
            a: Application = self.get(UUID(row[0]), "application")
            if a.record_termination(effective_month, reasons, actor):
                self.save(a)

    # --- reads -----------------------------------------------------------------------------

    def application(self, who: Principal, application_id: UUID) -> Application:
        a: Application = self.get(application_id, "application")
        self._check_may_see(who, a)
        return a

    def view(self, who: Principal, application_id: UUID, unmask: bool,
             reason: str | None) -> Application:
        """One application; an unmasked view is allowed to some roles and always recorded."""
        a = self.application(who, application_id)
        if unmask:
            if who.role not in self.unmask_roles:
                raise Forbidden("intake.unmask_role",
                                f"role {who.role.value} may not see unmasked personal data",
                                field="unmask")
            if not reason or not reason.strip():
                raise RuleViolation("intake.reason_required",
                                    "say why the unmasked data is needed", field="reason")
            self.save(Disclosure(application_id=a.id, township=a.township, village=a.village,
                                 fields=sensitive_fields(a), reason=reason.strip(),
                                 actor=who.as_actor().stored()))
        return a

    def disclosures(self, who: Principal, application_id: UUID) -> list[dict[str, Any]]:
        a = self.application(who, application_id)
        t = self.views.disclosures
        with self.read_session() as s:
            rows = s.execute(select(t).where(t.c.application_id == str(a.id))
                             .order_by(t.c.viewed_at, t.c.disclosure_id))
            return [dict(r._mapping) for r in rows]

    def list_applications(self, who: Principal, *, township: str | None, status: str | None,
                          kind: str | None, village: str | None, filed_from: date | None,
                          filed_to: date | None, limit: int,
                          offset: int) -> tuple[int, list[dict[str, Any]]]:
        t = self.views.applications
        q = select(t)
        if who.role is Role.PUBLIC:
            q = q.where(t.c.owner == who.user_id)  # the public sees only its own filings
        elif township is None and not who.is_county:
            township = who.township
        if township is not None:
            if who.role is not Role.PUBLIC:
                who.check_jurisdiction(township, who.village)
            q = q.where(t.c.township == township)
        if who.role is Role.VILLAGE_ASSISTANT:  # only their own village's filings
            q = q.where(t.c.village == who.village)
        for column, value in ((t.c.status, status), (t.c.kind, kind), (t.c.village, village)):
            if value is not None:
                q = q.where(column == value)
        if filed_from is not None:
            q = q.where(t.c.filed_on >= filed_from)
        if filed_to is not None:
            q = q.where(t.c.filed_on <= filed_to)
        with self.read_session() as s:
            total = s.execute(select(func.count()).select_from(q.subquery())).scalar_one()
            rows = s.execute(q.order_by(t.c.submitted_at.desc(), t.c.application_id)
                             .limit(limit).offset(offset))
            items = [{k: v for k, v in r._mapping.items() if k not in ("owner", "position")}
                     for r in rows]
        return total, items

    # --- internals -------------------------------------------------------------------------

    @contextmanager
    def _changing(self, who: Principal, application_id: UUID,
                  filer: bool = False) -> Iterator[Application]:
        """Load, check the caller may act on it, let the body decide, save: one transaction."""
        with self.unit_of_work():
            a: Application = self.get(application_id, "application")
            if filer:
                self._check_may_see(who, a)
            else:
                who.check_jurisdiction(a.township)
            yield a
            self.save(a)

    def _check_may_see(self, who: Principal, a: Application) -> None:
        if who.role is Role.PUBLIC:
            if a.owner is None or a.owner != who.user_id:
                raise Forbidden("auth.role", "the public may see only applications it filed",
                                field="role")
            return
        who.check_jurisdiction(a.township, a.village)

    @staticmethod
    def _household_id(filing: Household) -> str:
        return f"hh-{_fingerprints([filing.applicant])[0][:32]}"

    def _refuse_duplicates(self, s: Session, kind: str, people: list[str],
                           group: str, own: UUID | None = None,
                           quiet: bool = False) -> list[str]:
        """No person (by fingerprint, in the order listed under `group`) in two open
        applications or active cases of the same kind. `quiet` (a public filer): the
        fields naming such a person are returned, not refused."""
        if not people:
            return []
        t = self.views.memberships
        q = select(t.c.fingerprint).where(t.c.kind == kind, t.c.fingerprint.in_(people))
        if own is not None:
            q = q.where(t.c.application_id != str(own))
        taken = set(s.execute(q).scalars())
        if quiet:
            return [f"{group}[{i}].resident_id" for i, p in enumerate(people) if p in taken]
        for i, p in enumerate(people):
            if p in taken:
                raise RuleViolation(
                    "intake.already_member",
                    "this person is already a member of another open application or active "
                    "case of the same kind in the county", field=f"{group}[{i}].resident_id")
        return []


def sensitive_fields(a: Application) -> list[str]:
    """Which kinds of sensitive value an unmasked view of `a` reveals."""
    fields = ["members.resident_id"]
    if any(m.phone for m in a.household):
        fields.append("members.phone")
    filed = a.as_filed
    if filed.legal_supporters:
        fields.append("legal_supporters.resident_id")
    if filed.bank_account is not None:
        fields.append("bank_account.account")
    return fields


def _fingerprints(people: list[Member]) -> list[str]:
    # Keyed hashes, so de-duplication never compares or stores plaintext ID numbers.
    found = [p.fingerprint for p in people]
    if None in found:
        raise ValueError("fingerprint the household before comparing it")
    return [f for f in found if f is not None]
