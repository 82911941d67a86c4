"""Review's one writer: cases, entitlements, the policy table and spot checks.

Every command takes the Principal, checks jurisdiction where the aggregate's township is
known, reads the policy version in force, and calls the domain. Several aggregates changed
by one command are saved together (one transaction).
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from sqlalchemy import and_, func, or_, select

from services.review.domain import (
    CaseStatus,
    Entitlement,
    PolicyTable,
    PolicyTerms,
    ReviewCase,
    SpotCheck,
    add_months,
    add_months_to_date,
    apply_findings,
    apply_reported_change,
    case_id_for,
    check_payee_account,
    compute,
    entitlement_id_for,
    month_of,
    policy_table_id,
    sample_size,
    spot_check_id_for,
)
from services.review.projections import ReviewProjection
from services.review.values import (
    Assessment,
    Asset,
    Breakdown,
    Findings,
    HomeVisit,
    Household,
    Income,
    Interview,
    Investigator,
    Member,
    MemberLeft,
    PanelMember,
    ReportedChange,
    SampledCase,
    TekunAssessment,
    VerificationReport,
    members_counted,
)
from shared.auth import Principal, Role
from shared.calendar import WorkingCalendar
from shared.clock import MonthlyRhythm, today_from
from shared.contracts import Actor
from shared.contracts.common import AssistanceKind
from shared.contracts.intake import (
    MEMBER_ID_PURPOSE,
    ApplicationAccepted,
    ApplicationAcceptedV1,
    AssetItem,
    ChangeReported,
    ChangeReportedV1,
    IncomeItem,
    MemberRef,
)
from shared.contracts.publicity import ReportUpheld
from shared.errors import Forbidden, NotFound, RuleViolation
from shared.eventstore import ServiceApplication, cycle_collection_paused
from shared.fieldcrypt import Keyring
from shared.pii import mask_bank_account, mask_resident_id
from shared.regions import County, UnknownRegion
from shared.settings import ServiceSettings

# Disbursement unseals the payee's account under this purpose (its payee_account_purposes).
PAYEE_PURPOSE = "payee.account"

SYSTEM_ACTOR = Actor(user_id="system:review", role="county_bureau")


def _member(m: MemberRef) -> Member:
    # Only the mask and the keyed fingerprint of the resident ID: review never needs it.
    return Member(fingerprint=m.fingerprint, name=m.name, relation=m.relation,
                  birth_date=m.birth_date, resident_id_mask=m.resident_id.mask,
                  disability_grade=m.disability.grade if m.disability else None,
                  disability_kind=m.disability.kind if m.disability else None,
                  serious_illness=m.serious_illness, work_capacity=m.work_capacity.value,
                  student=m.student, counted=True)


def _income(i: IncomeItem) -> Income:
    return Income(member_fingerprint=i.member_fingerprint, kind=i.kind.value, amount=i.amount,
                  months=i.months)


def _asset(a: AssetItem) -> Asset:
    return Asset(kind=a.kind.value, value=a.value, exempt=a.exempt)


# Who may read an economic-status verification report; everyone else sees it masked.
VERIFICATION_READERS = frozenset({Role.TOWNSHIP_REVIEWER, Role.TOWNSHIP_LEADER,
                                  Role.COUNTY_CENTRE, Role.COUNTY_BUREAU,
                                  Role.DISCIPLINE_INSPECTOR})


class ReviewApplication(ServiceApplication):
    name = "review"

    def __init__(self, settings: ServiceSettings, calendar: WorkingCalendar,
                 county: County | None = None, today: Callable[[], date] | None = None,
                 due_soon_working_days: int = 3, keyring: Keyring | None = None) -> None:
        self.calendar, self.county = calendar, county
        self.keyring = keyring  # unseals intake's household details (application_accepted v2)
        self.today = today or today_from(settings.clock)
        self.due_soon_working_days = due_soon_working_days
        self.views = ReviewProjection()
        super().__init__(settings, self.views)

    # ==========================================================================================
    # Policy table
    # ==========================================================================================

    def _policy_table(self) -> PolicyTable:
        try:
            return self.repository.get(policy_table_id(self.settings.region))
        except AggregateNotFoundError:
            raise RuleViolation("review.no_policy", "the county bureau has not published a "
                                "policy table yet", field="policy") from None

    def policy_on(self, on: date) -> tuple[int, PolicyTerms]:
        return self._policy_table().in_force(on)

    def rhythm_for(self, decided_on: date) -> MonthlyRhythm:
        """The cut-off a decision on `decided_on` is scheduled by (shared.clock's one rule)."""
        return self._policy_table().rhythms().for_decision(decided_on)

    def publish_policy(self, who: Principal, effective_from: date, terms: dict[str, Any],
                       reason: str) -> int:
        checked = PolicyTerms.from_dict(terms)
        try:
            table = self.repository.get(policy_table_id(self.settings.region))
        except AggregateNotFoundError:
            table = PolicyTable.for_region(self.settings.region, who.as_actor())
        number = table.publish(effective_from, checked, reason, self.today(), who.as_actor())
        self.save(table)
        return number

    def seed_policy(self, versions: list[dict[str, Any]]) -> bool:
        """Load the demo policy once, when the county has none yet (local stack, tests)."""
        try:
            self.repository.get(policy_table_id(self.settings.region))
            return False
        except AggregateNotFoundError:
            pass
        table = PolicyTable.for_region(self.settings.region, SYSTEM_ACTOR)
        for v in versions:
            # Seeding builds history, so "today" is each version's own first day.
            effective = date.fromisoformat(v["effective_from"])
            table.publish(effective, PolicyTerms.from_dict(v["terms"]), v["reason"], effective,
                          SYSTEM_ACTOR)
        try:
            self.save(table)
        except IntegrityError:  # another replica seeded it at the same moment
            return False
        return True

    def policy_versions(self) -> list[dict[str, Any]]:
        return list(self._policy_table().versions)

    # ==========================================================================================
    # Opening a case (reaction to intake's ApplicationAccepted)
    # ==========================================================================================

    def _keyring(self) -> Keyring:
        if self.keyring is None:
            raise RuleViolation("review.no_keyring", "review holds no keyring to unseal "
                                "intake's household details", field="keyring")
        return self.keyring

    def _urban(self, accepted: ApplicationAcceptedV1) -> bool:
        if accepted.urban is not None:
            return accepted.urban
        if self.county is not None:
            try:
                return self.county.village(accepted.village)[1].urban
            except UnknownRegion:
                pass
        return False  # the rural standard is the lower one: never over-pays by default

    def _holder_id_mask(self, accepted: ApplicationAcceptedV1) -> str | None:
        """The account holder's 身份证号(脱敏) for the bank roster, masked here where the ID
        can be unsealed, so that only the mask travels on. None: no keyring, or the holder
        is not a member of the household."""
        assert accepted.bank_account is not None
        holder = accepted.bank_account.holder_name
        member = next((m for m in accepted.members if m.name == holder), None)
        if member is None or self.keyring is None:
            return None
        return mask_resident_id(self.keyring.decrypt(member.resident_id, MEMBER_ID_PURPOSE))

    def open_case(self, accepted: ApplicationAccepted | ApplicationAcceptedV1,
                  actor: Actor) -> UUID:
        if isinstance(accepted, ApplicationAccepted):
            accepted = accepted.opened(self._keyring())  # DecryptionError if tampered
        version, terms = self.policy_on(accepted.accepted_on)
        kind = accepted.kind.value
        investigation = self.calendar.add_working_days(accepted.accepted_on,
                                                       terms.investigation_start_working_days)
        decision = self.calendar.add_working_days(accepted.accepted_on,
                                                  terms.decision_working_days[kind])
        household = Household(
            urban=self._urban(accepted), members=tuple(_member(m) for m in accepted.members),
            incomes=tuple(_income(i) for i in accepted.incomes),
            assets=tuple(_asset(a) for a in accepted.assets), irregular_income=False)
        payee = None
        if accepted.bank_account is not None:
            # Kept sealed as received: review never needs the account number itself.
            payee = {"name": accepted.bank_account.holder_name,
                     "bank": accepted.bank_account.bank,
                     "account": accepted.bank_account.account.model_dump(mode="json"),
                     "resident_id_mask": self._holder_id_mask(accepted)}
        case = ReviewCase.open(
            application_id=accepted.application_id, kind=kind, township=accepted.township,
            village=accepted.village, accepted_on=accepted.accepted_on,
            household_size=len(accepted.members), applicant_name=accepted.applicant_name,
            close_relative_declared=accepted.close_relative_declared,
            investigation_due=investigation.due, decision_due=decision.due,
            deadlines_provisional=investigation.provisional or decision.provisional,
            actor=actor, household=household, household_id=accepted.household_id,
            linshi_type=accepted.linshi_type.value if accepted.linshi_type else None,
            payee=payee, policy_version=version)
        self.save(case)
        return case.id

    # ==========================================================================================
    # Case reads
    # ==========================================================================================

    def _case(self, case_id: UUID) -> ReviewCase:
        case: ReviewCase = self.get(case_id, "review case")
        if not isinstance(case, ReviewCase):
            raise NotFound("review.not_found", f"review case {case_id} not found")
        return case

    def case(self, who: Principal, case_id: UUID) -> ReviewCase:
        case = self._case(case_id)
        who.check_jurisdiction(case.township)
        if who.role is Role.CONTRACTOR_INVESTIGATOR and case.contractor != who.org:
            # Reads are refused, not hidden: the contractor knows the id from somewhere.
            raise Forbidden("review.contractor_not_assigned",
                            "this case is not assigned to the contractor", field="case_id")
        return case

    @staticmethod
    def sees_verification(who: Principal) -> bool:
        return who.role in VERIFICATION_READERS

    def case_for_application(self, who: Principal, application_id: UUID) -> ReviewCase:
        return self.case(who, case_id_for(application_id))

    def list_cases(self, who: Principal, township: str, limit: int, offset: int,
                   status: str | None = None) -> tuple[int, list[dict[str, Any]]]:
        who.check_jurisdiction(township)
        t = self.views.cases
        q = select(t).where(t.c.township == township)
        if who.role is Role.CONTRACTOR_INVESTIGATOR:
            q = q.where(t.c.contractor == (who.org or ""))
        if status:
            q = q.where(t.c.status == status)
        with self.read_session() as s:
            total = s.execute(select(func.count()).select_from(q.subquery())).scalar_one()
            rows = s.execute(q.order_by(t.c.decision_due, t.c.case_id).limit(limit)
                             .offset(offset))
            return total, [dict(r._mapping) for r in rows]

    def _acting(self, who: Principal, case_id: UUID) -> ReviewCase:
        """Load a case for a command: jurisdiction, then the contractor's assignment (422)."""
        case = self._case(case_id)
        who.check_jurisdiction(case.township)
        if who.role is Role.CONTRACTOR_INVESTIGATOR:
            case.check_contractor(who.org)
        return case

    # ==========================================================================================
    # Investigation and verification
    # ==========================================================================================

    def assign_investigation(self, who: Principal, case_id: UUID,
                             investigators: list[dict[str, Any]],
                             contractor: str | None) -> ReviewCase:
        case = self._acting(who, case_id)
        today = self.today()
        _, terms = self.policy_on(today)
        case.assign_investigation([Investigator.of(i) for i in investigators], contractor,
                                  terms, today, who.as_actor())
        self.save(case)
        return case

    def record_home_visit(self, who: Principal, case_id: UUID, visit: dict[str, Any],
                          findings: dict[str, Any]) -> ReviewCase:
        case = self._acting(who, case_id)
        home_visit = HomeVisit.of(visit)
        if home_visit.visited_on > self.today():
            raise RuleViolation("review.date_in_future", "the visit cannot be in the future",
                                field="visited_on")
        _, terms = self.policy_on(home_visit.visited_on)
        case.record_home_visit(home_visit, Findings.of(findings), terms.min_investigators,
                               who.as_actor())
        self.save(case)
        return case

    def record_interview(self, who: Principal, case_id: UUID,
                         interview: dict[str, Any]) -> ReviewCase:
        case = self._acting(who, case_id)
        case.record_interview(Interview.of(interview), who.as_actor())
        self.save(case)
        return case

    def request_verification(self, who: Principal, case_id: UUID) -> ReviewCase:
        case = self._acting(who, case_id)
        case.request_verification(self.today(), who.as_actor())
        self.save(case)
        return case

    def record_verification(self, who: Principal, case_id: UUID,
                            report: dict[str, Any]) -> ReviewCase:
        case = self._acting(who, case_id)
        case.record_verification(VerificationReport.of(report), self.today(), who.as_actor())
        self.save(case)
        return case

    # ==========================================================================================
    # Joint review, opinion, county approval
    # ==========================================================================================

    def hold_joint_review(self, who: Principal, case_id: UUID, held_on: date,
                          members: list[dict[str, Any]], outcome: str) -> ReviewCase:
        case = self._acting(who, case_id)
        if held_on > self.today():
            raise RuleViolation("review.date_in_future", "the meeting cannot be in the future",
                                field="held_on")
        _, terms = self.policy_on(held_on)
        case.hold_joint_review(held_on, [PanelMember.of(m) for m in members], outcome, terms,
                               who.as_actor())
        self.save(case)
        return case

    def issue_opinion(self, who: Principal, case_id: UUID, approve: bool, reasons: list[str],
                      assessment: dict[str, Any]) -> ReviewCase:
        case = self._acting(who, case_id)
        today = self.today()
        version, terms = self.policy_on(today)
        rejection_due = self.calendar.add_working_days(
            today, terms.rejection_notice_working_days).due
        case.issue_opinion(approve, reasons, Assessment.of(assessment), version, terms, today,
                           rejection_due, who.as_actor())
        self.save(case)
        return case

    def recompute_opinion(self, who: Principal, case_id: UUID) -> dict[str, Any]:
        """The opinion's amount recomputed from its recorded inputs and policy version."""
        case = self.case(who, case_id)
        opinion = case.issued_opinion
        if opinion is None or opinion.breakdown is None:
            raise RuleViolation("review.opinion_missing", "no computed opinion on this case")
        terms = self._policy_table().terms(opinion.policy_version)
        again = compute(case.kind, opinion.inputs, terms).to_stored()
        # Compared as recorded (text to the fen), not as numbers: "1.0" is not "1.00".
        recorded = opinion.breakdown.to_stored()
        return {"policy_version": opinion.policy_version, "recorded": recorded,
                "recomputed": again, "identical": again == recorded}

    def approve_at_county(self, who: Principal, case_id: UUID, reasons: list[str]) -> ReviewCase:
        case = self._acting(who, case_id)
        case.approve_at_county(reasons, self.today(), who.as_actor())
        self.save(case)
        return case

    def extend_deadline(self, who: Principal, case_id: UUID, reason: str) -> ReviewCase:
        case = self._acting(who, case_id)
        _, terms = self.policy_on(case.accepted_on)
        due = self.calendar.add_working_days(case.accepted_on,
                                             terms.decision_extended_working_days)
        case.extend_decision_deadline(reason, due, who.as_actor())
        self.save(case)
        return case

    # ==========================================================================================
    # Publicity outcomes (reactions)
    # ==========================================================================================

    def publicity_opened(self, case_id: UUID, notice_id: UUID, round_: int, starts_on: date,
                         ends_on: date, actor: Actor) -> None:
        case = self._case(case_id)
        if case.publicity_opened(notice_id, round_, starts_on, ends_on, actor):
            self.save(case)

    def publicity_closed(self, case_id: UUID, notice_id: UUID, round_: int, outcome: str,
                         finding: str | None, closed_on: date, actor: Actor) -> None:
        case = self._case(case_id)
        confirmation_due = None
        if case.kind == AssistanceKind.TEKUN.value and outcome == "clean":
            _, terms = self.policy_on(closed_on)
            confirmation_due = self.calendar.add_working_days(
                closed_on, terms.tekun_confirmation_working_days).due
        if case.publicity_closed(notice_id, round_, outcome, finding, closed_on,
                                 confirmation_due, actor):
            self.save(case)

    def termination_notice_closed(self, case_id: UUID, outcome: str, finding: str | None,
                                  closed_on: date, actor: Actor) -> None:
        ent = self._entitlement(entitlement_id_for(case_id))
        if ent.termination_notice_closed(outcome, finding, closed_on, actor):
            self.save(ent)

    # ==========================================================================================
    # Confirmation or rejection (township leader)
    # ==========================================================================================

    def confirm(self, who: Principal, case_id: UUID, notice: str) -> tuple[ReviewCase,
                                                                           Entitlement | None]:
        case = self._acting(who, case_id)
        today = self.today()
        _, now_terms = self.policy_on(today)
        opinion = case.issued_opinion
        opinion_terms = (self._policy_table().terms(opinion.policy_version)
                         if opinion is not None and opinion.policy_version else now_terms)
        recheck_months = None
        valid_until = None
        if case.kind in (AssistanceKind.DIBAO.value, AssistanceKind.TEKUN.value):
            recheck_months = case.recheck_months(opinion_terms, today)
        if case.kind == AssistanceKind.DIBAO_EDGE.value:
            valid_until = add_months_to_date(today, opinion_terms.dibao_edge_validity_months)
        case.confirm(today, notice, recheck_months, valid_until, self.rhythm_for(today),
                     who.as_actor())
        entitlement = None
        if recheck_months is not None:
            assert case.decision is not None and opinion is not None
            assert opinion.breakdown is not None  # an approving opinion has its amount
            start = case.decision["start_month"]
            first_day = date.fromisoformat(f"{start}-01")
            entitlement = Entitlement.start(
                case_id=case.id, kind=case.kind, household_id=case.household_id,
                township=case.township, village=case.village,
                urban=case.household_on_record.urban, applicant_name=case.applicant_name,
                household_size=opinion.household_size, monthly_amount=opinion.amount,
                breakdown=opinion.breakdown, policy_version=opinion.policy_version,
                start_month=start, recheck_due=add_months_to_date(first_day, recheck_months),
                recheck_months=recheck_months, payee=case.payee,
                inputs=opinion.inputs, actor=who.as_actor(),
                decided_on=today)
            self.save(case, entitlement)
        else:
            self.save(case)
        return case, entitlement

    def reject(self, who: Principal, case_id: UUID, reasons: list[str]) -> ReviewCase:
        case = self._acting(who, case_id)
        case.reject(self.today(), reasons, who.as_actor())
        self.save(case)
        return case

    # ==========================================================================================
    # 临时救助 急难型 先行救助
    # ==========================================================================================

    def grant_advance(self, who: Principal, case_id: UUID, band: str, instalments: int,
                      reason: str) -> ReviewCase:
        case = self._acting(who, case_id)
        today = self.today()
        version, terms = self.policy_on(today)
        due = self.calendar.add_working_days(
            today, terms.linshi_advance_completion_working_days).due
        case.grant_advance(band, instalments, version, terms, today, due, reason, who.as_actor())
        self.save(case)
        return case

    def complete_advance_record(self, who: Principal, case_id: UUID, note: str) -> ReviewCase:
        case = self._acting(who, case_id)
        case.complete_advance_record(self.today(), note, who.as_actor())
        self.save(case)
        return case

    # ==========================================================================================
    # Time limits
    # ==========================================================================================

    def deadlines(self, who: Principal, township: str, as_of: date) -> dict[str, Any]:
        """Open deadlines that are overdue or due within the next N working days."""
        who.check_jurisdiction(township)
        horizon = self.calendar.add_working_days(as_of, self.due_soon_working_days).due
        t = self.views.cases
        with self.read_session() as s:
            rows = [dict(r._mapping) for r in s.execute(
                select(t).where(t.c.township == township, or_(
                    t.c.decided_on.is_(None),
                    and_(t.c.advance_due.is_not(None), t.c.advance_completed_on.is_(None))))
                .order_by(t.c.case_id))]
        overdue: list[dict[str, Any]] = []
        due_soon: list[dict[str, Any]] = []
        for r in rows:
            open_decision = r["decided_on"] is None
            checks = [
                ("investigation_start", r["investigation_due"],
                 r["assigned_on"] is None and open_decision),
                ("decision", r["decision_due"], open_decision),
                ("rejection_notice", r["rejection_due"], open_decision),
                ("tekun_confirmation", r["confirmation_due"], open_decision),
                ("advance_record", r["advance_due"],
                 r["advance_due"] is not None and r["advance_completed_on"] is None),
            ]
            for name, due, still_open in checks:
                if due is None or not still_open:
                    continue
                item = {"case_id": r["case_id"], "kind": r["kind"], "village": r["village"],
                        "status": r["status"], "deadline": name, "due": due,
                        "provisional": r["deadlines_provisional"]}
                if due < as_of:
                    late = self.calendar.count_working_days(due, as_of)
                    overdue.append({**item, "working_days_late": late.days,
                                    "provisional": item["provisional"] or late.provisional})
                elif due <= horizon:
                    left = self.calendar.count_working_days(as_of, due)
                    due_soon.append({**item, "working_days_left": left.days,
                                     "provisional": item["provisional"] or left.provisional})
        return {"township": township, "as_of": as_of, "due_soon_until": horizon,
                "overdue": sorted(overdue, key=lambda i: (i["due"], i["case_id"])),
                "due_soon": sorted(due_soon, key=lambda i: (i["due"], i["case_id"]))}

    # ==========================================================================================
    # Entitlements and dynamic management
    # ==========================================================================================

    def _entitlement(self, entitlement_id: UUID) -> Entitlement:
        ent = self.get(entitlement_id, "entitlement")
        if not isinstance(ent, Entitlement):
            raise NotFound("review.not_found", f"entitlement {entitlement_id} not found")
        return ent

    def entitlement(self, who: Principal, entitlement_id: UUID) -> Entitlement:
        ent = self._entitlement(entitlement_id)
        who.check_jurisdiction(ent.township)
        return ent

    def list_entitlements(self, who: Principal, township: str, recheck_due_by: date | None,
                          status: str | None, limit: int,
                          offset: int) -> tuple[int, list[dict[str, Any]]]:
        who.check_jurisdiction(township)
        t = self.views.entitlements
        q = select(t).where(t.c.township == township)
        if recheck_due_by is not None:
            q = q.where(and_(t.c.recheck_due <= recheck_due_by, t.c.status != "terminated"))
        if status:
            q = q.where(t.c.status == status)
        with self.read_session() as s:
            total = s.execute(select(func.count()).select_from(q.subquery())).scalar_one()
            rows = s.execute(q.order_by(t.c.recheck_due, t.c.entitlement_id).limit(limit)
                             .offset(offset))
            return total, [dict(r._mapping) for r in rows]

    def record_recheck(self, who: Principal, entitlement_id: UUID, finding: str,
                       changed: bool) -> Entitlement:
        ent = self.entitlement(who, entitlement_id)
        today = self.today()
        _, terms = self.policy_on(today)
        months = (terms.recheck_months_tekun if ent.kind == AssistanceKind.TEKUN.value
                  else ent.recheck_months)
        ent.record_recheck(today, finding, changed, add_months_to_date(today, months),
                           who.as_actor())
        self.save(ent)
        return ent

    # --- 标准调整: every live 低保 and 特困 entitlement under a new standard ---------------

    def _standard_changes(self, who: Principal, township: str, policy_version: int,
                          ) -> tuple[list[tuple[Entitlement, Decimal, Breakdown]], str]:
        who.check_jurisdiction(township)
        table = self._policy_table()
        terms = table.terms(policy_version)
        effective_from = table.versions[policy_version - 1]["effective_from"]
        month = effective_from.strftime("%Y-%m")
        t = self.views.entitlements
        with self.read_session() as s:
            ids = list(s.execute(select(t.c.entitlement_id).where(
                t.c.township == township, t.c.status == "active",
                t.c.kind.in_([AssistanceKind.DIBAO.value, AssistanceKind.TEKUN.value]))
                .order_by(t.c.entitlement_id)).scalars())
        out = []
        loaded = self.get_many([UUID(x) for x in ids])  # one query per 500, not one each
        for eid in ids:
            ent = loaded[UUID(eid)]
            if ent.policy_version >= policy_version:
                continue  # already under this standard (or a later one)
            breakdown = compute(ent.kind, ent.computation_inputs.on_day(effective_from), terms)
            if not breakdown.eligible:
                continue  # not ended by a standard: the recheck decides, with reasons
            amount = breakdown.monthly_amount
            if amount != ent.monthly_amount:
                out.append((ent, amount, breakdown))
        return out, month

    def standard_change_preview(self, who: Principal, township: str,
                                policy_version: int) -> dict[str, Any]:
        """What a new standard changes in the township, for it to confirm."""
        changes, month = self._standard_changes(who, township, policy_version)
        return {"township": township, "policy_version": policy_version,
                "effective_month": month, "items": [
                    {"entitlement_id": str(e.id), "case_id": str(e.case_id), "kind": e.kind,
                     "village": e.village, "current": str(e.monthly_amount),
                     "new": str(a), "effective_month": max(month, e.start_month)}
                    for e, a, _ in changes]}

    def confirm_standard_change(self, who: Principal, township: str,
                                policy_version: int) -> dict[str, Any]:
        """The township confirms: each change an event with reason 标准调整, in one
        transaction (all or nothing)."""
        with cycle_collection_paused():  # a township's thousands of entitlements at once
            changes, month = self._standard_changes(who, township, policy_version)
            today, actor = self.today(), who.as_actor()
            changed = [e for e, a, b in changes
                       if e.restandardise(a, b, policy_version, month, today, actor)]
            self.save(*changed)
        return {"township": township, "policy_version": policy_version,
                "effective_month": month, "changed": len(changed)}

    def adjust(self, who: Principal, entitlement_id: UUID, findings: dict[str, Any],
               assessment: dict[str, Any], reasons: list[str],
               apply_reported: bool = False) -> tuple[Entitlement, str]:
        """Recompute with the changed household and the policy in force today."""
        ent = self.entitlement(who, entitlement_id)
        today = self.today()
        version, terms = self.policy_on(today)
        before = ent.computation_inputs
        household = before.household
        if apply_reported:
            for reported in ent.pending_changes:
                household = apply_reported_change(household, reported)
        inputs = replace(before, household=apply_findings(household, Findings.of(findings)),
                         on=today)
        given = Assessment.of(assessment)
        if before.tekun is not None:  # a 特困 benefit may be reassessed
            inputs = replace(inputs, tekun=TekunAssessment(
                self_care=before.tekun.self_care if given.self_care is None
                else given.self_care,
                care_mode=before.tekun.care_mode if given.care_mode is None
                else given.care_mode))
        breakdown = compute(ent.kind, inputs, terms)
        if not breakdown.eligible:
            raise RuleViolation("review.not_eligible",
                                "no longer eligible: " + "; ".join(
                                    breakdown.ineligible_reasons) +
                                " — terminate or phase out instead", field="incomes")
        size = members_counted(breakdown, ent.household_size)
        change = ent.adjust(breakdown.monthly_amount, size, breakdown, inputs, version,
                            reasons, today, self.rhythm_for(today), who.as_actor())
        self.save(ent)
        return ent, change

    def change_status(self, who: Principal, entitlement_id: UUID, change: str,
                      reasons: list[str], months: int | None = None) -> Entitlement:
        ent = self.entitlement(who, entitlement_id)
        today = self.today()
        _, terms = self.policy_on(today)
        if change == "suspend":
            ent.suspend(reasons, today, self.rhythm_for(today), who.as_actor())
        elif change == "resume":
            ent.resume(reasons, today, self.rhythm_for(today), who.as_actor())
        elif change == "phase_out":
            if months is None:
                raise RuleViolation("review.phase_out_too_long", "say how many months",
                                    field="months")
            ent.phase_out(months, reasons, today, terms, self.rhythm_for(today), who.as_actor())
        elif change == "terminate":
            ent.terminate(reasons, today, self.rhythm_for(today), who.as_actor())
        else:  # pragma: no cover - the API restricts the values
            raise ValueError(change)
        self.save(ent)
        return ent

    def end_for_cause(self, who: Principal, entitlement_id: UUID, cause: str,
                      first_month_not_due: str, reasons: list[str],
                      fine_multiple: Decimal | None = None,
                      fine_reason: str | None = None) -> Entitlement:
        """注销 for a death or a fraud, backdated to the first month not due; the
        EntitlementChanged it emits states the cause (and fraud's fine), so disbursement
        recovers the months paid since and records the fine."""
        ent = self.entitlement(who, entitlement_id)
        today = self.today()
        ent.end_for_cause(cause, first_month_not_due, reasons, today, self.rhythm_for(today),
                          who.as_actor(), fine_multiple=fine_multiple, fine_reason=fine_reason)
        self.save(ent)
        return ent

    def change_payee(self, who: Principal, entitlement_id: UUID, holder_name: str, bank: str,
                     account_number: str, reason: str,
                     holder_not_member: str | None = None) -> Entitlement:
        """收款账户变更: the account is checked, then sealed at once; only the sealed form
        and its mask are stored and published (payee_changed), never the number."""
        ent = self.entitlement(who, entitlement_id)
        digits = check_payee_account(account_number)
        sealed = self._keyring().encrypt(digits, mask_bank_account(digits), PAYEE_PURPOSE)
        ent.change_payee(holder_name, bank, sealed.model_dump(mode="json"), reason,
                         holder_not_member, self.today(), who.as_actor())
        self.save(ent)
        return ent

    def change_reported(self, reported: ChangeReported | ChangeReportedV1,
                        actor: Actor) -> bool:
        """A change reported in intake: kept on the entitlement for the township, whose
        recheck falls due now; the adjustment applies it (apply_reported)."""
        if isinstance(reported, ChangeReported):
            reported = reported.opened(self._keyring())  # DecryptionError if tampered
        case_id = reported.case_id or case_id_for(reported.application_id)
        try:
            ent = self._entitlement(entitlement_id_for(case_id))
        except NotFound:
            return False  # no benefit yet: the open case's investigation covers it
        change = ReportedChange(
            change_id=str(reported.change_id), subject=reported.subject,
            description=reported.description, occurred_on=reported.occurred_on,
            members_left=tuple(MemberLeft.of(m.model_dump(mode="json"))
                               for m in reported.members_left),
            members_joined=tuple(_member(m) for m in reported.members_joined),
            incomes=tuple(_income(i) for i in reported.incomes),
            assets=tuple(_asset(a) for a in reported.assets),
            already_members=tuple(reported.already_members))
        if ent.record_reported_change(change, reported.reported_on, actor):
            self.save(ent)
            return True
        return False

    def report_upheld(self, upheld: ReportUpheld, actor: Actor) -> bool:
        """A public report (举报) about a household was found true in publicity: the
        entitlement it names falls due for recheck now. A report naming no benefit (a
        household left out, an undecided case) has nothing here to recheck."""
        entitlement_id = upheld.entitlement_id or (
            entitlement_id_for(upheld.case_id) if upheld.case_id else None)
        if entitlement_id is None:
            return False
        try:
            ent = self._entitlement(entitlement_id)
        except NotFound:
            return False
        if ent.township != upheld.township:
            raise RuleViolation("review.report_township",
                                f"the report names township {upheld.township}, the benefit "
                                f"is in {ent.township}", field="township")
        if ent.request_recheck(str(upheld.report_id), upheld.category, upheld.finding,
                               upheld.upheld_on, actor):
            self.save(ent)
            return True
        return False

    def application_withdrawn(self, application_id: UUID, reason: str, on: date,
                              actor: Actor) -> None:
        try:
            case = self._case(case_id_for(application_id))
        except NotFound:
            return
        if case.withdraw(reason, on, actor):
            self.save(case)

    # ==========================================================================================
    # Spot checks (county centre)
    # ==========================================================================================

    def draw_spot_check(self, who: Principal, township: str, month: str) -> SpotCheck:
        who.check_jurisdiction(township)
        first = date.fromisoformat(f"{month}-01")
        if month >= month_of(self.today()):
            raise RuleViolation("review.spot_check_month",
                                "sample a month that has ended", field="month")
        try:
            self.repository.get(spot_check_id_for(township, month))
            raise RuleViolation("review.spot_check_exists",
                                f"{township} was already sampled for {month}", field="month")
        except AggregateNotFoundError:
            pass
        version, terms = self.policy_on(first)
        t = self.views.cases
        end = date.fromisoformat(f"{add_months(month, 1)}-01")
        with self.read_session() as s:
            rows = s.execute(select(t.c.case_id, t.c.kind).where(
                t.c.township == township, t.c.status == CaseStatus.CONFIRMED.value,
                t.c.decided_on >= first, t.c.decided_on < end).order_by(t.c.case_id)).all()
        by_kind: dict[str, list[str]] = {}
        for case_id, kind in rows:
            by_kind.setdefault(kind, []).append(case_id)
        seed = secrets.token_hex(8)
        rng = random.Random(seed)  # recorded: the draw can be repeated by an auditor
        sample: list[SampledCase] = []
        for kind in sorted(by_kind):
            ids = by_kind[kind]
            k = sample_size(len(ids), terms.spot_check_percent[kind])
            sample += [SampledCase(case_id=c, kind=kind) for c in sorted(rng.sample(ids, k))]
        check = SpotCheck.draw(township=township, month=month, seed=seed,
                               population={k: len(v) for k, v in by_kind.items()},
                               percent={k: str(terms.spot_check_percent[k]) for k in by_kind},
                               sample=sample, policy_version=version, actor=who.as_actor())
        self.save(check)
        return check

    def spot_check(self, who: Principal, spot_check_id: UUID) -> SpotCheck:
        check = self.get(spot_check_id, "spot check")
        if not isinstance(check, SpotCheck):
            raise NotFound("review.not_found", f"spot check {spot_check_id} not found")
        who.check_jurisdiction(check.township)
        return check

    def record_spot_check_result(self, who: Principal, spot_check_id: UUID, case_id: str,
                                 upheld: bool, finding: str | None,
                                 corrective_action: str | None) -> SpotCheck:
        check = self.spot_check(who, spot_check_id)
        check.record_result(case_id, upheld, finding, corrective_action, who.as_actor())
        self.save(check)
        return check

    def complete_spot_check(self, who: Principal, spot_check_id: UUID) -> SpotCheck:
        check = self.spot_check(who, spot_check_id)
        check.complete(who.as_actor())
        self.save(check)
        return check
