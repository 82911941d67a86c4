"""Disbursement's one writer: the ledger (from review's events), the month's rosters, the
township's sealed statistics and the county's fund plan."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple, cast
from uuid import UUID, uuid4

from eventsourcing.application import Cache
from eventsourcing.utils import Environment
from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.orm import Session

from services.disbursement.bank_files import (
    KIND_LABELS,
    ExportRow,
    StatisticsHeading,
    parse_layout,
    read_bank_return,
    roster_csv,
    roster_csv_v1,
    roster_xlsx,
    roster_xlsx_v1,
    statistics_pdf,
    statistics_xlsx,
)
from services.disbursement.domain import (
    CENT,
    DEATH_ADJUST_MONTHS,
    MONTHLY_KINDS,
    ONE_OFF_ENTRIES,
    PAID_KINDS,
    Change,
    DiscrepancyKind,
    FundPlan,
    HeldRow,
    HoldResolution,
    LedgerEntry,
    LedgerView,
    MonthlyRoster,
    MonthlyStatistics,
    Payee,
    PolicyRhythm,
    Resolution,
    ReturnCodebooks,
    SealedDocument,
    SpotCheck,
    StatInput,
    Step,
    Upstream,
    add_months,
    adjustment_key,
    arrears_key,
    carried_amounts,
    check_paid_kind,
    check_rosters_ready,
    compile_fund_plan,
    compile_statistics,
    draft_rows,
    fine_of,
    from_fen,
    fund_plan_id,
    ledger_id,
    locked_month_adjustments,
    open_roster_month,
    parse_month,
    payability_holds,
    plan_document,
    policy_rhythm_id,
    roster_id,
    spot_check_id,
    statistics_id,
)
from services.disbursement.finance_files import (
    HouseholdLine,
    SubsidyProjectBook,
    household_list_csv,
    load_subsidy_projects,
)
from services.disbursement.projections import DisbursementProjection
from services.disbursement.return_codes import load_return_codes
from services.disbursement.seal import SealKeys, seal_document, seal_verdict, sha256_hex
from services.disbursement.values import ReturnedAccount, StoredPayee
from shared.auth import Principal
from shared.bankcards import account_problem, digits_of
from shared.clock import MonthlyRhythm, RhythmSchedule, business_date, today_from
from shared.contracts import Actor, Envelope
from shared.contracts.common import AssistanceKind
from shared.contracts.review import (
    EntitlementChanged,
    EntitlementStarted,
    PayeeChanged,
    PayeeRef,
    PolicyChanged,
    SpotCheckCompleted,
    TemporaryPaymentApproved,
)
from shared.errors import Forbidden, NotFound, RuleViolation
from shared.eventstore import ServiceApplication
from shared.fieldcrypt import DecryptionError, EncryptedField, Keyring
from shared.reactions import actor_of, system_actor
from shared.regions import County, UnknownRegion
from shared.settings import ServiceSettings


@dataclass(frozen=True)
class BankFileRules:
    """What this service's settings decide (the monthly rhythm is review's policy)."""

    max_bank_file_lines: int = 500_000
    payee_account_purposes: tuple[str, ...] = ("payee.account",)
    return_codes: ReturnCodebooks = field(default_factory=load_return_codes)
    subsidy_projects: SubsidyProjectBook = field(default_factory=load_subsidy_projects)


class _SealedAccount(NamedTuple):
    """What `Keyring.unseal` reads of a stored sealed account (no model validation per row:
    the value was validated when it arrived)."""

    kid: str
    nonce: str
    ciphertext: str


# Recently used aggregates stay in memory between commands: a month's rosters are read by
# every step (lock, export, reconcile, resolve, statistics), and replaying a roster's
# `Drafted` event is the cost of a load. Each get still reads the newer events from the
# store (fast-forward), so another process's writes are seen; each command gets a copy.
# The cache is bounded by roster rows, not only by count: a row is about 1 KB in memory,
# and a province's month (200,000 rows) held whole would double the service's RSS for a
# replay that costs ~4 µs a row.
AGGREGATE_CACHE_MAXSIZE = 128
AGGREGATE_CACHE_ROWS = 20_000


class RowBudgetCache(Cache[UUID, Any]):
    """LRU of at most `maxsize` aggregates holding at most `rows` roster rows in all; a
    roster larger than the whole budget is not kept. The interface the library's
    repository uses (`get`, with `evict`, and `put`), thread-safe as its LRUCache."""

    def __init__(self, maxsize: int, rows: int) -> None:
        super().__init__()
        self.maxsize, self.rows = maxsize, rows
        self._lru: OrderedDict[UUID, tuple[Any, int]] = OrderedDict()
        self._weight = 0
        self._lock = threading.Lock()

    @staticmethod
    def weight(value: Any) -> int:
        return 1 + len(getattr(value, "rows", ()))

    def get(self, key: UUID, *, evict: bool = False) -> Any:
        with self._lock:
            if evict:
                value, w = self._lru.pop(key)
                self._weight -= w
                return value
            value, _ = self._lru[key]
            self._lru.move_to_end(key)
            return value

    def put(self, key: UUID, value: Any) -> None:
        if value is None:
            return
        w = self.weight(value)
        with self._lock:
            if (old := self._lru.pop(key, None)) is not None:
                self._weight -= old[1]
            if w > self.rows:
                return
            self._lru[key] = (value, w)
            self._weight += w
            while len(self._lru) > self.maxsize or self._weight > self.rows:
                _, (_, dropped) = self._lru.popitem(last=False)
                self._weight -= dropped


class DisbursementApplication(ServiceApplication):
    name = "disbursement"

    def __init__(self, settings: ServiceSettings, county: County, keyring: Keyring,
                 seals: SealKeys, rules: BankFileRules,
                 today: Callable[[], date] | None = None,
                 now: Callable[[], datetime] | None = None) -> None:
        self.county, self.keyring, self.seals, self.rules = county, keyring, seals, rules
        self.today = today or today_from(settings.clock)
        self.now = now or settings.clock.now
        self.views = DisbursementProjection()
        t = self.views.ledger
        self._ledger_probe = select(t.c.key).where(t.c.key == bindparam("key"))
        super().__init__(settings, self.views)
        self._forget_cached()

    def construct_env(self, name: str, env: Any = None) -> Environment:
        out = super().construct_env(name, env)
        out.setdefault(self.AGGREGATE_CACHE_MAXSIZE, str(AGGREGATE_CACHE_MAXSIZE))
        return out

    @contextlib.contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        # A failed transaction may have fast-forwarded a cached aggregate with events that
        # were then rolled back: forget the cache rather than serve them.
        try:
            with super().unit_of_work() as s:
                yield s
        except BaseException:
            self._forget_cached()
            raise

    def _forget_cached(self) -> None:
        self.repository.cache = RowBudgetCache(AGGREGATE_CACHE_MAXSIZE, AGGREGATE_CACHE_ROWS)

    # --- the ledger, from review's events (called by reactions) ----------------------------

    def _exists(self, aggregate_id: UUID) -> bool:
        return aggregate_id in self.repository

    def _on_ledger(self, key: UUID, known: set[str] | None = None) -> bool:
        # The read model commits with the events: as exact as the store, and one indexed
        # lookup instead of replaying an aggregate (or none: `known`, looked up per batch).
        if known is not None:
            return str(key) in known
        with self.read_session() as s:
            return s.execute(self._ledger_probe, {"key": str(key)}).first() is not None

    def _known_keys(self, keys: list[str]) -> set[str]:
        t, known = self.views.ledger, set()
        with self.read_session() as s:
            for i in range(0, len(keys), 900):  # stay under SQLite's bound-parameter limit
                known.update(s.execute(select(t.c.key).where(
                    t.c.key.in_(keys[i:i + 900]))).scalars())
        return known

    def _payee(self, payee: PayeeRef | None, fallback_name: str) -> StoredPayee | None:
        if payee is None:
            return None
        account = self._unseal_account(payee.account.model_dump())
        digits = digits_of(account)
        return Payee(name=payee.name or fallback_name, bank=payee.bank,
                     account_sealed=payee.account.model_dump(),
                     account_fp=self.account_fingerprint(digits),
                     account_mask=payee.account.mask,
                     account_check=account_problem(digits) or "ok",
                     resident_id_mask=payee.resident_id_mask).to_wire()

    def account_fingerprint(self, digits: str) -> str:
        # Keyed: matches the bank's file to the roster without keeping accounts in clear.
        return self.keyring.fingerprint("bank-account:" + digits)

    def _unseal_account(self, sealed: dict[str, Any]) -> str:
        # Our own stored copy of a value validated on arrival: no second validation per row.
        value = cast(EncryptedField, _SealedAccount(sealed["kid"], sealed["nonce"],
                                            sealed["ciphertext"]))
        for purpose in self.rules.payee_account_purposes:
            try:
                return self.keyring.decrypt(value, purpose)
            except DecryptionError:
                continue
        raise RuleViolation("disbursement.account_unreadable",
                            "the payee's bank account cannot be unsealed with this keyring",
                            field="payee.account")

    # --- business time: review's dates and review's rhythm -----------------------------------

    def _decided_on(self, decided_on: date | None, upstream: Upstream) -> date:
        return business_date(decided_on, datetime.fromisoformat(upstream.occurred_at),
                             self.settings.clock.zone)

    def rhythms(self) -> RhythmSchedule:
        """The monthly rhythm by month, from review's policy table (policy_changed)."""
        try:
            book: PolicyRhythm = self.get(policy_rhythm_id(self.settings.region))
        except NotFound:
            return RhythmSchedule()  # no table yet: the plan's 15th and 20th
        return book.schedule()

    def record_policy(self, changed: PolicyChanged, upstream: Upstream) -> bool:
        """Review published a policy version: keep its rhythm, effective-dated."""
        rid = policy_rhythm_id(self.settings.region)
        actor = upstream.actor or {}
        book: PolicyRhythm = (self.get(rid) if self._exists(rid)
                              else PolicyRhythm(region=self.settings.region, actor=actor))
        rhythm = MonthlyRhythm.from_terms(changed.table)
        if not book.record(changed.version, changed.effective_from, rhythm,
                           upstream.event_id, caused_by(upstream)):
            return False
        self.save(book)
        return True

    def _started(self, e: EntitlementStarted, upstream: Upstream,
                 known: set[str] | None = None,
                 rhythms: RhythmSchedule | None = None) -> LedgerEntry | None:
        if e.kind not in MONTHLY_KINDS:
            return None  # 低保边缘 is recognised, not paid; 临时救助 arrives as payments
        if self._on_ledger(e.entitlement_id, known):
            raise RuleViolation("disbursement.entitlement_known",
                                f"entitlement {e.entitlement_id} was already started")
        month = (rhythms or self.rhythms()).roster_month(
            e.start_month, self._decided_on(e.decided_on, upstream))
        step = Step(1, month, e.monthly_amount, e.household_size, "start", upstream.to_wire())
        return LedgerEntry(
            key=e.entitlement_id, entry_type="entitlement", kind=e.kind.value,
            case_id=e.case_id, household_id=e.household_id, township=e.township,
            village=e.village, urban=e.urban, applicant_name=e.applicant_name,
            policy_version=e.policy_version, payee=self._payee(e.payee, e.applicant_name),
            step=step.to_wire(), details={"declared_start_month": e.start_month},
            actor=upstream.actor or {})

    def _roster_months(self, township: str, kind: AssistanceKind, *,
                       drafted: bool = True) -> set[str]:
        """The months that have a roster of this kind (`drafted=False`: only locked ones)."""
        t = self.views.rosters
        q = select(t.c.month).where(t.c.township == township, t.c.kind == kind.value)
        if not drafted:
            q = q.where(t.c.status != "drafted")
        with self.read_session() as s:
            return set(s.execute(q).scalars())

    def _payment(self, e: TemporaryPaymentApproved, upstream: Upstream,
                 known: set[str] | None = None,
                 cut: dict[str, set[str]] | None = None,
                 rhythms: RhythmSchedule | None = None) -> LedgerEntry:
        if self._on_ledger(e.payment_id, known):
            raise RuleViolation("disbursement.payment_known",
                                f"temporary payment {e.payment_id} was already recorded")
        declared = (rhythms or self.rhythms()).roster_month(
            e.month, self._decided_on(e.decided_on, upstream))
        cut = {} if cut is None else cut
        if e.township not in cut:
            cut[e.township] = self._roster_months(e.township, AssistanceKind.LINSHI,
                                                  drafted=False)
        month = open_roster_month(declared, cut[e.township])
        step = Step(1, month, e.amount, e.household_size, "payment", upstream.to_wire())
        return LedgerEntry(
            key=e.payment_id, entry_type="temporary_payment", kind=AssistanceKind.LINSHI.value,
            case_id=e.case_id, household_id=e.household_id, township=e.township,
            village=e.village, urban=e.urban, applicant_name=e.applicant_name,
            policy_version=None, payee=self._payee(e.payee, e.applicant_name),
            step=step.to_wire(),
            details={"instalment": e.instalment, "instalments": e.instalments,
                     "advance": e.advance, "declared_month": e.month,
                     **({"roster_locked": declared} if month != declared else {})},
            actor=upstream.actor or {})

    def record_entitlement_started(self, e: EntitlementStarted, upstream: Upstream) -> None:
        if (entry := self._started(e, upstream)) is not None:
            self.save(entry)

    def record_temporary_payment(self, e: TemporaryPaymentApproved, upstream: Upstream) -> None:
        self.save(self._payment(e, upstream))

    def backfill(self, items: list[tuple[EntitlementStarted | TemporaryPaymentApproved,
                                         Upstream]]) -> int:
        """建账: load the entitlements a county already pays when it switches the system
        on (review's events, replayed from its archive), by the same rules as the
        reactions, in one transaction per batch. Returns the entries recorded."""
        entries = []
        seen: set[UUID] = set()
        known = self._known_keys([str(e.entitlement_id if isinstance(e, EntitlementStarted)
                                      else e.payment_id) for e, _ in items])
        cut: dict[str, set[str]] = {}
        rhythms = self.rhythms()  # once per batch, not per entry
        for e, upstream in items:
            key = e.entitlement_id if isinstance(e, EntitlementStarted) else e.payment_id
            if key in seen:
                raise RuleViolation("disbursement.entitlement_known", f"{key} listed twice")
            seen.add(key)
            entry = (self._started(e, upstream, known, rhythms)
                     if isinstance(e, EntitlementStarted)
                     else self._payment(e, upstream, known, cut, rhythms))
            if entry is not None:
                entries.append(entry)
        self.save(*entries)
        return len(entries)

    def record_entitlement_changed(self, e: EntitlementChanged, upstream: Upstream) -> None:
        if e.kind not in MONTHLY_KINDS:
            return
        entry: LedgerEntry = self.get(ledger_id(e.entitlement_id), "entitlement")
        month = self.rhythms().roster_month(e.effective_month,
                                            self._decided_on(e.decided_on, upstream))
        entry.change(month=month, amount=e.monthly_amount, household_size=e.household_size,
                     change=e.change, source=upstream.to_wire(), reasons=e.reasons,
                     actor=caused_by(upstream))
        self.save(entry, *self._locked_month_adjustments(entry, e, month, upstream))

    def record_payee_changed(self, e: PayeeChanged, upstream: Upstream) -> int:
        """Review gave the household a new account: the entitlement and every 补发 of it
        not yet on a locked roster pay it from the next roster drafted (a hold for the old,
        returned account then no longer applies). Returns the entries changed."""
        if e.kind not in MONTHLY_KINDS:
            return 0
        entry: LedgerEntry = self.get(ledger_id(e.entitlement_id), "entitlement")
        payee = self._payee(e.payee, entry.applicant_name)
        assert payee is not None
        t = self.views.ledger
        locked = self._roster_months(e.township, e.kind, drafted=False)
        with self.read_session() as s:
            arrears = [UUID(k) for k, first in s.execute(select(t.c.key, t.c.first_month).where(
                t.c.case_id == str(e.case_id), t.c.entry_type == "arrears")).all()
                if first not in locked]
        changed = [x for x in (entry, *(self.get(ledger_id(k), "ledger entry")
                                        for k in arrears))
                   if x.change_payee(payee, upstream.to_wire(), e.reason, caused_by(upstream))]
        self.save(*changed)
        return len(changed)

    def _paid_months(self, entry: LedgerEntry, first: str, month: str) -> dict[str, Decimal]:
        """What the rosters that will not be redrafted with this decision hold for the
        entitlement, from `first` on: any roster before `month` (the decision's first
        roster month) and any locked one after. Those months are settled by arrears or
        recovery."""
        kind, key, paid = AssistanceKind(entry.kind), str(entry.key), {}
        locked = self._roster_months(entry.township, kind, drafted=False)
        for m in sorted(self._roster_months(entry.township, kind)):
            if first <= m and (m < month or m in locked):
                roster: MonthlyRoster = self.get(roster_id(entry.township, m, kind.value))
                row = roster.rows.get(key)
                paid[m] = row.amount if row is not None else Decimal("0.00")
                for step in entry.steps[:-1]:  # earlier decisions' adjustments of month m
                    aid = ledger_id(adjustment_key(entry.key, step.source.get("event_id", ""), m))
                    if self._exists(aid):
                        adj: LedgerEntry = self.get(aid)
                        sign = -1 if adj.entry_type == "recovery" else 1
                        paid[m] += sign * adj.steps[0].amount
        return paid

    def _locked_month_adjustments(self, entry: LedgerEntry, e: EntitlementChanged,
                                  month: str, upstream: Upstream) -> list[LedgerEntry]:
        """A change effective in months already on a roster: an increase owes the
        difference (补发), a decrease or a backdated end is owed back (追回), each as its
        own entry on the next roster still open, naming the month it corrects."""
        paid = self._paid_months(entry, e.effective_month, month)
        if not paid:
            return []
        kind = AssistanceKind(entry.kind)
        pay_on = open_roster_month(month, self._roster_months(entry.township, kind))
        out = []
        actor = upstream.actor or {}
        late = e.cause == "death" and add_months(e.effective_month, DEATH_ADJUST_MONTHS) < month
        for original, diff in locked_month_adjustments(e.monthly_amount, paid):
            key = adjustment_key(entry.key, upstream.event_id, original)
            if self._exists(ledger_id(key)):
                continue
            owed_back = diff < 0
            amount = abs(diff).quantize(CENT)
            details: dict[str, Any] = {"original_month": original, "original_key": str(entry.key),
                                       "cause_event_id": upstream.event_id, "change": e.change}
            if e.cause:
                details["cause"] = e.cause
            if late:
                details["adjusted_late"] = (f"death adjustment more than {DEATH_ADJUST_MONTHS} "
                                            "months after the month it corrects")
            if owed_back and e.cause == "fraud" and e.fine_multiple is not None:
                details.update(fine_multiple=str(e.fine_multiple),
                               fine_amount=str(fine_of(amount, e.fine_multiple)),
                               fine_reason=e.fine_reason)
            change = Change.RECOVERY if owed_back else Change.ARREARS
            source = {**upstream.to_wire(), "type": "locked_month_change",
                      "original_month": original}
            step = Step(1, pay_on, amount, e.household_size, change.value, source,
                        tuple(e.reasons))
            out.append(LedgerEntry(
                key=key, entry_type="recovery" if owed_back else "arrears", kind=entry.kind,
                case_id=entry.case_id, household_id=entry.household_id,
                township=entry.township, village=entry.village, urban=entry.urban,
                applicant_name=entry.applicant_name, policy_version=e.policy_version,
                payee=entry.payee, step=step.to_wire(), details=details, actor=actor))
        return out

    # --- 追回: recoveries owed, recovered or written off -----------------------------------

    def _recovery(self, who: Principal, key: UUID) -> LedgerEntry:
        entry: LedgerEntry = self.get(ledger_id(key), "recovery")
        self._check_township(who, entry.township)
        if entry.entry_type != "recovery":
            raise NotFound("disbursement.not_found", f"no recovery {key}")
        return entry

    def record_recovered(self, who: Principal, key: UUID, amount: Decimal,
                         reason: str) -> LedgerEntry:
        entry = self._recovery(who, key)
        entry.recover(amount, reason, self.today(), who.as_actor())
        self.save(entry)
        return entry

    def write_off_recovery(self, who: Principal, key: UUID, reason: str) -> LedgerEntry:
        entry = self._recovery(who, key)
        entry.write_off(reason, self.today(), who.as_actor())
        self.save(entry)
        return entry

    def recoveries(self, who: Principal, township: str) -> list[dict[str, Any]]:
        self._check_township(who, township)
        t = self.views.recoveries
        with self.read_session() as s:
            rows = s.execute(select(t).where(t.c.township == township).order_by(
                t.c.original_month, t.c.key)).all()
        out = []
        for r in rows:
            d = dict(r._mapping)
            for f in ("amount", "recovered", "written_off", "fine"):
                fen = d.pop(f + "_fen")
                d[f] = None if fen is None else str(from_fen(fen))
            out.append(d)
        return out

    def record_spot_check(self, e: SpotCheckCompleted, upstream: Upstream) -> None:
        results = [r.model_dump(mode="json") for r in e.results]
        sid = spot_check_id(e.spot_check_id)
        if self._exists(sid):
            check: SpotCheck = self.get(sid)
            check.update(results, upstream.to_wire(), caused_by(upstream))
        else:
            check = SpotCheck(upstream_id=e.spot_check_id, township=e.township, month=e.month,
                              results=results, source=upstream.to_wire(),
                              actor=upstream.actor or {})
        self.save(check)

    # --- rosters -----------------------------------------------------------------------------

    def _check_township(self, who: Principal, township: str) -> str:
        try:
            self.county.township(township)
        except UnknownRegion as e:
            raise RuleViolation("disbursement.unknown_township", str(e),
                                field="township") from None
        who.check_jurisdiction(township)
        return township

    def _ledger_views(self, township: str, kind: AssistanceKind,
                      month: str) -> list[LedgerView]:
        t = self.views.ledger
        q = select(t.c.key, t.c.case_id, t.c.household_id, t.c.village, t.c.urban,
                   t.c.applicant_name, t.c.policy_version, t.c.payee, t.c.steps,
                   t.c.entry_type).where(
            t.c.township == township, t.c.kind == kind.value)
        if kind is AssistanceKind.LINSHI:
            q = q.where(t.c.first_month == month)
        else:  # paying this month or last (a row that ended this month is a change too)
            q = q.where(t.c.first_month <= month, or_(
                t.c.last_month.is_(None), t.c.last_month >= add_months(month, -1)))
        loads, step = json.loads, Step.from_wire
        with self.read_session() as s:
            return [LedgerView(key, case_id, household_id, village, urban, applicant_name,
                               policy_version, Payee(**loads(payee)) if payee else None,
                               tuple(step(x) for x in loads(steps)),
                               entry_type in ONE_OFF_ENTRIES)
                    for (key, case_id, household_id, village, urban, applicant_name,
                         policy_version, payee, steps, entry_type) in s.execute(q).all()]

    def draft_roster(self, who: Principal, township: str, month: str,
                     kind: str) -> MonthlyRoster:
        self._check_township(who, township)
        k = check_paid_kind(kind)
        parse_month(month)
        cutoff = self.rhythms().of_month(month).cutoff(month)
        if self.today() < cutoff:
            raise RuleViolation("disbursement.before_cutoff",
                                f"the {month} roster is drafted at the cut-off, {cutoff}",
                                field="month")
        views = self._ledger_views(township, k, month)
        rows, changes = draft_rows(k, month, views)
        holds = payability_holds(rows, self._checked(views, {r.key for r in rows}),
                                 self._returned_accounts(township, add_months(month, -1)))
        rid = roster_id(township, month, k.value)
        if self._exists(rid):
            roster: MonthlyRoster = self.get(rid)
            roster.redraft(cutoff, rows, changes, who.as_actor(), holds)
        else:
            roster = MonthlyRoster(township=township, month=month, kind=k.value,
                                   cutoff=cutoff, rows=[r.to_wire() for r in rows],
                                   changes=changes, actor=who.actor(), holds=holds)
        self.save(roster)
        return roster

    def _checked(self, views: list[LedgerView], keys: set[str]) -> dict[str, LedgerView]:
        """The entries on the roster, each payee's account checked (an entry recorded
        before the check existed is checked now, from its sealed account)."""
        out = {}
        for v in views:
            if v.key not in keys:
                continue
            p = v.payee
            if p is not None and p.account_check is None and p.account_sealed:
                v = v._replace(payee=p._replace(account_check=account_problem(
                    self._unseal_account(p.account_sealed)) or "ok"))
            out[v.key] = v
        return out

    def _returned_accounts(self, township: str, month: str) -> dict[str, ReturnedAccount]:
        """Accounts the bank returned in `month` as closed, blocked or wrong (any kind)."""
        out: dict[str, ReturnedAccount] = {}
        for kind in PAID_KINDS:
            rid = roster_id(township, month, kind.value)
            if not self._exists(rid):
                continue
            roster: MonthlyRoster = self.get(rid)
            for d in roster.discrepancies.values():
                row = roster.rows.get(d.get("key") or "")
                if d.get("account_status") and row is not None and row.account_fp:
                    out[row.account_fp] = {"month": month, "kind": kind.value,
                                           "reason_code": d["reason_code"],
                                           "reason_text": d["reason_text"]}
        return out

    def roster_holds(self, who: Principal, township: str, month: str,
                     kind: str) -> MonthlyRoster:
        return self.roster(who, township, month, kind)

    def resolve_holds(self, who: Principal, township: str, month: str, kind: str,
                      keys: list[str], resolution: HoldResolution,
                      reason: str) -> MonthlyRoster:
        """Release held rows (paid as drafted) or exclude them (owed on the next roster,
        as 补发), each with the clerk's reason, in one transaction."""
        roster = self.roster(who, township, month, kind)
        excluded = roster.resolve_holds(keys, resolution, reason, who.as_actor())
        owed = self._owed_later(roster, [(r, r.amount) for r in excluded], reason, who,
                                "held_over")
        self.save(roster, *owed)
        return roster

    def roster(self, who: Principal, township: str, month: str, kind: str) -> MonthlyRoster:
        self._check_township(who, township)
        check_paid_kind(kind)
        parse_month(month)
        return self.get(roster_id(township, month, kind), "roster")

    def lock_roster(self, who: Principal, township: str, month: str,
                    kind: str) -> MonthlyRoster:
        roster = self.roster(who, township, month, kind)
        roster.lock(self.today(), who.as_actor())
        self.save(roster)
        return roster

    def correct_roster(self, who: Principal, township: str, month: str, kind: str, key: str,
                       amount: Decimal, reason: str) -> MonthlyRoster:
        roster = self.roster(who, township, month, kind)
        roster.correct(key, amount, reason, who.as_actor())
        self.save(roster)
        return roster

    def roster_summary(self, who: Principal, township: str, month: str,
                       kind: str) -> dict[str, Any]:
        self._check_township(who, township)
        t = self.views.rosters
        with self.read_session() as s:
            row = s.execute(select(t).where(
                t.c.roster_id == str(roster_id(township, month, kind)))).first()
        if row is None:
            raise NotFound("disbursement.not_found", f"no {kind} roster for {township} {month}")
        out = dict(row._mapping)
        out["total"] = str(from_fen(out.pop("total_fen")))
        return out

    def roster_rows(self, who: Principal, township: str, month: str, kind: str, limit: int,
                    offset: int) -> tuple[int, list[dict[str, Any]]]:
        self._check_township(who, township)
        t = self.views.rows
        rid = str(roster_id(township, month, kind))
        with self.read_session() as s:
            total = s.execute(select(func.count()).where(t.c.roster_id == rid)).scalar_one()
            rows = s.execute(select(t).where(t.c.roster_id == rid).order_by(
                t.c.village, t.c.key).limit(limit).offset(offset))
            items = []
            for r in rows:
                d = dict(r._mapping)
                d.pop("account_fp")  # a keyed hash is no business of a reader
                d["amount"] = str(from_fen(d.pop("amount_fen")))
                items.append(d)
        return total, items

    # --- export for the bank (the audited disclosure of accounts) ------------------------

    def _village_name(self, code: str) -> str:
        try:
            return self.county.village(code)[1].name
        except UnknownRegion:  # a village missing from a sample list: its code, not nothing
            return code

    def _export_rows(self, roster: MonthlyRoster, village_names: bool) -> list[ExportRow]:
        keys = list(roster.rows)
        t = self.views.ledger
        payees: dict[str, dict[str, Any] | None] = {}
        with self.read_session() as s:
            for i in range(0, len(keys), 900):  # stay under SQLite's bound-parameter limit
                for key, payee in s.execute(select(t.c.key, t.c.payee).where(
                        t.c.key.in_(keys[i:i + 900]))).all():
                    payees[key] = json.loads(payee) if payee else None
        out = []
        unseal, kind = self._unseal_account, roster.kind
        villages: dict[str, str] = {}  # a township has tens of villages, a roster 10^4 rows
        for row in sorted(roster.rows.values(), key=lambda r: (r.village, r.key)):
            p = payees.get(row.key)
            sealed = p.get("account_sealed") if p else None
            village = row.village
            if village_names:
                if (name := villages.get(village)) is None:
                    name = villages[village] = self._village_name(village)
                village = name
            out.append(ExportRow(row.key, row.name, unseal(sealed) if sealed else "",
                                 row.amount, village, kind, row.resident_id_mask or ""))
        return out

    def _render_export(self, roster: MonthlyRoster, file_format: str,
                       generated_at: datetime, layout: str = "v1") -> bytes:
        """The file in the layout it was (or is being) exported in (bank_files.py)."""
        version, encoding = parse_layout(layout)
        v1 = version == 1
        rows = self._export_rows(roster, village_names=not v1)
        township = self.county.township(roster.township).name
        if file_format == "csv":
            return roster_csv_v1(rows) if v1 else roster_csv(rows, encoding, version)
        if v1:
            return roster_xlsx_v1(rows, f"{self.county.name}{township} {roster.month} "
                                        f"发放花名册（{roster.kind}）", generated_at)
        label = KIND_LABELS.get(roster.kind, roster.kind)
        return roster_xlsx(rows, f"{self.county.name}{township} {roster.month} "
                                 f"{label}资金发放花名册", generated_at, version)

    def create_export(self, who: Principal, township: str, month: str, kind: str,
                      file_format: str, encoding: str = "utf-8",
                      ) -> tuple[dict[str, Any], bytes]:
        """The audited export (`Exported`: who, when, the file's hash) and the file itself,
        generated once. The file is handed to the caller, never stored: a later download
        regenerates it and checks it against the recorded hash."""
        roster = self.roster(who, township, month, kind)
        generated_at = self.now().replace(microsecond=0)
        roster.check_exportable()  # before unsealing anything
        layout = f"v3-{encoding if file_format == 'csv' else 'utf-8'}"  # EXPORT_LAYOUTS
        content = self._render_export(roster, file_format, generated_at, layout)
        export_id = str(uuid4())
        sha = sha256_hex(content)
        roster.record_export(export_id, file_format, sha, generated_at, who.as_actor(), layout)
        self.save(roster)
        return {"export_id": export_id, "format": file_format, "sha256": sha,
                "rows": len(roster.rows), "total": str(roster.total)}, content

    def export_file(self, who: Principal, township: str, month: str, kind: str,
                    export_id: str) -> tuple[str, bytes]:
        roster = self.roster(who, township, month, kind)
        meta = roster.exports.get(export_id)
        if meta is None:
            raise NotFound("disbursement.not_found", f"no export {export_id}")
        if meta["user_id"] != who.user_id:
            raise Forbidden("disbursement.export_owner",
                            "only the person who made the export may download it")
        # Rows unchanged since the export (same digest): no need to replay that version.
        as_exported: MonthlyRoster = roster if meta.get("digest") == roster.digest else self.get(
            roster.id, version=meta["roster_version"])
        content = self._render_export(as_exported, meta["format"], meta["generated_at"],
                                      meta.get("layout", "v1"))
        if sha256_hex(content) != meta["sha256"]:
            raise RuleViolation("disbursement.export_changed",
                                "the regenerated file differs from the audited export")
        return meta["format"], content

    # --- reconciliation -------------------------------------------------------------------

    def import_bank_return(self, who: Principal, township: str, month: str, kind: str,
                           file_name: str, content: bytes,
                           scheme: str | None = None) -> MonthlyRoster:
        roster = self.roster(who, township, month, kind)
        today = self.today()
        codes = self.rules.return_codes.in_force(today)
        codes.code_of(scheme, "")  # an unknown scheme is refused before the file is read
        lines = read_bank_return(file_name, content, self.account_fingerprint,
                                 self.rules.max_bank_file_lines)
        mapped = []
        for line in lines:
            if line.status == "failed":
                code = codes.code_of(scheme, line.bank_code)
                if code is None:
                    raise RuleViolation(
                        "disbursement.bank_code_unknown",
                        f"row {line.line}: {line.bank_code!r} is not a return code of scheme "
                        f"{scheme or codes.default_scheme} (codes version {codes.version})",
                        field=f"file.row[{line.line}].reason")
                line = line._replace(reason_code=code.code)
            mapped.append(line)
        roster.import_bank_return(file_name=file_name, sha256=sha256_hex(content),
                                  lines=mapped, imported_on=today,
                                  due_on=self.rhythms().of_month(month).reconcile_by(month),
                                  actor=who.as_actor(), codes=codes)
        self.save(roster)
        return roster

    def resolve_discrepancies(self, who: Principal, township: str, month: str, kind: str,
                              discrepancy_ids: list[str], resolution: Resolution,
                              reason: str) -> MonthlyRoster:
        roster = self.roster(who, township, month, kind)
        roster.resolve(discrepancy_ids, resolution, reason, self.today(), who.as_actor())
        arrears = []
        if resolution is Resolution.CARRIED_FORWARD:
            arrears = self._owed_later(roster, carried_amounts(roster, discrepancy_ids),
                                       reason, who, "carried_forward")
        self.save(roster, *arrears)  # the resolution and what it leaves owed, together
        return roster

    def _owed_later(self, roster: MonthlyRoster, owed: list[tuple[Any, Decimal]], reason: str,
                    who: Principal, why: str) -> list[LedgerEntry]:
        """补发: each payment carried forward (or held over) is owed on the next roster
        still open, as its own row that names the month it was due in."""
        if not owed:
            return []
        kind = AssistanceKind(roster.kind)
        # Past every roster already drafted: a drafted roster's rows are fixed at its lock.
        month = open_roster_month(add_months(roster.month, 1),
                                  self._roster_months(roster.township, kind))
        out = []
        for row, unpaid in owed:
            key = arrears_key(roster.id, row.key)
            if self._exists(ledger_id(key)):
                continue  # carried once; a second resolution cannot owe it twice
            original: LedgerEntry = self.get(ledger_id(UUID(row.key)), "ledger entry")
            source = {"type": why, "roster_id": str(roster.id),
                      "original_month": roster.month, "original_key": row.key,
                      "by": who.user_id}
            step = Step(1, month, unpaid, row.household_size, Change.ARREARS.value, source,
                        (reason,))
            out.append(LedgerEntry(
                key=key, entry_type="arrears", kind=roster.kind, case_id=original.case_id,
                household_id=original.household_id, township=roster.township,
                village=original.village, urban=original.urban,
                applicant_name=original.applicant_name,
                policy_version=original.policy_version, payee=original.payee,
                step=step.to_wire(),
                details={"original_month": roster.month, "original_key": row.key,
                         "roster_id": str(roster.id)}, actor=who.actor()))
        return out

    # --- statistics and the seal ------------------------------------------------------------

    def _rosters_of(self, township: str, month: str) -> dict[str, dict[str, Any]]:
        t = self.views.rosters
        with self.read_session() as s:
            rows = s.execute(select(t).where(t.c.township == township, t.c.month == month))
            return {r.kind: dict(r._mapping) for r in rows}

    def seal_statistics(self, who: Principal, township: str, month: str) -> MonthlyStatistics:
        self._check_township(who, township)
        parse_month(month)
        sid = statistics_id(township, month)
        if self._exists(sid):
            raise RuleViolation("disbursement.statistics_sealed",
                                "the statistics of this month are already sealed")
        rosters = self._rosters_of(township, month)
        check_rosters_ready(rosters)  # type: ignore[arg-type]
        new_and_ended: dict[tuple[str, bool], list[int]] = {}
        carried: dict[tuple[str, bool], Decimal] = defaultdict(Decimal)
        failed: dict[tuple[str, bool], Decimal] = defaultdict(Decimal)
        arrears: set[tuple[str, str]] = set()
        for kind in PAID_KINDS:
            roster: MonthlyRoster = self.get(roster_id(township, month, kind.value))
            forward = [i for i, d in roster.discrepancies.items()
                       if d.get("resolution") == Resolution.CARRIED_FORWARD.value]
            for row, unpaid in carried_amounts(roster, forward):
                carried[(kind.value, row.urban)] += unpaid
            unpaid_lines = [i for i, d in roster.discrepancies.items() if d["kind"] in (
                DiscrepancyKind.FAILED.value, DiscrepancyKind.MISSING.value)]
            for row, unpaid in carried_amounts(roster, unpaid_lines):
                failed[(kind.value, row.urban)] += unpaid
            for c in roster.changes:
                counts = new_and_ended.setdefault((kind.value, c["urban"]), [0, 0])
                if c["change"] in ("new", "payment"):
                    counts[0] += 1
                elif c["change"] == "ended":
                    counts[1] += 1
                elif c["change"] == Change.ARREARS.value:
                    arrears.add((kind.value, c["key"]))
        r, rw, rc = self.views.rosters, self.views.rows, self.views.recovered
        with self.read_session() as s:
            inputs = [StatInput(kind, urban, household, size, from_fen(fen),
                                (kind, key) in arrears)
                      for kind, urban, household, size, fen, key in s.execute(
                select(r.c.kind, rw.c.urban, rw.c.household, rw.c.household_size,
                       rw.c.amount_fen, rw.c.key).join(r, r.c.roster_id == rw.c.roster_id)
                .where(r.c.township == township, r.c.month == month)).all()]
            # 追回 since the last statistics: each sum in the first statistics sealed after
            # it (the projection marks them counted, up to `recovered_through`).
            uncounted = s.execute(
                select(rc.c.kind, rc.c.urban, rc.c.amount_fen, rc.c.position).where(
                    rc.c.township == township, rc.c.statistics_id.is_(None))).all()
        recovered: dict[tuple[str, bool], Decimal] = defaultdict(Decimal)
        for kind_, urban, fen, _ in uncounted:
            recovered[(kind_, urban)] += from_fen(fen)
        figures = compile_statistics(inputs, {k: (v[0], v[1]) for k, v in new_and_ended.items()},
                                     carried, failed, recovered)
        figures["recovered_through"] = max((p for *_, p in uncounted), default=0)
        compiled_at = self.now().replace(microsecond=0)
        heading = StatisticsHeading(self.county.name, self.county.township(township).name,
                                    township, month, compiled_at, who.name or who.user_id,
                                    self.seals.algorithm)
        files = [("statistics_xlsx", f"统计表-{township}-{month}.xlsx",
                  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                  statistics_xlsx(figures, heading)),
                 ("statistics_pdf", f"统计表-{township}-{month}.pdf", "application/pdf",
                  statistics_pdf(figures, heading))]
        documents = [seal_document(self.seals, township, month, kind_, name, media, content)
                     for kind_, name, media, content in files]
        stats = MonthlyStatistics(
            township=township, month=month, figures=figures,
            rosters=[{"kind": k, "roster_id": v["roster_id"], "rows": v["rows"],
                      "digest": v["digest"], "status": v["status"]} for k, v in rosters.items()],
            documents=[d.to_wire() for d in documents],
            contents={d.sha256: base64.b64encode(c[3]).decode()
                      for d, c in zip(documents, files, strict=True)},
            actor=who.actor())
        self.save(stats)
        return stats

    def statistics(self, who: Principal, township: str, month: str) -> MonthlyStatistics:
        self._check_township(who, township)
        return self.get(statistics_id(township, month), "statistics")

    def file_statistics(self, who: Principal, township: str, month: str) -> MonthlyStatistics:
        stats = self.statistics(who, township, month)
        stats.file(self.today(), self.rhythms().of_month(month).file_by(month), who.as_actor())
        self.save(stats)
        return stats

    def statistics_document(self, who: Principal, township: str, month: str,
                            document_kind: str) -> tuple[dict[str, Any], bytes]:
        stats = self.statistics(who, township, month)
        doc = next((d for d in stats.documents if d["document_kind"] == document_kind), None)
        if doc is None:
            raise NotFound("disbursement.not_found", f"no {document_kind} document")
        return doc, base64.b64decode(stats.contents[doc["sha256"]])

    def verify_document(self, content: bytes) -> dict[str, Any]:
        """Is this file exactly a sealed document, and does its seal verify?"""
        sha = sha256_hex(content)
        t = self.views.documents
        with self.read_session() as s:
            row = s.execute(select(t).where(t.c.sha256 == sha)).first()
        if row is None:
            return {"valid": False, "sha256": sha,
                    "reason": "no sealed document has this hash: altered, or never sealed"}
        doc = SealedDocument(**json.loads(row.document))
        verdict = seal_verdict(self.seals, row.sealed_by, row.subject, doc, row.sealed_at,
                               content)
        current = self.seals.trust_list().current(row.sealed_by, doc.algorithm)
        return {"valid": verdict.valid, "sha256": sha, "document_kind": doc.document_kind,
                "name": doc.name, "sealed_by": row.sealed_by, "month": row.subject,
                "sealed_at": row.sealed_at.isoformat(), "key_id": doc.key_id,
                "algorithm": doc.algorithm, "signer": verdict.owner_name,
                "key_is_current": current is not None and current.key_id == doc.key_id,
                "code": verdict.code, "reason": verdict.reason}

    # --- the county's fund plan ---------------------------------------------------------------

    def _filings(self, month: str) -> list[dict[str, Any]]:
        t = self.views.statistics
        with self.read_session() as s:
            rows = s.execute(select(t).where(t.c.month == month, t.c.status == "filed"))
            return [{"township": r.township, "figures": json.loads(r.figures),
                     "rows": json.loads(r.rows), "late": r.late,
                     "documents": [{k: d[k] for k in ("document_kind", "sha256", "signature",
                                                     "key_id", "public_key") if k in d}
                                   | {"algorithm": d.get("algorithm", "ed25519")}
                                   for d in json.loads(r.documents)]} for r in rows]

    def _held_rows(self, month: str) -> list[HeldRow]:
        r, rw, sp = self.views.rosters, self.views.rows, self.views.spot_results
        q = (select(r.c.township, r.c.kind, rw.c.key, rw.c.case_id, rw.c.amount_fen,
                    sp.c.spot_check_id, sp.c.finding)
             .join(r, r.c.roster_id == rw.c.roster_id)
             .join(sp, and_(sp.c.case_id == rw.c.case_id, sp.c.township == r.c.township))
             .where(r.c.month == month, sp.c.upheld.is_(False), sp.c.resolved.is_(False))
             .order_by(r.c.township, r.c.kind, rw.c.key))
        with self.read_session() as s:
            return [HeldRow(x.township, x.kind, x.key, x.case_id,
                            from_fen(x.amount_fen),
                            x.spot_check_id, x.finding) for x in s.execute(q)]

    def compile_fund_plan(self, who: Principal, month: str) -> FundPlan:
        parse_month(month)
        plan = compile_fund_plan(self._filings(month), self._held_rows(month),
                                 self.county.township_codes)
        # 一卡通: the subsidy projects in force on the month's first day ride with the plan.
        plan["subsidy_projects"] = self._projects(month).to_wire()
        pid = fund_plan_id(self.county.code, month)
        if self._exists(pid):
            existing: FundPlan = self.get(pid)
            existing.recompile(plan, who.as_actor())
        else:
            existing = FundPlan(region=self.county.code, month=month, plan=plan,
                                actor=who.actor())
        self.save(existing)
        return existing

    def fund_plan(self, who: Principal, month: str) -> FundPlan:
        parse_month(month)
        return self.get(fund_plan_id(self.county.code, month), "fund plan")

    def issue_fund_plan(self, who: Principal, month: str, reason: str | None) -> FundPlan:
        plan = self.fund_plan(who, month)
        content = plan_document(plan.region, month, plan.plan)
        doc = seal_document(self.seals, plan.region, month, "fund_plan_json",
                            f"资金发放计划-{plan.region}-{month}.json", "application/json",
                            content)
        plan.issue(doc, self.today(), reason, who.as_actor())
        self.save(plan)
        return plan

    def fund_plan_document(self, who: Principal, month: str) -> bytes:
        plan = self.fund_plan(who, month)
        if plan.document is None:
            raise NotFound("disbursement.not_found", "the plan is not issued yet")
        content = plan_document(plan.region, month, plan.plan)
        assert sha256_hex(content) == plan.document.sha256, "issued plan changed"
        return content

    def _projects(self, month: str) -> Any:
        return self.rules.subsidy_projects.in_force(date.fromisoformat(f"{month}-01"))

    def household_list(self, who: Principal, month: str) -> tuple[dict[str, Any], bytes]:
        """分户清单 of an issued plan: every payment it funds (what the bank paid, less
        rows held back by spot checks), with the project's metadata and the account, for
        the finance bureau's 一卡通 system. Recorded (hash, rows, total) as a disclosure."""
        plan = self.fund_plan(who, month)
        held = {(h["township"], h["kind"], h["key"]) for h in plan.plan["held_back"]}
        lines = []
        for t in plan.plan["townships"]:
            for kind in PAID_KINDS:
                rid = roster_id(t["township"], month, kind.value)
                if not self._exists(rid):
                    continue
                roster: MonthlyRoster = self.get(rid)
                carried_ids = [i for i, d in roster.discrepancies.items()
                               if d.get("resolution") == Resolution.CARRIED_FORWARD.value]
                unpaid = {r.key: a for r, a in carried_amounts(roster, carried_ids)}
                for x in self._export_rows(roster, village_names=False):
                    amount = x.amount - unpaid.get(x.reference, Decimal(0))
                    if amount <= 0 or (t["township"], kind.value, x.reference) in held:
                        continue
                    row = roster.rows[x.reference]
                    lines.append(HouseholdLine(t["township"], row.village, kind.value,
                                               row.household_id or row.case_id, row.name,
                                               x.account, amount, x.reference))
        projects = self._projects(month)
        content = household_list_csv(month, projects, lines)
        total = sum((ln.amount for ln in lines), Decimal("0.00"))
        sha = sha256_hex(content)
        plan.record_household_list(sha, len(lines), total, projects.version, who.as_actor())
        self.save(plan)
        return {"sha256": sha, "rows": len(lines), "total": str(total),
                "projects_version": projects.version}, content

    def acknowledge_fund_plan(self, who: Principal, month: str, receipt_reference: str,
                              note: str | None) -> FundPlan:
        plan = self.fund_plan(who, month)
        plan.acknowledge(receipt_reference, note, who.as_actor())
        self.save(plan)
        return plan

    # --- "explain the change" -------------------------------------------------------------

    def explain_changes(self, who: Principal, township: str, month: str) -> dict[str, Any]:
        """Every difference from last month's roster, with the events that caused it, and
        every correction after locking with its reason and who made it."""
        self._check_township(who, township)
        parse_month(month)
        kinds = []
        for kind in PAID_KINDS:
            rid = roster_id(township, month, kind.value)
            if not self._exists(rid):
                kinds.append({"kind": kind.value, "roster": None})
                continue
            roster: MonthlyRoster = self.get(rid)
            kinds.append({"kind": kind.value, "roster": str(rid),
                          "status": roster.status.value, "rows": len(roster.rows),
                          "total": str(roster.total), "changes": roster.changes,
                          "corrections": roster.corrections})
        return {"township": township, "month": month, "previous_month": add_months(month, -1),
                "kinds": kinds}


def caused_by(upstream: Upstream) -> Actor:
    """Who caused review's event: its actor, else review's system actor."""
    return Actor.of(upstream.actor or system_actor("review"))


def upstream_of(env: Envelope) -> Upstream:
    # Who caused it: shared/reactions.py's one rule, as for every reaction.
    return Upstream(event_id=str(env.event_id), type=env.type, position=env.position,
                    occurred_at=env.occurred_at.isoformat(), actor=actor_of(env))

