"""A generated month of county activity for supervision tests.

`World` draws case scripts from a seeded random source (what really happened: who applied,
when it was accepted and decided, amounts, objections, spot checks…), emits them as the
relays would publish them (valid chains, via `Streams`), and computes the expected figures
straight from the scripts, with `chinese_calendar` for working days: an oracle that shares
nothing with the fold under test.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import chinese_calendar

from services.archive.supervision import Record
from shared.contracts import Actor, Envelope
from tests.support.archive import Streams
from tests.support.places import GUANGPO, SANCAI, YELIN

TOWNSHIPS = (YELIN, GUANGPO, SANCAI)
CHINA = timezone(timedelta(hours=8))


def at(day: date, hour: int = 10) -> datetime:
    """`hour` o'clock in Lingshui on `day`, as the UTC instant a relay would stamp."""
    return datetime.combine(day, time(hour), CHINA).astimezone(UTC)


def month(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def next_month(m: str) -> str:
    y, mo = int(m[:4]), int(m[5:])
    return f"{y + mo // 12:04d}-{mo % 12 + 1:02d}"


def working_days(start: date, end: date) -> int:
    return 0 if end <= start else len(chinese_calendar.get_workdays(start + timedelta(1), end))


@dataclass
class Script:
    township: str
    kind: str
    village: str
    household: str
    size: int
    amount: Decimal
    accepted_on: date
    decision_due: date
    decided_on: date | None = None
    confirmed: bool = False
    close_relative: bool = False
    withdrawn_on: date | None = None
    notice: dict[str, Any] | None = None  # closed_on, objections [(filed_on, upheld)]
    spot: bool | None = None  # checked in March: upheld?
    changes: list[tuple[str, str, Decimal]] = field(default_factory=list)  # month, change, amt
    start_month: str | None = None
    application: UUID = field(default_factory=uuid4)
    case: UUID = field(default_factory=uuid4)
    entitlement: UUID = field(default_factory=uuid4)


class World:
    def __init__(self, seed: int = 11, per_township: int = 14) -> None:
        rnd = random.Random(seed)
        self.scripts: list[Script] = []
        n = 0
        for t in TOWNSHIPS:
            village = t + "201"
            # Households already paid since January (decided in December).
            for i in range(5):
                n += 1
                s = Script(t, "dibao" if i % 2 == 0 else "tekun", village, f"HH-{n}",
                           rnd.randint(1, 5), Decimal(rnd.randint(20000, 90000)) / 100,
                           date(2024, 12, 2), date(2024, 12, 30), date(2024, 12, 20), True)
                s.start_month = "2025-01"
                self.scripts.append(s)
            old = self.scripts[-5:]
            old[0].changes.append(("2025-03", "decrease", old[0].amount - 50))
            old[1].changes.append(("2025-03", "terminate", Decimal(0)))  # exits in March
            old[2].changes.append(("2025-04", "suspend", Decimal(0)))  # exits in April
            # This period's applications, accepted in February and March.
            for _ in range(per_township):
                n += 1
                kind = rnd.choice(["dibao", "dibao", "tekun", "linshi", "dibao_edge"])
                accepted = date(2025, 2, 3) + timedelta(days=rnd.randint(0, 48))
                s = Script(t, kind, village, f"HH-{n}", rnd.randint(1, 5),
                           Decimal(rnd.randint(10000, 90000)) / 100, accepted,
                           accepted + timedelta(days=rnd.randint(18, 34)),
                           close_relative=rnd.random() < 0.2)
                decided = accepted + timedelta(days=rnd.randint(10, 40))
                if rnd.random() < 0.1:
                    s.withdrawn_on = accepted + timedelta(days=2)
                elif decided <= date(2025, 3, 31):
                    s.decided_on, s.confirmed = decided, rnd.random() < 0.75
                    if kind != "linshi":
                        objections = [(decided - timedelta(days=3), rnd.random() < 0.5)
                                      for _ in range(rnd.choice([0, 0, 0, 1, 2]))]
                        s.notice = {"opened_on": decided - timedelta(days=9),
                                    "closed_on": decided - timedelta(days=1),
                                    "objections": objections}
                    if s.confirmed and kind in ("dibao", "tekun"):
                        s.start_month = next_month(month(decided))
                    if s.confirmed and decided.month == 3:
                        s.spot = rnd.random() < 0.7
                self.scripts.append(s)

    # --- the events ----------------------------------------------------------------------

    def envelopes(self) -> list[Envelope]:
        st = Streams()
        out: list[tuple[datetime, Envelope]] = []

        def emit(source: str, type_: str, agg: UUID, data: dict[str, Any], when: datetime,
                 s: Script, role: str = "township_clerk", case: UUID | None = None) -> None:
            env = st.emit(source, type_, agg, data, at=when,
                          who=Actor(user_id=f"{role}-{s.township}", role=role,
                                    township=s.township),
                          case_id=str(case or s.case), township=s.township,
                          household_id=s.household)
            out.append((when, env))

        for s in sorted(self.scripts, key=lambda s: s.accepted_on):
            base = {"kind": s.kind, "township": s.township, "village": s.village}
            emit("intake", "application_submitted", s.application, {
                "application_id": str(s.application), **base, "household_size": s.size,
                "close_relative_declared": s.close_relative,
                "filed_on": s.accepted_on.isoformat()}, at(s.accepted_on, 9), s,
                case=s.application)
            emit("intake", "application_accepted", s.application, {
                "application_id": str(s.application), **base,
                "accepted_on": s.accepted_on.isoformat(), "applicant_name": "某某",
                "members": [], "close_relative_declared": s.close_relative,
                "household_id": s.household}, at(s.accepted_on, 10), s, case=s.application)
            emit("review", "case_opened", s.case, {
                "case_id": str(s.case), "application_id": str(s.application), **base,
                "accepted_on": s.accepted_on.isoformat(),
                "investigation_due": (s.accepted_on + timedelta(days=4)).isoformat(),
                "decision_due": s.decision_due.isoformat(), "deadlines_provisional": False,
                "close_relative_declared": s.close_relative}, at(s.accepted_on, 11), s)
            if s.withdrawn_on:
                emit("intake", "application_withdrawn", s.application, {
                    "application_id": str(s.application), **base,
                    "withdrawn_on": s.withdrawn_on.isoformat(), "reason": "搬离",
                    "was_accepted": True, "case_id": str(s.case)}, at(s.withdrawn_on), s,
                    case=s.application)
            if s.decided_on is None:
                continue
            notice = uuid4()
            if s.notice:
                emit("review", "opinion_issued", s.case, {
                    "case_id": str(s.case), "application_id": str(s.application), **base,
                    "household_id": s.household, "round": 1, "approve": s.confirmed,
                    "monthly_amount": str(s.amount), "reasons": ["核实"],
                    "applicant_name": "某某", "household_size": s.size,
                    "close_relative_declared": s.close_relative},
                    at(s.notice["opened_on"], 9), s, role="township_leader")
                emit("publicity", "notice_opened", notice, {
                    "notice_id": str(notice), "case_id": str(s.case), "subject": "opinion",
                    "round": 1, "township": s.township, "village": s.village,
                    "starts_on": s.notice["opened_on"].isoformat(),
                    "ends_on": s.notice["closed_on"].isoformat()}, at(s.notice["opened_on"]), s)
                for filed_on, upheld in s.notice["objections"]:
                    objection = uuid4()
                    emit("publicity", "objection_filed", notice, {
                        "notice_id": str(notice), "case_id": str(s.case),
                        "objection_id": str(objection), "township": s.township},
                        at(filed_on, 9), s)
                    emit("publicity", "objection_resolved", notice, {
                        "notice_id": str(notice), "case_id": str(s.case),
                        "objection_id": str(objection), "township": s.township,
                        "upheld": upheld, "finding": "复核"}, at(filed_on, 15), s)
                emit("publicity", "notice_closed", notice, {
                    "notice_id": str(notice), "case_id": str(s.case), "subject": "opinion",
                    "round": 1, "township": s.township, "village": s.village,
                    "outcome": "clean", "closed_on": s.notice["closed_on"].isoformat()},
                    at(s.notice["closed_on"], 18), s)
            else:
                emit("review", "opinion_issued", s.case, {
                    "case_id": str(s.case), "application_id": str(s.application), **base,
                    "household_id": s.household, "round": 1, "approve": s.confirmed,
                    "monthly_amount": str(s.amount), "reasons": ["核实"],
                    "applicant_name": "某某", "household_size": s.size,
                    "publicity_required": s.kind != "linshi"},
                    at(s.decided_on, 8), s, role="township_leader")
            decided = {"case_id": str(s.case), "application_id": str(s.application), **base,
                       "decided_on": s.decided_on.isoformat()}
            if s.confirmed:
                extra: dict[str, Any] = {"monthly_amount": str(s.amount)}
                if s.kind == "dibao_edge":
                    extra["valid_until"] = (s.decided_on + timedelta(days=365)).isoformat()
                emit("review", "case_confirmed", s.case, {**decided, **extra},
                     at(s.decided_on, 16), s, role="township_leader")
            else:
                emit("review", "case_rejected", s.case, {**decided, "reasons": ["收入超标"]},
                     at(s.decided_on, 16), s, role="township_leader")
            if s.start_month:
                emit("review", "entitlement_started", s.entitlement, {
                    "entitlement_id": str(s.entitlement), "case_id": str(s.case),
                    "household_id": s.household, **base, "urban": False,
                    "applicant_name": "某某", "household_size": s.size,
                    "monthly_amount": str(s.amount), "breakdown": {},
                    "start_month": s.start_month, "policy_version": 1},
                    at(s.decided_on, 17), s, role="township_leader")
                for m, change, amount in s.changes:
                    on = date(int(m[:4]), int(m[5:]), 1) - timedelta(days=12)
                    emit("review", "entitlement_changed", s.entitlement, {
                        "entitlement_id": str(s.entitlement), "case_id": str(s.case), **base,
                        "change": change, "monthly_amount": str(amount),
                        "household_size": s.size, "effective_month": m,
                        "reasons": ["复查"]}, at(on), s, role="township_leader")
            if s.kind == "linshi" and s.confirmed:
                payment = uuid4()
                emit("review", "temporary_payment_approved", payment, {
                    "payment_id": str(payment), "case_id": str(s.case),
                    "household_id": s.household, "township": s.township,
                    "village": s.village, "urban": False, "applicant_name": "某某",
                    "household_size": s.size, "amount": str(s.amount),
                    "month": month(s.decided_on), "advance": s.notice is None},
                    at(s.decided_on, 17), s)
        for t in TOWNSHIPS:
            checked = [s for s in self.scripts if s.township == t and s.spot is not None]
            if checked:
                check = uuid4()
                emit("review", "spot_check_completed", check, {
                    "spot_check_id": str(check), "township": t, "month": "2025-03",
                    "results": [{"case_id": str(s.case), "upheld": s.spot,
                                 "finding": None if s.spot else "收入漏报"} for s in checked]},
                    at(date(2025, 3, 31)), checked[0], role="county_centre", case=check)
        # In each stream's order, as the relays publish and the archive consumes them.
        return sorted((e for _, e in out), key=lambda e: (e.source, e.position))

    # --- the oracle ----------------------------------------------------------------------

    def _in(self, s: Script, township: str | None, kind: str | None) -> bool:
        return township in (None, s.township) and kind in (None, s.kind)

    def caseload(self, m: str, township: str | None, kind: str | None,
                 seen_by: date | None = None) -> dict[str, tuple[int, Decimal]]:
        out: dict[str, tuple[int, Decimal]] = {}
        for s in self.scripts:
            if not self._in(s, township, kind) or s.decided_on is None or not s.confirmed:
                continue
            if seen_by is not None and s.decided_on > seen_by:
                continue
            if s.start_month and s.start_month <= m:
                amount = s.amount
                for cm, _, camount in s.changes:
                    change_seen = date(int(cm[:4]), int(cm[5:]), 1) - timedelta(days=12)
                    if cm <= m and (seen_by is None or change_seen <= seen_by):
                        amount = camount
                if amount > 0:
                    out[f"{s.kind}:{s.household}"] = (s.size, amount)
            elif s.kind == "linshi" and month(s.decided_on) == m:
                out[f"linshi:{s.household}"] = (s.size, s.amount)
            elif s.kind == "dibao_edge" and month(s.decided_on) <= m:
                out[f"dibao_edge:{s.household}"] = (s.size, Decimal(0))
        return out

    def expected(self, m: str, township: str | None = None, kind: str | None = None,
                 as_of: date | None = None) -> dict[str, Any]:
        first = date(int(m[:4]), int(m[5:]), 1)
        last = date.fromisoformat(f"{next_month(m)}-01") - timedelta(days=1)
        ref = last if as_of is None else min(last, as_of)

        def seen(d: date | None) -> bool:
            return d is not None and (as_of is None or d <= as_of)

        load = self.caseload(m, township, kind, as_of)
        prev = self.caseload(f"{m[:5]}{int(m[5:]) - 1:02d}", township, kind, as_of)
        scope = [s for s in self.scripts if self._in(s, township, kind)]
        decided = [s for s in scope if seen(s.decided_on) and first <= s.decided_on <= last]
        speeds = sorted(working_days(s.accepted_on, s.decided_on) for s in decided)
        closed = [s for s in scope if s.notice and seen(s.notice["closed_on"])
                  and first <= s.notice["closed_on"] <= last]
        resolved = [u for s in scope if s.notice for on, u in s.notice["objections"]
                    if seen(on) and first <= on <= last]
        spot = [s.spot for s in scope if s.spot is not None and m == "2025-03"
                and (as_of is None or as_of >= date(2025, 3, 31))]
        related = [s for s in scope if s.close_relative and s.accepted_on <= ref]
        amount = sum((a for _, a in load.values()), Decimal(0))
        return {
            "households": len(load), "persons": sum(n for n, _ in load.values()),
            "amount": amount, "entries": len(load.keys() - prev.keys()),
            "exits": len(prev.keys() - load.keys()), "decided": len(decided),
            "confirmed": sum(s.confirmed for s in decided),
            "speed_avg": (Decimal(sum(speeds)) / len(speeds)).quantize(Decimal("0.1"))
            if speeds else None,
            # nearest rank, written out: the ceil(0.9 n)-th smallest
            "speed_p90": speeds[-(-9 * len(speeds) // 10) - 1] if speeds else None,
            "decided_late": sum(1 for s in decided if s.decided_on > s.decision_due),
            "open_overdue": sum(1 for s in scope if s.decision_due < ref
                                and s.accepted_on <= ref
                                and not (seen(s.decided_on) and s.decided_on <= ref)
                                and not (s.withdrawn_on and s.withdrawn_on <= ref)),
            "notices_closed": len(closed),
            "notices_with_objection": sum(1 for s in closed if s.notice["objections"]),
            "objections_resolved": len(resolved), "objections_upheld": sum(resolved),
            "spot_checked": len(spot), "spot_errors": spot.count(False),
            "close_relative_confirmed": sum(1 for s in decided if s.close_relative
                                            and s.confirmed),
            "close_relative_rejected": sum(1 for s in decided if s.close_relative
                                           and not s.confirmed),
            "close_relative_pending": sum(
                1 for s in related if not (seen(s.decided_on) and s.decided_on <= ref)
                and not (s.withdrawn_on and s.withdrawn_on <= ref)),
        }


def record_of(env: Envelope) -> Record:
    """An envelope as the application hands it to supervision."""
    return Record(source=env.source, type=env.type, position=env.position,
                  at=env.occurred_at, township=env.township or env.data.get("township"),
                  case_id=env.case_id, household_id=env.household_id,
                  actor_user=env.actor.user_id if env.actor else None,
                  actor_role=env.actor.role if env.actor else None, data=env.data,
                  hash=env.hash)


def comparable(figures: dict[str, Any]) -> dict[str, Any]:
    """The computed figures under the oracle's names."""
    keys = ("households", "persons", "amount", "entries", "exits", "decided", "confirmed",
            "decided_late", "open_overdue", "notices_closed", "notices_with_objection",
            "objections_resolved", "objections_upheld", "spot_checked", "spot_errors",
            "close_relative_confirmed", "close_relative_rejected", "close_relative_pending")
    out = {k: figures[k] for k in keys}
    out["amount"] = Decimal(str(out["amount"]))
    out["speed_avg"] = (None if figures["speed_avg_working_days"] is None
                        else Decimal(str(figures["speed_avg_working_days"])))
    out["speed_p90"] = figures["speed_p90_working_days"]
    return out
