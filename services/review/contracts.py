"""Review's domain events → published integration events (sensitive content sealed).

Fields a domain event does not carry are read from the aggregate as it stood at that
event's version, so republishing after a crash builds the same bytes.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from services.review import values
from services.review.domain import (
    Entitlement,
    PolicyTable,
    ReviewCase,
    SpotCheck,
    entitlement_id_for,
)
from shared.auth import Role
from shared.contracts.common import AssistanceKind
from shared.contracts.envelope import event_id_for
from shared.contracts.review import (
    CaseConfirmed,
    CaseOpened,
    CaseRejected,
    EntitlementChanged,
    EntitlementStarted,
    HomeVisitRecorded,
    InvestigationAssigned,
    Investigator,
    JointReviewHeld,
    JointReviewMember,
    OpinionIssued,
    PayeeChanged,
    PayeeRef,
    PolicyChanged,
    SpotCheckCompleted,
    SpotCheckResult,
    TemporaryPaymentApproved,
    TerminationNoticeRequested,
    VerificationReported,
)
from shared.eventstore import ServiceApplication
from shared.fieldcrypt import Keyring
from shared.outbox import Outgoing

VERIFICATION_PURPOSE = "review.verification_report"
VERIFICATION_MASK = "[economic-status verification report]"
# A home visit recorded by county staff is the county's own visit (近亲属备案 cases).
COUNTY_VISITORS = frozenset({Role.COUNTY_CENTRE.value, Role.COUNTY_BUREAU.value})


def _ending(cause: dict[str, Any] | None) -> dict[str, Any]:
    """A death's or a fraud's end, and the fraud's fine, as EntitlementChanged states them."""
    if not cause:
        return {}
    fine = cause.get("fine_multiple")
    return {"cause": cause["cause"], "fine_multiple": None if fine is None else Decimal(fine),
            "fine_reason": cause.get("fine_reason")}


def _payee(payee: dict[str, Any] | None) -> PayeeRef | None:
    if payee is None:
        return None
    return PayeeRef.model_validate(payee)


class ReviewContracts:
    def __init__(self, app: ServiceApplication, keyring: Keyring) -> None:
        self.app, self.keyring = app, keyring

    def _at(self, event: Any) -> Any:
        return self.app.get(event.originator_id, version=event.originator_version)

    def __call__(self, event: Any, position: int) -> Outgoing | None:
        if isinstance(event, ReviewCase.Event):
            return self._case(event)
        if isinstance(event, Entitlement.Event):
            return self._entitlement(event)
        if isinstance(event, SpotCheck.Completed):
            check: SpotCheck = self._at(event)
            return Outgoing(SpotCheckCompleted(
                spot_check_id=event.originator_id, township=check.township, month=check.month,
                results=[SpotCheckResult(
                    case_id=r["case_id"], upheld=r["upheld"], finding=r["finding"],
                    corrective_action=r["corrective_action"], resolved=r["upheld"])
                    for r in check.results.values()],
            ), township=check.township)
        if isinstance(event, PolicyTable.Published):
            return Outgoing(PolicyChanged(version=event.policy_version,
                                          effective_from=event.effective_from,
                                          table=event.terms))
        return None

    # --- cases ----------------------------------------------------------------------------

    def _case(self, event: Any) -> Outgoing | None:
        case_id = str(event.originator_id)
        if isinstance(event, ReviewCase.Opened):
            return Outgoing(CaseOpened(
                case_id=event.originator_id, application_id=event.application_id,
                kind=event.kind, township=event.township, village=event.village,
                accepted_on=event.accepted_on, investigation_due=event.investigation_due,
                decision_due=event.decision_due,
                deadlines_provisional=event.deadlines_provisional,
                close_relative_declared=event.close_relative_declared,
            ), case_id=case_id, household_id=event.household_id, township=event.township)
        mapped = (ReviewCase.InvestigationAssigned, ReviewCase.HomeVisitRecorded,
                  ReviewCase.JointReviewHeld,
                  ReviewCase.VerificationReported, ReviewCase.OpinionIssued,
                  ReviewCase.CountyApproved, ReviewCase.Confirmed, ReviewCase.AdvanceGranted,
                  ReviewCase.Rejected, ReviewCase.PaymentApproved)
        if not isinstance(event, mapped):
            return None
        case: ReviewCase = self._at(event)
        where = {"case_id": case_id, "household_id": case.household_id,
                 "township": case.township}
        if isinstance(event, ReviewCase.InvestigationAssigned | ReviewCase.HomeVisitRecorded
                      | ReviewCase.JointReviewHeld):
            return Outgoing(self._investigation(case, event), **where)
        if isinstance(event, ReviewCase.VerificationReported):
            context = str(event_id_for(self.app.name, event.originator_id,
                                       event.originator_version))
            plain = json.dumps(event.report, sort_keys=True, ensure_ascii=False)
            return Outgoing(VerificationReported(
                case_id=case.id, application_id=case.application_id, township=case.township,
                reported_on=event.reported_on,
                report=self.keyring.encrypt(plain, VERIFICATION_MASK, VERIFICATION_PURPOSE,
                                         nonce_context=context),
            ), **where)
        if isinstance(event, ReviewCase.OpinionIssued):
            if event.county_approval_required:
                return None  # published when the county bureau approves
            return Outgoing(self._opinion(case), **where)
        if isinstance(event, ReviewCase.CountyApproved):
            return Outgoing(self._opinion(case), **where)
        if isinstance(event, ReviewCase.Confirmed | ReviewCase.AdvanceGranted):
            assert case.decision is not None and case.decided_on is not None
            has_entitlement = case.kind in (AssistanceKind.DIBAO.value,
                                            AssistanceKind.TEKUN.value)
            return Outgoing(CaseConfirmed(
                case_id=case.id, application_id=case.application_id, kind=case.kind,
                township=case.township, village=case.village, decided_on=case.decided_on,
                monthly_amount=case.decision["amount"],
                entitlement_id=entitlement_id_for(case.id) if has_entitlement else None,
                valid_until=case.decision.get("valid_until"),
                start_month=case.decision.get("start_month"),
                advance=bool(case.decision.get("advance")),
            ), **where)
        if isinstance(event, ReviewCase.Rejected):
            return Outgoing(CaseRejected(
                case_id=case.id, application_id=case.application_id, kind=case.kind,
                township=case.township, village=case.village, decided_on=event.decided_on,
                reasons=event.reasons,
            ), **where)
        assert isinstance(event, ReviewCase.PaymentApproved)
        opinion = case.issued_opinion
        assert opinion is not None
        return Outgoing(TemporaryPaymentApproved(
            payment_id=event.payment_id, case_id=case.id, household_id=case.household_id,
            township=case.township, village=case.village,
            urban=case.household_on_record.urban, applicant_name=case.applicant_name,
            household_size=opinion.household_size, amount=event.amount,
            month=event.month, instalment=event.instalment, instalments=event.instalments,
            advance=event.advance, payee=_payee(case.payee), decided_on=case.decided_on,
        ), **where)

    def _investigation(self, case: ReviewCase, event: Any
                       ) -> InvestigationAssigned | HomeVisitRecorded | JointReviewHeld:
        """Who investigated and who decided, for supervision. Only names and roles of
        officials travel: the visit's findings and the household members stay here."""
        about = {"case_id": case.id, "application_id": case.application_id,
                 "kind": case.kind, "township": case.township, "village": case.village}
        if isinstance(event, ReviewCase.InvestigationAssigned):
            team = [values.Investigator.of(i) for i in event.investigators]
            return InvestigationAssigned(
                **about, round=case.round, assigned_on=event.assigned_on,
                investigators=[Investigator(user_id=i.user_id, name=i.name) for i in team],
                contractor=event.contractor)
        if isinstance(event, ReviewCase.HomeVisitRecorded):
            visit = values.HomeVisit.of(event.visit)
            county = (event.actor or {}).get("role") in COUNTY_VISITORS
            return HomeVisitRecorded(
                **about, round=event.round, visited_on=visit.visited_on,
                investigators=list(visit.investigators),
                visiting_body="county" if county else "township", contractor=visit.contractor,
                document_ids=[d.document_id for d in visit.documents])
        panel = [values.PanelMember.of(m) for m in event.members]
        return JointReviewHeld(
            **about, round=event.round, held_on=event.held_on, outcome=event.outcome,
            members=[JointReviewMember(
                user_id=m.user_id, name=m.name, role=m.role, present=m.present,
                recused=m.recused, recusal_reason=m.recusal_reason,
                related_to_household=m.related_to_household, opinion=m.opinion)
                for m in panel])

    def _opinion(self, case: ReviewCase) -> OpinionIssued:
        o = case.issued_opinion
        assert o is not None
        return OpinionIssued(
            case_id=case.id, application_id=case.application_id,
            household_id=case.household_id, kind=case.kind, township=case.township,
            village=case.village, round=o.round, approve=o.approve,
            monthly_amount=o.amount, reasons=list(o.reasons),
            applicant_name=case.applicant_name, household_size=o.household_size,
            publicity_required=o.publicity_required,
            close_relative_declared=case.close_relative_declared,
            policy_version=o.policy_version)

    # --- entitlements -----------------------------------------------------------------------

    def _entitlement(self, event: Any) -> Outgoing | None:
        if isinstance(event, Entitlement.Started):
            return Outgoing(EntitlementStarted(
                entitlement_id=event.originator_id, case_id=event.case_id,
                household_id=event.household_id, kind=event.kind, township=event.township,
                village=event.village, urban=event.urban, applicant_name=event.applicant_name,
                household_size=event.household_size, monthly_amount=event.monthly_amount,
                breakdown=event.breakdown, start_month=event.start_month,
                policy_version=event.policy_version, payee=_payee(event.payee),
                recheck_due=event.recheck_due, decided_on=getattr(event, "decided_on", None),
            ), case_id=str(event.case_id), household_id=event.household_id,
                township=event.township)
        notice = Entitlement.TerminationNoticeRequested | Entitlement.TerminationForCauseRequested
        if not isinstance(event, Entitlement.Changed | Entitlement.EndedForCause | notice
                          | Entitlement.PayeeChanged):
            return None
        ent: Entitlement = self._at(event)
        where = {"case_id": str(ent.case_id), "household_id": ent.household_id,
                 "township": ent.township}
        if isinstance(event, Entitlement.PayeeChanged):
            return Outgoing(PayeeChanged(
                entitlement_id=ent.id, case_id=ent.case_id, household_id=ent.household_id,
                kind=ent.kind, township=ent.township, village=ent.village,
                payee=PayeeRef.model_validate(event.payee), reason=event.reason,
                changed_on=event.changed_on,
            ), **where)
        if isinstance(event, notice):
            return Outgoing(TerminationNoticeRequested(
                entitlement_id=ent.id, case_id=ent.case_id, kind=ent.kind,
                township=ent.township, village=ent.village,
                applicant_name=ent.applicant_name, household_size=ent.household_size,
                reasons=event.reasons, decided_on=event.requested_on,
            ), **where)
        return Outgoing(EntitlementChanged(
            entitlement_id=ent.id, case_id=ent.case_id, kind=ent.kind, township=ent.township,
            village=ent.village, change=event.change, monthly_amount=event.amount,
            household_size=event.household_size, effective_month=event.effective_month,
            reasons=event.reasons, until_month=event.until_month,
            policy_version=(event.policy_version
                            if event.change in ("increase", "decrease") else None),
            decided_on=event.decided_on, **_ending(getattr(event, "cause", None)),
        ), **where)
