"""Disbursement's domain (资金发放): the ledger of entitlements, the monthly payment roster,
the township's sealed statistics and the county's fund plan.

Pure: no I/O and no framework. Signatures, fingerprints and the date arrive as values from
the application layer. Money is Decimal (yuan, two places); rules raise RuleViolation with
stable codes `disbursement.<rule>`.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, NamedTuple
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.disbursement.values import (
    Acknowledgement,
    BankReturn,
    Cause,
    Discrepancy,
    ExportRecord,
    FigureLine,
    Figures,
    Filing,
    Hold,
    HoldReason,
    LedgerDetails,
    PlanFigures,
    PlanTownship,
    ReturnedAccount,
    RhythmEntry,
    RosterChange,
    RosterCorrection,
    RosterState,
    SealedAccount,
    SpotResult,
    StatisticsRoster,
    StepSource,
    StoredActor,
    StoredDocument,
    StoredPayee,
    StoredStep,
)
from shared.clock import (
    MonthlyRhythm,
    RhythmSchedule,
    RhythmVersion,
    add_months,
    month_parts,
)
from shared.contracts import Actor
from shared.contracts.common import AssistanceKind
from shared.errors import RuleViolation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


class PaidKind(StrEnum):
    """The kinds paid in cash, each with its roster (低保边缘 is a recognition only)."""

    DIBAO = AssistanceKind.DIBAO.value
    TEKUN = AssistanceKind.TEKUN.value
    LINSHI = AssistanceKind.LINSHI.value


PAID_KINDS = tuple(AssistanceKind(k) for k in PaidKind)
MONTHLY_KINDS = (AssistanceKind.DIBAO, AssistanceKind.TEKUN)


# --- months and the cut-off (the rule itself is shared.clock's, from review's policy) -----


def parse_month(month: str, field_name: str = "month") -> tuple[int, int]:
    try:
        return month_parts(month)
    except ValueError:
        raise RuleViolation("disbursement.month_format", f"{month!r} is not a month YYYY-MM",
                            field=field_name) from None


def open_roster_month(month: str, locked: set[str]) -> str:
    """A one-off payment is paid on exactly one roster: if its month's roster is already
    locked (the approval arrived late, or 先行救助 was granted after the cut), the next
    roster still open pays it, rather than none."""
    while month in locked:
        month = add_months(month, 1)
    return month


def money(value: Any, field_name: str = "amount") -> Decimal:
    """A yuan amount with at most two places (分); never rounded silently."""
    try:
        d = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise RuleViolation("disbursement.amount_format", f"{value!r} is not an amount",
                            field=field_name) from None
    if not d.is_finite() or d != d.quantize(CENT, rounding=ROUND_HALF_UP):
        raise RuleViolation("disbursement.amount_format",
                            f"{value!r} is not an amount in yuan with at most 2 decimals",
                            field=field_name)
    if d < 0:
        raise RuleViolation("disbursement.amount_negative", "an amount cannot be negative",
                            field=field_name)
    return d.quantize(CENT)


def to_fen(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def from_fen(fen: int) -> Decimal:
    return Decimal(fen).scaleb(-2)  # exact, two places


def check_paid_kind(kind: str) -> AssistanceKind:
    try:
        k = AssistanceKind(kind)
    except ValueError:
        raise RuleViolation("disbursement.kind", f"unknown kind {kind!r}", field="kind") from None
    if k not in PAID_KINDS:
        # 低保边缘 is a recognition, not a payment: it never has a roster.
        raise RuleViolation("disbursement.kind_not_paid", f"{k.value} is not paid in cash",
                            field="kind")
    return k


# --- ids: one aggregate per natural key, so a second "create" is a version conflict -----------


def _id(*parts: str) -> UUID:
    return uuid5(NAMESPACE_URL, "lingshui:disbursement:" + ":".join(parts))


def ledger_id(key: UUID | str) -> UUID:
    return _id("ledger", str(key))


def roster_id(township: str, month: str, kind: str) -> UUID:
    return _id("roster", township, month, kind)


def statistics_id(township: str, month: str) -> UUID:
    return _id("statistics", township, month)


def fund_plan_id(region: str, month: str) -> UUID:
    return _id("fund-plan", region, month)


def spot_check_id(upstream_id: UUID) -> UUID:
    return _id("spot-check", str(upstream_id))


# --- the ledger (待遇台账) -------------------------------------------------------------------


class Step(NamedTuple):  # a tuple, not a dataclass: built once per ledger row per draft
    """One decision on an entitlement, in the order review made it.

    `month` is the first roster month the decision can reach (cut-off applied); the amount
    holds from that month on until a later decision says otherwise: the latest decision
    wins for every month it covers.
    """

    seq: int
    month: str
    amount: Decimal
    household_size: int
    change: str  # start, increase, decrease, suspend, resume, phase_out, terminate, payment
    source: StepSource  # upstream event: id, type, position, occurred_at, by
    reasons: tuple[str, ...] = ()

    def to_wire(self) -> StoredStep:
        return {"seq": self.seq, "month": self.month, "amount": str(self.amount),
                "household_size": self.household_size, "change": self.change,
                "source": self.source, "reasons": list(self.reasons)}

    @classmethod
    def from_wire(cls, d: StoredStep) -> Step:
        return cls(d["seq"], d["month"], Decimal(d["amount"]), d["household_size"],
                   d["change"], d["source"], tuple(d.get("reasons", ())))


def in_force(steps: Sequence[Step], month: str) -> Step | None:
    """The decision that sets the amount for `month` (None before the first one)."""
    chosen: Step | None = None
    for s in steps:  # in decision order: a later decision overrides an earlier one
        if s.month <= month:
            chosen = s
    return chosen


def paid_span(steps: Sequence[Step]) -> tuple[str | None, str | None]:
    """First and last month with a positive amount (last None: still paying). Lets the
    drafting query skip entitlements that ended long ago."""
    months = sorted({s.month for s in steps})
    paying = [m for m in months if (s := in_force(steps, m)) and s.amount > 0]
    if not paying:
        return None, None
    tail = in_force(steps, months[-1])
    if tail is not None and tail.amount > 0:
        return paying[0], None
    stop = next(m for m in months if m > paying[-1])
    return paying[0], add_months(stop, -1)


class Payee(NamedTuple):
    """Who the bank pays: the name on the account and the account, sealed (never plaintext
    here); `account_fp` is the keyed fingerprint used to match the bank's return file."""

    name: str
    bank: str
    account_sealed: SealedAccount | None
    account_fp: str | None
    account_mask: str
    # shared.bankcards.account_problem of the account, or "ok"; None: recorded before the
    # check existed (drafting then checks it).
    account_check: str | None = None
    # 身份证号(脱敏), as review masked it; None: review sent none (before its v2 contract,
    # or an account holder who is not a household member).
    resident_id_mask: str | None = None

    def to_wire(self) -> StoredPayee:
        return {"name": self.name, "bank": self.bank, "account_sealed": self.account_sealed,
                "account_fp": self.account_fp, "account_mask": self.account_mask,
                "account_check": self.account_check, "resident_id_mask": self.resident_id_mask}


class LedgerEntry(Aggregate):
    """台账: one entitlement (or one 临时救助 payment) as review decided it, month by month.

    Built only from review's integration events; each step keeps the event that caused it,
    so a roster row can always say where its amount came from.
    """

    # Never in an audit record: the payee (name and sealed account).
    AUDIT_WITHHELD = frozenset({"payee"})

    @staticmethod
    def create_id(key: UUID, **_: Any) -> UUID:
        return ledger_id(key)

    @event("Recorded")
    def __init__(self, key: UUID, entry_type: str, kind: str, case_id: UUID,
                 household_id: str | None, township: str, village: str, urban: bool,
                 applicant_name: str, policy_version: int | None,
                 payee: StoredPayee | None, step: StoredStep,
                 details: LedgerDetails, actor: StoredActor) -> None:
        self.key = key
        self.entry_type = entry_type  # "entitlement", "temporary_payment" or "arrears"
        self.kind = kind
        self.case_id = case_id
        self.household_id = household_id
        self.township = township
        self.village = village
        self.urban = urban
        self.applicant_name = applicant_name
        self.policy_version = policy_version
        self.payee = payee
        self.details = details  # instalment, advance (先行救助), breakdown…
        self.steps: list[Step] = [Step.from_wire(step)]

    def change(self, *, month: str, amount: Decimal, household_size: int, change: str,
               source: StepSource, reasons: Sequence[str], actor: Actor) -> None:
        if self.entry_type != "entitlement":
            raise RuleViolation("disbursement.not_an_entitlement",
                                "a temporary payment has no later changes")
        step = Step(len(self.steps) + 1, month, amount, household_size, change, source,
                    tuple(reasons))
        self._changed(step=step.to_wire(), actor=actor.stored())

    @event("Changed")
    def _changed(self, step: StoredStep, actor: StoredActor) -> None:
        self.steps.append(Step.from_wire(step))

    def change_payee(self, payee: StoredPayee, source: StepSource, reason: str,
                     actor: Actor) -> bool:
        """Review changed the household's account: what this entry pays from the next
        roster drafted on goes there (a locked roster keeps the rows it locked). False:
        already this account."""
        if self.entry_type not in ("entitlement", "arrears"):
            raise RuleViolation("disbursement.not_an_entitlement",
                                "only an entitlement and its 补发 change payee")
        if self.payee is not None and self.payee.get("account_fp") == payee.get("account_fp") \
                and self.payee.get("name") == payee.get("name"):
            return False
        self._payee_changed(payee=payee, source=source, reason=reason, actor=actor.stored())
        return True

    @event("PayeeChanged")
    def _payee_changed(self, payee: StoredPayee, source: StepSource, reason: str,
                       actor: StoredActor) -> None:
        self.payee = payee

    # --- 追回: a recovery entry's money (owed back, then recovered or written off) ---------

    @property
    def recovery_outstanding(self) -> Decimal:
        owed = self.steps[0].amount
        done = getattr(self, "recovered", ZERO) + getattr(self, "written_off", ZERO)
        return owed - done

    def _require_recovery(self) -> None:
        if self.entry_type != "recovery":
            raise RuleViolation("disbursement.not_a_recovery", "this entry is not a recovery")
        if self.recovery_outstanding <= 0:
            raise RuleViolation("disbursement.recovery_settled",
                                "nothing is outstanding on this recovery")

    def recover(self, amount: Decimal, reason: str, on: date, actor: Actor) -> None:
        self._require_recovery()
        check_reason(reason)
        if amount <= 0 or amount > self.recovery_outstanding:
            raise RuleViolation("disbursement.recovery_amount",
                                f"recover more than 0 and at most "
                                f"{self.recovery_outstanding}", field="amount")
        self._recovered(amount=amount, reason=reason, recovered_on=on, actor=actor.stored())

    @event("Recovered")
    def _recovered(self, amount: Decimal, reason: str, recovered_on: date,
                   actor: StoredActor) -> None:
        self.recovered = getattr(self, "recovered", ZERO) + amount

    def write_off(self, reason: str, on: date, actor: Actor) -> None:
        """核销: the rest is not recovered, by a person's decision with its reason."""
        self._require_recovery()
        check_reason(reason)
        self._written_off(amount=self.recovery_outstanding, reason=reason, written_off_on=on,
                          actor=actor.stored())

    @event("WrittenOff")
    def _written_off(self, amount: Decimal, reason: str, written_off_on: date,
                     actor: StoredActor) -> None:
        self.written_off = getattr(self, "written_off", ZERO) + amount


# --- the roster (发放花名册) -----------------------------------------------------------------


class RosterRow(NamedTuple):
    """One payment of the month and where its amount came from. A tuple: a province's
    month holds a million of them, built each time a roster is loaded."""

    key: str  # entitlement id, or 临时救助 payment id
    case_id: str
    household_id: str | None
    village: str
    urban: bool
    name: str  # the payee (account holder)
    household_size: int
    amount: Decimal
    policy_version: int | None
    source: str  # event id of the decision in force
    account_fp: str | None
    account_mask: str
    resident_id_mask: str | None = None  # the payee's 身份证号(脱敏), when review sent it

    def to_wire(self) -> list[Any]:
        # Without a masked ID the row keeps its 12 columns: rows drafted before it existed
        # keep their bytes, and so the digest their lock and exports recorded.
        return [self.key, self.case_id, self.household_id, self.village, self.urban,
                self.name, self.household_size, str(self.amount), self.policy_version,
                self.source, self.account_fp, self.account_mask,
                *([] if self.resident_id_mask is None else [self.resident_id_mask])]

    @classmethod
    def from_wire(cls, w: Sequence[Any]) -> RosterRow:
        return tuple.__new__(cls, (w[0], w[1], w[2], w[3], bool(w[4]), w[5], int(w[6]),
                                   Decimal(w[7]), w[8], w[9], w[10], w[11],
                                   w[12] if len(w) > 12 else None))


class LedgerView(NamedTuple):
    """What drafting needs of one ledger entry (read from the ledger's read model)."""

    key: str
    case_id: str
    household_id: str | None
    village: str
    urban: bool
    applicant_name: str
    policy_version: int | None
    payee: Payee | None
    steps: tuple[Step, ...]
    one_off: bool = False  # paid only in its steps' own months (a 补发), never "in force"


# Ledger entries of one month only: 临时救助 payments, 补发 (arrears) and 追回 (recovery).
ONE_OFF_ENTRIES = ("temporary_payment", "arrears", "recovery")


def adjustment_key(entitlement_id: UUID | str, cause_event_id: str, month: str) -> UUID:
    """The arrears or recovery of one locked month caused by one decision: once."""
    return uuid5(NAMESPACE_URL, f"lingshui:adjustment:{entitlement_id}:{cause_event_id}:{month}")


DEATH_ADJUST_MONTHS = 3  # DOMAIN.md: after a death, adjust within 3 months
FINE_MULTIPLES = (Decimal(1), Decimal(3))  # S1 Art. 68: a fine of 1 to 3 times


def locked_month_adjustments(new_amount: Decimal, paid: dict[str, Decimal],
                             ) -> list[tuple[str, Decimal]]:
    """A decision effective in months whose rosters are already drafted: per month, the
    new amount less what that roster paid. Positive: owed (补发); negative: overpaid (追回)."""
    return [(m, new_amount - amount) for m, amount in sorted(paid.items())
            if new_amount != amount]


def fine_of(overpaid: Decimal, multiple: Decimal | None) -> Decimal | None:
    if multiple is None:
        return None
    if not FINE_MULTIPLES[0] <= multiple <= FINE_MULTIPLES[1]:
        raise RuleViolation("disbursement.fine_multiple",
                            f"a fine is 1 to 3 times the amount obtained, not {multiple}",
                            field="fine_multiple")
    return (overpaid * multiple).quantize(CENT, rounding=ROUND_HALF_UP)


def arrears_key(roster_id: UUID, row_key: str) -> UUID:
    """The 补发 of one roster row: once per row and roster, however often it is asked."""
    return uuid5(NAMESPACE_URL, f"lingshui:arrears:{roster_id}:{row_key}")


class Change(StrEnum):
    NEW = "new"
    CHANGED = "changed"
    ENDED = "ended"
    PAYMENT = "payment"  # a 临时救助 payment of the month
    ARREARS = "arrears"  # 补发: a failed payment of an earlier roster, carried forward
    RECOVERY = "recovery"  # 追回: paid for a month it was not due (listed, never a row)


def _cause(step: Step) -> Cause:
    return {**step.source, "change": step.change, "effective_month": step.month,
            "amount": str(step.amount), "reasons": list(step.reasons)}


def draft_rows(kind: AssistanceKind, month: str, entries: Iterable[LedgerView],
               ) -> tuple[list[RosterRow], list[RosterChange]]:
    """The roster rows of `month` and every difference from the month before, each with the
    decisions that caused it. For 临时救助 the entries are the payments due this month."""
    previous_month = add_months(month, -1)
    rows: list[RosterRow] = []
    changes: list[RosterChange] = []
    for e in entries:
        one_off = kind is AssistanceKind.LINSHI or e.one_off
        if one_off:  # only the payments due this month
            now = next((s for s in e.steps if s.month == month), None)
        else:
            now = in_force(e.steps, month)
        if e.one_off and now is not None and now.change == Change.RECOVERY.value:
            # Owed back, not paid: listed with the roster's changes, never a bank row.
            changes.append({"key": e.key, "case_id": e.case_id, "urban": e.urban,
                            "change": Change.RECOVERY.value, "previous": "0.00",
                            "amount": str(-now.amount), "causes": [_cause(now)]})
            continue
        amount = now.amount.quantize(CENT) if now else ZERO
        if one_off:
            before = ZERO
        else:
            prev = in_force(e.steps, previous_month)
            before = prev.amount.quantize(CENT) if prev else ZERO
        if now is not None and amount > 0:
            payee = e.payee
            rows.append(RosterRow(  # key, case, household, village, urban, name, size, amount…
                e.key, e.case_id, e.household_id, e.village, e.urban,
                payee.name if payee else e.applicant_name, now.household_size, amount,
                e.policy_version, str(now.source.get("event_id", "")),
                payee.account_fp if payee else None, payee.account_mask if payee else "",
                payee.resident_id_mask if payee else None))
        if amount == before:
            continue
        if e.one_off and now is not None and now.change == Change.ARREARS.value:
            change = Change.ARREARS
        elif kind is AssistanceKind.LINSHI:
            change = Change.PAYMENT
        elif before == 0:
            change = Change.NEW
        elif amount == 0:
            change = Change.ENDED
        else:
            change = Change.CHANGED
        causes = [_cause(s) for s in e.steps if s.month == month] or (
            [_cause(now)] if now else [])
        changes.append({"key": e.key, "case_id": e.case_id, "urban": e.urban,
                        "change": change.value,
                        "previous": str(before), "amount": str(amount), "causes": causes})
    rows.sort(key=lambda r: (r.village, r.key))
    changes.sort(key=lambda c: (c["change"], c["key"]))
    return rows, changes


# --- the payability check before the lock (held rows) ----------------------------------------

HOLD_REASONS = {
    "no_account": "无收款账户",
    "account_format": "账号格式不符（6-32位数字）",
    "card_luhn": "银联卡号校验位错误（Luhn）",
    "holder_name_differs": "账户户名与领取人不一致",
    "account_returned": "上月回盘退回的账户",
}


class HoldResolution(StrEnum):
    RELEASED = "released"  # checked by a person (e.g. a guardian's account): paid as drafted
    EXCLUDED = "excluded"  # not paid on this roster: owed on the next one (补发), held again
    # there if nothing has changed


def payability_holds(rows: Iterable[RosterRow], entries: dict[str, LedgerView],
                     returned: dict[str, ReturnedAccount]) -> list[Hold]:
    """The rows the bank would refuse: an account missing or malformed (a UnionPay card
    number fails its Luhn check), a holder who is not the payee, an account the bank
    returned last month as closed, blocked or wrong. `returned`: account fingerprint ->
    that return (month, kind, ISO code and text)."""
    holds = []
    for r in rows:
        e = entries.get(r.key)
        payee = e.payee if e else None
        reasons: list[HoldReason] = []
        if payee is None or not r.account_fp:
            reasons.append({"code": "no_account"})
        elif payee.account_check not in (None, "ok"):
            reasons.append({"code": payee.account_check})
        if payee is not None and e is not None and not _same_name(payee.name,
                                                                  e.applicant_name):
            reasons.append({"code": "holder_name_differs"})
        if r.account_fp and (back := returned.get(r.account_fp)):
            reasons.append({"code": "account_returned", **back})
        if reasons:
            holds.append({"key": r.key, "case_id": r.case_id, "village": r.village,
                          "name": r.name, "amount": str(r.amount),
                          "account_mask": r.account_mask,
                          "reasons": [{**x, "text": HOLD_REASONS[x["code"]]} for x in reasons],
                          "resolution": None})
    return holds


_CANONICAL = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def rows_digest(rows: Iterable[RosterRow]) -> str:
    """sha256 of the rows in canonical form (one JSON line per row, by key): what exactly
    was locked, paid, sealed."""
    lines = [_CANONICAL(r.to_wire()) for r in sorted(rows, key=lambda r: r.key)]
    lines.append("")
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


class RosterStatus(StrEnum):
    DRAFTED = "drafted"
    LOCKED = "locked"
    RECONCILED = "reconciled"


class DiscrepancyKind(StrEnum):
    MISSING = "missing"  # on the roster, not in the bank's file
    EXTRA = "extra"  # in the bank's file, not on the roster
    AMOUNT_DIFFERS = "amount_differs"
    NAME_DIFFERS = "name_differs"
    FAILED = "failed"  # the bank reports the payment failed


class Resolution(StrEnum):
    PAID_MANUALLY = "paid_manually"  # paid by other means, proof on file
    CARRIED_FORWARD = "carried_forward"  # to be paid with next month's roster
    ROSTER_CORRECTED = "roster_corrected"  # the roster was wrong and has been corrected
    BANK_CORRECTED = "bank_corrected"  # the bank fixed or refunded it
    NAME_VERIFIED = "name_verified"  # same person, name written differently
    RECOVERY_ORDERED = "recovery_ordered"  # money paid that was not due is being recovered


class BankLine(NamedTuple):
    """One line of the bank's (or payment agent's) return file; account only fingerprinted."""

    line: int
    account_fp: str
    account_mask: str
    name: str
    amount: Decimal
    status: str  # paid | failed
    reference: str
    bank_code: str = ""  # the bank's own reason for a failed line, as written in its file
    reason_code: str | None = None  # that reason as an ISO 20022 code (mapped on import)


# --- bank return reason codes (ISO 20022 pain.002 style), versioned data -------------------


class ReturnCode(NamedTuple):
    code: str  # AC01, AC04, AC06, BE01, AM04…
    text: str
    name: str
    account: str | None  # closed | blocked | invalid: held by next month's payability check
    resolutions: tuple[str, ...]  # what a clerk may record for a payment failed so


@dataclass(frozen=True)
class ReturnCodebook:
    """One version of the mapping from banks' own return codes to ISO codes, and of the
    resolutions each ISO code allows."""

    version: int
    effective_from: date
    default_scheme: str
    unspecified: str
    codes: dict[str, ReturnCode]
    schemes: dict[str, dict[str, str]]

    def code_of(self, scheme: str | None, bank_code: str) -> ReturnCode | None:
        """The ISO code of a bank's reason (None: the scheme does not know it)."""
        scheme = scheme or self.default_scheme
        if scheme not in self.schemes:
            raise RuleViolation("disbursement.bank_scheme_unknown",
                                f"no bank code scheme {scheme!r} (known: "
                                + ", ".join(sorted(self.schemes)) + ")", field="scheme")
        text = bank_code.strip()
        if not text:
            return self.codes[self.unspecified]
        # A bank's own code first; an ISO code is understood in any scheme.
        return self.codes.get(self.schemes[scheme].get(text) or text.upper())


@dataclass(frozen=True)
class ReturnCodebooks:
    versions: tuple[ReturnCodebook, ...]  # by effective_from

    def in_force(self, on: date) -> ReturnCodebook:
        chosen = self.versions[0]
        for v in self.versions:
            if v.effective_from <= on:
                chosen = v
        return chosen


def _same_name(a: str, b: str) -> bool:
    return "".join(a.split()) == "".join(b.split())


def reconcile(rows: Sequence[RosterRow], lines: Sequence[BankLine],
              codes: ReturnCodebook | None = None) -> list[Discrepancy]:
    """Every discrepancy between the locked roster and what the bank paid.

    Rows are matched by account; where an account appears more than once (instalments), an
    equal amount is paired first. An account-less row can never have been paid: missing.
    """
    by_account: dict[str, list[RosterRow]] = defaultdict(list)
    found: list[Discrepancy] = []
    for r in rows:
        if r.account_fp:
            by_account[r.account_fp].append(r)

    def add(kind: DiscrepancyKind, row: RosterRow | None, line: BankLine | None) -> None:
        found.append({
            "id": f"d{len(found) + 1}", "kind": kind.value,
            "key": row.key if row else None, "case_id": row.case_id if row else None,
            "line": line.line if line else None,
            "account_mask": (row.account_mask if row else "") or (line.account_mask
                                                                  if line else ""),
            "roster_name": row.name if row else None, "bank_name": line.name if line else None,
            "roster_amount": str(row.amount) if row else None,
            "bank_amount": str(line.amount) if line else None,
            "reference": line.reference if line else None})

    unmatched: list[BankLine] = []
    matched: list[tuple[RosterRow, BankLine]] = []
    for line in lines:
        candidates = by_account.get(line.account_fp)
        if not candidates:
            unmatched.append(line)
            continue
        i = next((i for i, r in enumerate(candidates) if r.amount == line.amount), 0)
        matched.append((candidates.pop(i), line))
    for row, line in matched:
        if line.status == "failed":
            add(DiscrepancyKind.FAILED, row, line)
            code = codes.codes.get(line.reason_code or "") if codes else None
            if codes is not None and code is not None:
                found[-1].update({
                    "bank_code": line.bank_code or None, "reason_code": code.code,
                    "reason_text": code.text, "account_status": code.account,
                    "codes_version": codes.version, "resolutions": list(code.resolutions)})
            continue
        if row.amount != line.amount:
            add(DiscrepancyKind.AMOUNT_DIFFERS, row, line)
        if not _same_name(row.name, line.name):
            add(DiscrepancyKind.NAME_DIFFERS, row, line)
    for line in unmatched:
        add(DiscrepancyKind.EXTRA, None, line)
    paid_keys = {row.key for row, _ in matched}
    for r in rows:
        if r.key not in paid_keys:
            add(DiscrepancyKind.MISSING, r, None)
    return found


class MonthlyRoster(Aggregate):
    """发放花名册: the payments of one township, month and kind.

    Drafted at the cut-off from the ledger; locked by the township clerk; after locking it
    changes only by a correction event with its reason; reconciled against the bank's
    return file (system data = money paid).
    """

    @staticmethod
    def create_id(township: str, month: str, kind: str, **_: Any) -> UUID:
        return roster_id(township, month, kind)

    @event("Drafted")
    def __init__(self, township: str, month: str, kind: str, cutoff: date,
                 rows: list[list[Any]], changes: list[RosterChange],
                 actor: StoredActor, holds: list[Hold] | None = None) -> None:
        self.township, self.month, self.kind = township, month, kind
        self.cutoff = cutoff
        self._take_draft(rows, changes)
        self.holds: dict[str, Hold] = {h["key"]: h for h in holds or ()}
        self.status = RosterStatus.DRAFTED
        self.digest: str | None = None
        self.corrections: list[RosterCorrection] = []
        self.exports: dict[str, ExportRecord] = {}
        self.bank_return: BankReturn | None = None
        self.discrepancies: dict[str, Discrepancy] = {}

    def _take_draft(self, rows: list[list[Any]], changes: list[RosterChange]) -> None:
        from_wire = RosterRow.from_wire
        self.rows: dict[str, RosterRow] = {w[0]: from_wire(w) for w in rows}
        self.changes = changes  # replaced by a redraft, never changed in place

    def __deepcopy__(self, memo: dict[int, Any]) -> MonthlyRoster:
        # The repository's cache hands each command a deep copy. Rows are immutable tuples
        # and `changes` is only ever replaced: share them, copy the rest, so that a copy of
        # a 100,000-row roster costs a dict copy rather than 100,000 row copies.
        clone = object.__new__(type(self))
        memo[id(self)] = clone
        for name, value in self.__dict__.items():
            if name == "rows":
                value = dict(value)
            elif name != "changes":
                value = copy.deepcopy(value, memo)
            clone.__dict__[name] = value
        return clone

    @property
    def total(self) -> Decimal:
        return sum((r.amount for r in self.rows.values()), ZERO)

    def redraft(self, cutoff: date, rows: list[RosterRow], changes: list[RosterChange],
                actor: Actor, holds: list[Hold] | None = None) -> None:
        if self.status is not RosterStatus.DRAFTED:
            raise RuleViolation("disbursement.roster_locked",
                                "a locked roster changes only by correction")
        # An exclusion stands (the row is owed on the next roster already); a release
        # stands while the reasons are the same.
        excluded = {k: h for k, h in self.holds.items()
                    if h["resolution"] == HoldResolution.EXCLUDED.value}
        rows = [r for r in rows if r.key not in excluded]
        kept = list(excluded.values())
        for h in holds or ():
            if h["key"] in excluded:
                continue
            before = self.holds.get(h["key"])
            if (before and before["resolution"] == HoldResolution.RELEASED.value
                    and before["reasons"] == h["reasons"]):
                h = before
            kept.append(h)
        self._redrafted(cutoff=cutoff, rows=[r.to_wire() for r in rows], changes=changes,
                        actor=actor.stored(), holds=kept)

    @event("Redrafted")
    def _redrafted(self, cutoff: date, rows: list[list[Any]], changes: list[RosterChange],
                   actor: StoredActor, holds: list[Hold] | None = None) -> None:
        self.cutoff = cutoff
        self._take_draft(rows, changes)
        self.holds = {h["key"]: h for h in holds or ()}

    @property
    def open_holds(self) -> list[Hold]:
        return [h for h in self.holds.values() if h["resolution"] is None]

    def resolve_holds(self, keys: Sequence[str], resolution: HoldResolution, reason: str,
                      actor: Actor) -> list[RosterRow]:
        """A clerk's decision on held rows, with its reason; returns the rows excluded
        (owed on the next roster)."""
        if self.status is not RosterStatus.DRAFTED:
            raise RuleViolation("disbursement.roster_locked",
                                "holds are resolved before the lock", field="keys")
        if not keys or len(set(keys)) != len(keys):
            raise RuleViolation("disbursement.hold_keys", "name each held row once",
                                field="keys")
        for k in keys:
            h = self.holds.get(k)
            if h is None:
                raise RuleViolation("disbursement.hold_unknown", f"row {k} is not held",
                                    field="keys")
            if h["resolution"] is not None:
                raise RuleViolation("disbursement.hold_resolved", f"{k} is already resolved",
                                    field="keys")
        check_reason(reason)
        excluded = [self.rows[k] for k in keys] if resolution is HoldResolution.EXCLUDED else []
        self._holds_resolved(township=self.township, month=self.month, kind=self.kind,
                             keys=list(keys), resolution=resolution.value, reason=reason,
                             actor=actor.stored())
        return excluded

    @event("HoldsResolved")
    def _holds_resolved(self, township: str, month: str, kind: str, keys: list[str],
                        resolution: str, reason: str, actor: StoredActor) -> None:
        for k in keys:
            self.holds[k] = {**self.holds[k], "resolution": resolution, "reason": reason,
                             "resolved_by": actor.get("user_id")}
            if resolution == HoldResolution.EXCLUDED.value:
                self.rows.pop(k, None)

    def lock(self, locked_on: date, actor: Actor) -> None:
        if self.status is not RosterStatus.DRAFTED:
            raise RuleViolation("disbursement.roster_locked", "the roster is already locked")
        if held := self.open_holds:
            raise RuleViolation(
                "disbursement.holds_open",
                f"{len(held)} rows are held by the payability check (first: {held[0]['key']}"
                f", {held[0]['reasons'][0]['code']}): release or exclude each, with its "
                "reason, before the lock", field="holds")
        self._locked(township=self.township, month=self.month, kind=self.kind,
                     rows_count=len(self.rows), total=self.total,
                     digest=rows_digest(self.rows.values()), actor=actor.stored(),
                     locked_on=locked_on)

    @event("Locked")
    def _locked(self, township: str, month: str, kind: str, rows_count: int, total: Decimal,
                digest: str, actor: StoredActor, locked_on: date | None = None) -> None:
        self.status = RosterStatus.LOCKED
        self.digest = digest

    def correct(self, key: str, amount: Decimal, reason: str, actor: Actor) -> None:
        """更正: change one row's amount after locking (0 removes the payment)."""
        if self.status is RosterStatus.DRAFTED:
            raise RuleViolation("disbursement.roster_not_locked",
                                "correct a draft by drafting it again", field="key")
        if self.status is RosterStatus.RECONCILED:
            raise RuleViolation("disbursement.roster_reconciled",
                                "a reconciled roster cannot change", field="key")
        row = self.rows.get(key)
        if row is None:
            raise RuleViolation("disbursement.row_unknown", f"no row {key} on this roster",
                                field="key")
        if row.amount == amount:
            raise RuleViolation("disbursement.correction_no_change",
                                "the amount is already that", field="amount")
        check_reason(reason)
        after = row._replace(amount=amount)
        rows = [after if r.key == key else r for r in self.rows.values() if
                r.key != key or amount > 0]
        self._corrected(township=self.township, month=self.month, kind=self.kind, key=key,
                        case_id=row.case_id, previous=row.amount, amount=amount, reason=reason,
                        digest=rows_digest(rows), actor=actor.stored())

    @event("Corrected")
    def _corrected(self, township: str, month: str, kind: str, key: str, case_id: str,
                   previous: Decimal, amount: Decimal, reason: str, digest: str,
                   actor: StoredActor) -> None:
        if amount > 0:
            self.rows[key] = self.rows[key]._replace(amount=amount)
        else:
            del self.rows[key]
        self.digest = digest
        self.corrections.append({"key": key, "case_id": case_id, "previous": str(previous),
                                 "amount": str(amount), "reason": reason, "actor": actor})

    def _require_locked(self, what: str) -> None:
        if self.status is RosterStatus.DRAFTED:
            raise RuleViolation("disbursement.roster_not_locked",
                                f"lock the roster before {what}")

    def check_exportable(self) -> None:
        self._require_locked("exporting it")

    def record_export(self, export_id: str, file_format: str, sha256: str,
                      generated_at: datetime, actor: Actor,
                      layout: str = "v1") -> None:
        """The audited disclosure of bank accounts: who exported what, with its hash."""
        self._require_locked("exporting it")
        self._exported(township=self.township, month=self.month, kind=self.kind,
                       export_id=export_id, file_format=file_format, sha256=sha256,
                       generated_at=generated_at, rows_count=len(self.rows),
                       total=self.total, digest=self.digest, roster_version=self.version,
                       actor=actor.stored(), layout=layout)

    @event("Exported")
    def _exported(self, township: str, month: str, kind: str, export_id: str,
                  file_format: str, sha256: str, generated_at: datetime, rows_count: int,
                  total: Decimal, digest: str, roster_version: int,
                  actor: StoredActor, layout: str = "v1") -> None:
        # layout: the file layout (bank_files.EXPORT_LAYOUTS); stored exports are "v1".
        self.exports[export_id] = {"format": file_format, "layout": layout,
                                   "sha256": sha256,
                                   "generated_at": generated_at,
                                   "roster_version": roster_version, "digest": digest,
                                   "user_id": actor.get("user_id")}

    def import_bank_return(self, *, file_name: str, sha256: str, lines: Sequence[BankLine],
                           imported_on: date, due_on: date, actor: Actor,
                           codes: ReturnCodebook | None = None) -> None:
        self._require_locked("reconciling it")
        if self.status is RosterStatus.RECONCILED:
            raise RuleViolation("disbursement.roster_reconciled", "already reconciled")
        found = reconcile(list(self.rows.values()), lines, codes)
        paid = sum((ln.amount for ln in lines if ln.status == "paid"), ZERO)
        self._bank_return_imported(
            township=self.township, month=self.month, kind=self.kind, file_name=file_name,
            sha256=sha256, lines_count=len(lines), paid_total=paid, roster_total=self.total,
            discrepancies=found, imported_on=imported_on, late=imported_on > due_on,
            actor=actor.stored())
        if not found:
            self._mark_reconciled(imported_on, actor)

    @event("BankReturnImported")
    def _bank_return_imported(self, township: str, month: str, kind: str, file_name: str,
                              sha256: str, lines_count: int, paid_total: Decimal,
                              roster_total: Decimal, discrepancies: list[Discrepancy],
                              imported_on: date, late: bool, actor: StoredActor) -> None:
        # A new file (the bank's corrected return) supersedes the previous one's findings.
        self.bank_return = {"file_name": file_name, "sha256": sha256, "paid_total": paid_total,
                            "imported_on": imported_on, "late": late}
        self.discrepancies = {d["id"]: {**d, "resolution": None} for d in discrepancies}

    def resolve(self, discrepancy_ids: Sequence[str], resolution: Resolution, reason: str,
                resolved_on: date, actor: Actor) -> None:
        """Record a person's resolution of one or more discrepancies (e.g. all failed
        payments carried forward), with the reason; reconciled when none is left open."""
        if self.status is RosterStatus.RECONCILED:
            raise RuleViolation("disbursement.roster_reconciled", "already reconciled")
        if not discrepancy_ids or len(set(discrepancy_ids)) != len(discrepancy_ids):
            raise RuleViolation("disbursement.discrepancy_ids",
                                "name each discrepancy once", field="discrepancy_ids")
        for i in discrepancy_ids:
            d = self.discrepancies.get(i)
            if d is None:
                raise RuleViolation("disbursement.discrepancy_unknown",
                                    f"no discrepancy {i}", field="discrepancy_ids")
            if d["resolution"] is not None:
                raise RuleViolation("disbursement.discrepancy_resolved",
                                    f"{i} is already resolved", field="discrepancy_ids")
            allowed = d.get("resolutions")  # absent: returned before reason codes existed
            if allowed is not None and resolution.value not in allowed:
                raise RuleViolation(
                    "disbursement.resolution_not_allowed",
                    f"{i} was returned {d['reason_code']} ({d['reason_text']}): "
                    f"{resolution.value} is not allowed; allowed: {', '.join(allowed)}",
                    field="resolution")
        check_reason(reason)
        self._discrepancies_resolved(discrepancy_ids=list(discrepancy_ids),
                                     resolution=resolution.value, reason=reason,
                                     actor=actor.stored())
        if all(x["resolution"] for x in self.discrepancies.values()):
            self._mark_reconciled(resolved_on, actor)

    @event("DiscrepanciesResolved")
    def _discrepancies_resolved(self, discrepancy_ids: list[str], resolution: str,
                                reason: str, actor: StoredActor) -> None:
        for i in discrepancy_ids:
            self.discrepancies[i] = {**self.discrepancies[i], "resolution": resolution,
                                     "reason": reason, "resolved_by": actor.get("user_id")}

    def _mark_reconciled(self, on: date, actor: Actor) -> None:
        assert self.bank_return is not None
        self._reconciled(
            township=self.township, month=self.month, kind=self.kind, rows_count=len(self.rows),
            total=self.total, paid_total=self.bank_return["paid_total"],
            bank_file_sha256=self.bank_return["sha256"],
            discrepancies=len(self.discrepancies), digest=self.digest,
            late=self.bank_return["late"], actor=actor.stored(), reconciled_on=on)

    @event("Reconciled")
    def _reconciled(self, township: str, month: str, kind: str, rows_count: int,
                    total: Decimal, paid_total: Decimal, bank_file_sha256: str,
                    discrepancies: int, digest: str, late: bool,
                    actor: StoredActor, reconciled_on: date | None = None) -> None:
        self.status = RosterStatus.RECONCILED


def carried_amounts(roster: MonthlyRoster, discrepancy_ids: Sequence[str]) -> list[
        tuple[RosterRow, Decimal]]:
    """What a 'carried forward' resolution leaves owed, row by row: a failed or missing
    payment in full, an underpayment by its difference; a name mismatch or an extra
    bank line leaves nothing owed."""
    owed: list[tuple[RosterRow, Decimal]] = []
    for i in discrepancy_ids:
        d = roster.discrepancies[i]
        row = roster.rows.get(d["key"]) if d.get("key") else None
        if row is None:
            continue
        if d["kind"] in (DiscrepancyKind.FAILED.value, DiscrepancyKind.MISSING.value):
            unpaid = row.amount
        elif d["kind"] == DiscrepancyKind.AMOUNT_DIFFERS.value and d.get("bank_amount"):
            unpaid = max(row.amount - Decimal(d["bank_amount"]), ZERO)
        else:
            continue
        if unpaid > 0:
            owed.append((row, unpaid.quantize(CENT)))
    return owed


def check_reason(reason: str) -> None:
    if not reason or not reason.strip():
        raise RuleViolation("disbursement.reason_required",
                            "a person's decision needs its reason", field="reason")


# --- monthly statistics (统计表) and the electronic seal --------------------------------------


STAT_LINES: tuple[tuple[str, bool], ...] = tuple(
    (k.value, urban) for k in PAID_KINDS for urban in (True, False))


@dataclass
class StatLine:
    households: int = 0
    persons: int = 0
    amount: Decimal = ZERO  # on the roster
    new: int = 0
    ended: int = 0
    carried_forward: Decimal = ZERO  # failed at the bank, owed on the next roster (补发)
    failed: Decimal = ZERO  # failed at the bank, however resolved (carried, paid by hand)
    arrears: Decimal = ZERO  # of the amount: rows paying an earlier month (补发)
    recovered: Decimal = ZERO  # 追回: money paid back since the last statistics

    def to_wire(self) -> FigureLine:
        return {"households": self.households, "persons": self.persons,
                "amount": str(self.amount), "new": self.new, "ended": self.ended,
                "paid": str(self.amount - self.carried_forward),
                "carried_forward": str(self.carried_forward), "failed": str(self.failed),
                "arrears": str(self.arrears), "recovered": str(self.recovered)}


class StatInput(NamedTuple):
    """One roster row as the statistics count it."""

    kind: str
    urban: bool
    household: str
    household_size: int
    amount: Decimal
    arrears: bool = False  # the row pays an earlier month (补发)


Money = dict[tuple[str, bool], Decimal]


def compile_statistics(rows: Iterable[StatInput],
                       new_and_ended: dict[tuple[str, bool], tuple[int, int]],
                       carried: Money | None = None, failed: Money | None = None,
                       recovered: Money | None = None) -> Figures:
    """《城乡低保、特困供养资金和临时救助发放统计表》 figures: households, persons and amount
    by kind and urban/rural, with new and ended households; of the money, what the bank
    failed, what was carried to the next roster, what paid earlier months (补发), and what
    was recovered (追回). A household paid two instalments counts once."""
    lines: dict[tuple[str, bool], StatLine] = {k: StatLine() for k in STAT_LINES}
    seen: set[tuple[str, bool, str]] = set()
    for r in rows:
        line = lines[(r.kind, r.urban)]
        line.amount += r.amount
        if r.arrears:
            line.arrears += r.amount
        if (r.kind, r.urban, r.household) not in seen:
            seen.add((r.kind, r.urban, r.household))
            line.households += 1
            line.persons += r.household_size
    for k, (new, ended) in new_and_ended.items():
        if k in lines:
            lines[k].new, lines[k].ended = new, ended
    for k, amount in (carried or {}).items():
        lines[k].carried_forward += amount
    for k, amount in (failed or {}).items():
        lines[k].failed += amount
    for k, amount in (recovered or {}).items():
        lines[k].recovered += amount
    total = StatLine()
    for line in lines.values():
        total.households += line.households
        total.persons += line.persons
        total.amount += line.amount
        total.new += line.new
        total.ended += line.ended
        total.carried_forward += line.carried_forward
        total.failed += line.failed
        total.arrears += line.arrears
        total.recovered += line.recovered
    return {"lines": [{"kind": k, "urban": u, **lines[(k, u)].to_wire()} for k, u in STAT_LINES],
            "total": total.to_wire()}


@dataclass(frozen=True)
class SealedDocument:
    document_kind: str  # statistics_xlsx | statistics_pdf | fund_plan_json
    name: str
    media_type: str
    sha256: str
    signature: str  # base64: a GB/T 38540 SES_Signature (sm2) or Ed25519 (shared.seals)
    key_id: str
    public_key: str  # base64, names the key on the county's trust list
    algorithm: str = "ed25519"  # documents sealed before SM2 carry no algorithm

    def to_wire(self) -> StoredDocument:
        return dict(self.__dict__)  # type: ignore[return-value]


class StatisticsStatus(StrEnum):
    SEALED = "sealed"
    FILED = "filed"


class MonthlyStatistics(Aggregate):
    """统计表 of one township and month, sealed (电子印章) and filed (报备) with the county."""

    @staticmethod
    def create_id(township: str, month: str, **_: Any) -> UUID:
        return statistics_id(township, month)

    @event("Sealed")
    def __init__(self, township: str, month: str, figures: Figures,
                 rosters: list[StatisticsRoster], documents: list[StoredDocument],
                 contents: dict[str, str], actor: StoredActor) -> None:
        self.township, self.month = township, month
        self.figures = figures
        self.rosters = rosters
        self.documents = documents
        self.contents = contents  # sha256 → base64 bytes: the exact sealed files
        self.status = StatisticsStatus.SEALED
        self.filed_on: date | None = None
        self.late = False

    def file(self, filed_on: date, due_on: date, actor: Actor) -> None:
        """报备 with the county; after the due day it is still accepted, marked late."""
        if self.status is StatisticsStatus.FILED:
            raise RuleViolation("disbursement.already_filed", "the statistics are already filed")
        self._filed(township=self.township, month=self.month, filed_on=filed_on, due_on=due_on,
                    late=filed_on > due_on, actor=actor.stored())

    @event("Filed")
    def _filed(self, township: str, month: str, filed_on: date, due_on: date, late: bool,
               actor: StoredActor) -> None:
        self.status = StatisticsStatus.FILED
        self.filed_on = filed_on
        self.late = late


def check_rosters_ready(rosters: Mapping[str, RosterState | None]) -> None:
    """The statistics report money paid: every kind's roster must be reconciled (an empty
    roster only locked: nothing was sent to the bank)."""
    for kind in PAID_KINDS:
        r = rosters.get(kind.value)
        if r is None:
            raise RuleViolation("disbursement.rosters_not_ready",
                                f"no {kind.value} roster for this month: draft it (even empty)",
                                field="month")
        ready = r["status"] == RosterStatus.RECONCILED or (
            r["status"] == RosterStatus.LOCKED and r["rows"] == 0)
        if not ready:
            raise RuleViolation("disbursement.rosters_not_ready",
                                f"the {kind.value} roster is {r['status']}, not reconciled",
                                field="month")


# --- the county's fund plan (资金发放计划) -----------------------------------------------------


@dataclass(frozen=True)
class HeldRow:
    township: str
    kind: str
    key: str
    case_id: str
    amount: Decimal
    spot_check_id: str
    finding: str | None


def compile_fund_plan(filings: Sequence[Filing], held: Sequence[HeldRow],
                      all_townships: Sequence[str]) -> PlanFigures:
    """Totals per township and kind from the filed (sealed) statistics: what the bank paid
    (arrears rows included, carried-forward failures not), less what was recovered (追回
    comes back to the fund) and the rows held back for unresolved spot-check errors;
    townships with such errors are flagged."""
    held_by: dict[tuple[str, str], list[HeldRow]] = defaultdict(list)
    for h in held:
        held_by[(h.township, h.kind)].append(h)
    filed = {f["township"] for f in filings}
    townships: list[PlanTownship] = []
    grand: dict[str, Decimal] = {k.value: ZERO for k in PAID_KINDS}
    grand_rows = 0
    for f in sorted(filings, key=lambda f: f["township"]):
        kinds = []
        for kind in PAID_KINDS:
            lines = [ln for ln in f["figures"]["lines"] if ln["kind"] == kind.value]
            # What the bank paid: a payment carried forward is funded with the roster
            # that repays it (补发), not twice.
            amount = sum((Decimal(ln.get("paid", ln["amount"])) for ln in lines), ZERO)
            arrears = sum((Decimal(ln.get("arrears", "0")) for ln in lines), ZERO)
            recovered = sum((Decimal(ln.get("recovered", "0")) for ln in lines), ZERO)
            rows = f["rows"].get(kind.value, 0)
            hs = held_by.get((f["township"], kind.value), [])
            held_amount = sum((h.amount for h in hs), ZERO)
            payable = amount - recovered - held_amount
            kinds.append({"kind": kind.value, "rows": rows - len(hs),
                          "households": sum(ln["households"] for ln in lines),
                          "amount": str(payable), "paid": str(amount),
                          "arrears": str(arrears), "recovered": str(recovered),
                          "held_back_rows": len(hs), "held_back_amount": str(held_amount)})
            grand[kind.value] += payable
            grand_rows += rows - len(hs)
        townships.append({
            "township": f["township"], "flagged": any(h.township == f["township"] for h in held),
            "late": f["late"], "kinds": kinds,
            "total": str(sum((Decimal(k["amount"]) for k in kinds), ZERO)),
            "rows": sum(k["rows"] for k in kinds), "statistics_documents": f["documents"]})
    return {
        "townships": townships,
        "missing_townships": [t for t in all_townships if t not in filed],
        "held_back": [{"township": h.township, "kind": h.kind, "key": h.key,
                       "case_id": h.case_id, "amount": str(h.amount),
                       "spot_check_id": h.spot_check_id, "finding": h.finding} for h in held],
        "totals": {k: str(v) for k, v in grand.items()},
        "total": str(sum(grand.values(), ZERO)), "rows": grand_rows,
    }


def plan_document(region: str, month: str, plan: PlanFigures) -> bytes:
    """The issued plan as one canonical JSON document: what its hash and seal cover."""
    body = {"document": "资金发放计划", "region": region, "month": month, **plan}
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


class FundPlanStatus(StrEnum):
    COMPILED = "compiled"
    ISSUED = "issued"
    ACKNOWLEDGED = "acknowledged"


class FundPlan(Aggregate):
    """资金发放计划: the county bureau's monthly plan to the finance bureau (县财政局)."""

    @staticmethod
    def create_id(region: str, month: str, **_: Any) -> UUID:
        return fund_plan_id(region, month)

    @event("Compiled")
    def __init__(self, region: str, month: str, plan: PlanFigures,
                 actor: StoredActor) -> None:
        self.region, self.month = region, month
        self.plan = plan
        self.status = FundPlanStatus.COMPILED
        self.document: SealedDocument | None = None
        self.acknowledgement: Acknowledgement | None = None

    def recompile(self, plan: PlanFigures, actor: Actor) -> None:
        if self.status is not FundPlanStatus.COMPILED:
            raise RuleViolation("disbursement.plan_issued", "an issued plan cannot change")
        self._recompiled(plan=plan, actor=actor.stored())

    @event("Recompiled")
    def _recompiled(self, plan: PlanFigures, actor: StoredActor) -> None:
        self.plan = plan

    def issue(self, document: SealedDocument, issued_on: date, reason: str | None,
              actor: Actor) -> None:
        if self.status is not FundPlanStatus.COMPILED:
            raise RuleViolation("disbursement.plan_issued", "the plan is already issued")
        if not self.plan["townships"]:
            raise RuleViolation("disbursement.plan_empty", "no township has filed yet")
        if self.plan["missing_townships"] and not (reason and reason.strip()):
            raise RuleViolation(
                "disbursement.plan_incomplete",
                "townships have not filed: " + ", ".join(self.plan["missing_townships"])
                + "; give the reason for issuing without them", field="reason")
        self._issued(region=self.region, month=self.month, plan=self.plan,
                     document=document.to_wire(), issued_on=issued_on, reason=reason,
                     actor=actor.stored())

    @event("Issued")
    def _issued(self, region: str, month: str, plan: PlanFigures,
                document: StoredDocument, issued_on: date, reason: str | None,
                actor: StoredActor) -> None:
        self.status = FundPlanStatus.ISSUED
        self.document = SealedDocument(**document)
        self.issued_on = issued_on

    def record_household_list(self, sha256: str, rows: int, total: Decimal,
                              projects_version: int | None, actor: Actor) -> None:
        """分户清单 handed to the finance bureau: an audited disclosure of accounts, whose
        total must be the plan's."""
        if self.status is FundPlanStatus.COMPILED:
            raise RuleViolation("disbursement.plan_not_issued", "the plan is not issued yet")
        if total != Decimal(self.plan["total"]):
            raise RuleViolation("disbursement.household_list_mismatch",
                                f"the household list totals {total}, the plan "
                                f"{self.plan['total']}", field="month")
        self._household_list_exported(region=self.region, month=self.month, sha256=sha256,
                                      rows_count=rows, total=total,
                                      projects_version=projects_version, actor=actor.stored())

    @event("HouseholdListExported")
    def _household_list_exported(self, region: str, month: str, sha256: str, rows_count: int,
                                 total: Decimal, projects_version: int | None,
                                 actor: StoredActor) -> None:
        self.household_lists = [*getattr(self, "household_lists", []),
                                {"sha256": sha256, "rows": rows_count, "total": str(total),
                                 "by": actor.get("user_id")}]

    def acknowledge(self, receipt_reference: str, note: str | None,
                    actor: Actor) -> None:
        if self.status is FundPlanStatus.COMPILED:
            raise RuleViolation("disbursement.plan_not_issued", "the plan is not issued yet")
        if self.status is FundPlanStatus.ACKNOWLEDGED:
            raise RuleViolation("disbursement.plan_acknowledged", "already acknowledged")
        assert self.document is not None
        self._acknowledged(region=self.region, month=self.month,
                           document_sha256=self.document.sha256,
                           receipt_reference=receipt_reference, note=note, actor=actor.stored())

    @event("Acknowledged")
    def _acknowledged(self, region: str, month: str, document_sha256: str,
                      receipt_reference: str, note: str | None, actor: StoredActor) -> None:
        self.status = FundPlanStatus.ACKNOWLEDGED
        self.acknowledgement = {"receipt_reference": receipt_reference, "note": note,
                                "actor": actor}


# --- review's spot checks (抽查) --------------------------------------------------------------


class SpotCheck(Aggregate):
    """The county's spot check of a township as review reported it; a later report of the
    same check (errors since resolved) is recorded as an update."""

    @staticmethod
    def create_id(upstream_id: UUID, **_: Any) -> UUID:
        return spot_check_id(upstream_id)

    @event("Recorded")
    def __init__(self, upstream_id: UUID, township: str, month: str,
                 results: list[SpotResult], source: StepSource,
                 actor: StoredActor) -> None:
        self.upstream_id, self.township, self.month = upstream_id, township, month
        self.results = results

    def update(self, results: list[SpotResult], source: StepSource,
               actor: Actor) -> None:
        self._updated(township=self.township, month=self.month, results=results,
                      source=source, actor=actor.stored())

    @event("Updated")
    def _updated(self, township: str, month: str, results: list[SpotResult],
                 source: StepSource, actor: StoredActor) -> None:
        self.results = results




@dataclass(frozen=True)
class Upstream:
    """Where a ledger step came from (review's integration event)."""

    event_id: str
    type: str
    position: int
    occurred_at: str
    actor: StoredActor | None = None

    def to_wire(self) -> StepSource:
        return {"event_id": self.event_id, "type": self.type, "position": self.position,
                "occurred_at": self.occurred_at,
                "by": (self.actor or {}).get("user_id")}


# --- the monthly rhythm, as review's policy table sets it -----------------------------------


def policy_rhythm_id(region: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"lingshui:disbursement-policy-rhythm:{region}")


class PolicyRhythm(Aggregate):
    """Review's monthly rhythm (cut-off, reconcile-by and file-by days) as review published
    it in `policy_changed`: rosters, reconciliations and filings follow review's table, by
    the rule in shared.clock, never a setting of this service."""

    @staticmethod
    def create_id(region: str, **_: Any) -> UUID:
        return policy_rhythm_id(region)

    @event("Created")
    def __init__(self, region: str, actor: StoredActor) -> None:
        self.region = region
        self.versions: list[RhythmEntry] = []

    def record(self, policy_version: int, effective_from: date, rhythm: MonthlyRhythm,
               source_event_id: str, actor: Actor) -> bool:
        """False when this version is already known (a replay of review's stream)."""
        if any(v["policy_version"] == policy_version for v in self.versions):
            return False
        self._recorded(policy_version=policy_version, effective_from=effective_from,
                       cutoff_day=rhythm.cutoff_day, reconcile_by_day=rhythm.reconcile_by_day,
                       file_by_day=rhythm.file_by_day, source_event_id=source_event_id,
                       actor=actor.stored())
        return True

    @event("VersionRecorded")
    def _recorded(self, policy_version: int, effective_from: date, cutoff_day: int,
                  reconcile_by_day: int, file_by_day: int, source_event_id: str,
                  actor: StoredActor) -> None:
        self.versions.append({"policy_version": policy_version,
                              "effective_from": effective_from, "cutoff_day": cutoff_day,
                              "reconcile_by_day": reconcile_by_day,
                              "file_by_day": file_by_day})

    def schedule(self) -> RhythmSchedule:
        return RhythmSchedule(RhythmVersion(
            v["policy_version"], v["effective_from"],
            MonthlyRhythm(v["cutoff_day"], v["reconcile_by_day"], v["file_by_day"]))
            for v in self.versions)
