"""Intake's domain events → published integration events (sensitive fields sealed).

Sealing purposes (a consumer with the key unseals with the same purpose):
"member.resident_id", "member.phone", "legal_supporter.resident_id",
"bank_account.account", and "intake.household" for application_accepted's names, birth
dates, health and income details (one blob, shared.contracts.intake.HouseholdDetails),
"intake.change" for what a change_reported changed (ChangeDetails).
Each seal's nonce derives from the event id, so a republished
envelope is byte-identical. Facts learned from review are not republished.
"""

from __future__ import annotations

from typing import Any

from services.intake.domain import Application, Disclosure
from services.intake.values import Asset, Member
from shared.contracts.envelope import event_id_for
from shared.contracts.intake import (
    MEMBER_ID_PURPOSE,
    ApplicationAccepted,
    ApplicationDeclined,
    ApplicationResubmitted,
    ApplicationReturned,
    ApplicationSubmitted,
    ApplicationWithdrawn,
    AssetItem,
    BankAccountRef,
    ChangeDetails,
    ChangeReported,
    CloseRelativeRef,
    Disability,
    EntrustmentRef,
    HouseholdDetails,
    IncomeItem,
    MemberLeft,
    MemberRef,
    MissingItem,
    SensitiveDataViewed,
    SupporterRef,
)
from shared.eventstore import ServiceApplication
from shared.fieldcrypt import Keyring
from shared.outbox import Outgoing
from shared.pii import mask_bank_account, mask_name, mask_phone, mask_resident_id


class IntakeContracts:
    def __init__(self, app: ServiceApplication, keyring: Keyring) -> None:
        self.app, self.keyring = app, keyring

    def __call__(self, event: Any, position: int) -> Outgoing | None:
        if isinstance(event, Disclosure.Recorded):
            return Outgoing(SensitiveDataViewed(
                disclosure_id=event.originator_id, application_id=event.application_id,
                township=event.township, village=event.village, fields=event.fields,
                reason=event.reason,
            ), case_id=str(event.application_id), township=event.township)
        if not isinstance(event, Application.Event) or isinstance(
                event, Application.CaseConfirmed | Application.CaseRejected
                | Application.CaseTerminated):
            return None
        # The application as it stood right after this event.
        a: Application = self.app.get(event.originator_id, version=event.originator_version)
        context = str(event_id_for("intake", event.originator_id, event.originator_version))
        contract = self._contract(event, a, context)
        if contract is None:
            return None  # internal: published as its audit record
        return Outgoing(contract, case_id=str(a.id), household_id=a.household_id,
                        township=a.township)

    def _contract(self, event: Any, a: Application, context: str) -> Any:
        where = {"application_id": a.id, "kind": a.kind, "township": a.township,
                 "village": a.village}
        if isinstance(event, Application.Submitted):
            return ApplicationSubmitted(
                **where, household_size=len(a.members),
                close_relative_declared=a.close_relative_declared, household_id=a.household_id,
                linshi_type=a.linshi_type, filed_by=a.filed_by, filed_on=a.filed_on)
        if isinstance(event, Application.Returned):
            return ApplicationReturned(
                **where, returned_on=event.returned_on, note=event.note,
                missing=[MissingItem(**m) for m in event.missing])
        if isinstance(event, Application.Resubmitted):
            return ApplicationResubmitted(
                **where, resubmitted_on=event.resubmitted_on, round=a.round,
                household_size=len(a.members), close_relative_declared=a.close_relative_declared)
        if isinstance(event, Application.Accepted):
            return self._accepted(event, a, context, where)
        if isinstance(event, Application.Declined):
            return ApplicationDeclined(**where, declined_on=event.declined_on,
                                       reason=event.reason)
        if isinstance(event, Application.Withdrawn):
            return ApplicationWithdrawn(**where, withdrawn_on=event.withdrawn_on,
                                        reason=event.reason, was_accepted=event.was_accepted,
                                        case_id=a.case_id)
        if isinstance(event, Application.ChangeReported):
            change = event.change
            joined = [Member.of(m) for m in change.get("members_joined", [])]
            details = ChangeDetails(
                description=change["description"],
                members_joined=[self._member(m, context) for m in joined],
                members_left=[MemberLeft(fingerprint=m["fingerprint"], reason=m["reason"])
                              for m in change.get("members_left", [])],
                incomes=[IncomeItem(member_fingerprint=i["member_fingerprint"], kind=i["kind"],
                                    amount=i["amount"], months=i["months"])
                         for i in change.get("incomes", [])]
                + _incomes(joined),
                assets=[_asset(Asset.of(x)) for x in change.get("assets", [])],
                already_members=list(getattr(event, "already_members", None) or []))
            return ChangeReported.sealing(
                details, self.keyring, context, **where, change_id=event.change_id,
                case_id=a.case_id, household_id=a.household_id, reported_on=event.reported_on,
                occurred_on=change["occurred_on"], subject=change["subject"])
        return None  # a new event type: the relay publishes its audit record

    def _accepted(self, event: Any, a: Application, context: str,
                  where: dict[str, Any]) -> ApplicationAccepted:
        f = a.as_filed
        bank, entrustment = f.bank_account, f.entrustment
        details = HouseholdDetails(
            applicant_name=a.applicant.name,
            members=[self._member(m, context) for m in f.members],
            incomes=_incomes(f.members), assets=[_asset(x) for x in f.assets],
            bank_account=BankAccountRef(
                bank=bank.bank, holder_name=bank.holder_name,
                account=self._seal(bank.account, mask_bank_account(bank.account),
                                   "bank_account.account", context)) if bank else None,
            entrustment=EntrustmentRef(**entrustment.to_stored()) if entrustment else None,
            legal_supporters=[SupporterRef(
                name=s.name, relation=s.relation, fingerprint=s.fingerprint,
                resident_id=self._seal(s.resident_id, mask_resident_id(s.resident_id),
                                       "legal_supporter.resident_id", context))
                for s in f.legal_supporters],
            close_relatives=[CloseRelativeRef(**c.to_stored()) for c in f.close_relatives])
        return ApplicationAccepted.sealing(
            details, self.keyring, mask_name(a.applicant.name), context,
            **where, accepted_on=event.accepted_on,
            close_relative_declared=a.close_relative_declared,
            household_id=a.household_id, linshi_type=a.linshi_type, urban=a.urban,
            single_person=f.single_person, filed_on=a.filed_on,
            filed_by=a.filed_by, residence_basis=f.residence_basis, materials=f.materials,
            materials_outstanding=[MissingItem(**m) for m in event.outstanding],
            policy_version=a.policy_version)

    def _member(self, m: Member, context: str) -> MemberRef:
        rid, phone = m.resident_id, m.phone
        return MemberRef(
            name=m.name, relation=m.relation, birth_date=m.birth_date,
            resident_id=self._seal(rid, mask_resident_id(rid), MEMBER_ID_PURPOSE, context),
            fingerprint=m.fingerprint,
            disability=Disability(**m.disability.to_stored()) if m.disability else None,
            serious_illness=m.serious_illness, work_capacity=m.work_capacity,
            student=m.student,
            phone=self._seal(phone, mask_phone(phone), "member.phone", context)
            if phone else None,
        )

    def _seal(self, value: str, mask: str, purpose: str, context: str) -> Any:
        return self.keyring.encrypt(value, mask, purpose, nonce_context=context)


def _incomes(members: list[Member]) -> list[IncomeItem]:
    return [IncomeItem(member_fingerprint=m.fingerprint, kind=i.kind, amount=i.amount,
                       months=i.months) for m in members for i in m.incomes]


def _asset(x: Asset) -> AssetItem:
    return AssetItem(kind=x.kind, value=x.value, exempt=x.exempt)
