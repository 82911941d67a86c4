"""County supervision (县级监管, issue 11), archive's third job beside the consolidated
timeline and the household files: the townships' monthly filings (报备), statistics and
dynamic analysis, and the alerts supervisors act on.

`CountySupervision` is a component the `ArchiveApplication` owns, not an application of its
own: it saves through that application (archive stays one writer, one store, one unit of
work) and reads its read models. The rules are in supervision.py; this is the commands and
queries over them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from sqlalchemy import select

from services.archive.report_files import (
    KIND_LABELS,
    XLSX,
    Heading,
    figure_png,
    filing_xlsx,
    statistics_xlsx,
)
from services.archive.supervision import (
    FIGURES,
    KINDS,
    SUPERVISED_TYPES,
    AlertFinding,
    AlertKind,
    AlertRules,
    Figures,
    FilingBasis,
    MonthlyFiling,
    Population,
    Record,
    SealedDocument,
    SupervisionAlert,
    add_months,
    basis_digest,
    compile_activity,
    conflict_findings,
    cube,
    deadline_findings,
    filing_id_for,
    jsonable,
    last_day,
    month_of,
    months_from_to,
    outlier_findings,
    parse_month,
)
from shared.auth import Principal, Role
from shared.calendar import WorkingCalendar
from shared.clock import start_of_day
from shared.contracts.envelope import Actor
from shared.errors import Forbidden, RuleViolation
from shared.regions import County, UnknownRegion
from shared.seals import SealKeys

if TYPE_CHECKING:  # the application owns this component
    from services.archive.application import ArchiveApplication

# Statistics and alerts are the county's (the centre runs them, the bureau and the
# discipline inspectors read them); a township sees its own filing only.
SUPERVISORS = frozenset({Role.COUNTY_CENTRE, Role.COUNTY_BUREAU, Role.DISCIPLINE_INSPECTOR})
FILING_DOCUMENT_KIND = "monthly_filing_xlsx"
SYSTEM_SCANNER = Actor(user_id="archive-supervision-scan", role="system")


@dataclass(frozen=True)
class SupervisionSetup:
    """What county supervision needs besides the store: places, working days, the seal
    keys, and the county's settings."""

    county: County
    calendar: WorkingCalendar
    seals: SealKeys
    rules: AlertRules = field(default_factory=AlertRules)
    filing_due_working_days: int = 5  # after the month's end
    max_series_months: int = 36


class CountySupervision:
    """The county's commands and queries over the consolidated timeline. `app` is archive's
    one writer: every aggregate here is saved by it, in its unit of work."""

    def __init__(self, app: ArchiveApplication, setup: SupervisionSetup) -> None:
        self.app, self.setup = app, setup

    # --- scope, and the supervised part of the timeline ---------------------------------------

    def _township(self, township: str) -> str:
        try:
            return self.setup.county.township(township).name
        except UnknownRegion as e:
            raise RuleViolation("archive.unknown_township", str(e), field="township") from None

    def _supervisor(self, who: Principal) -> None:
        if who.role not in SUPERVISORS:
            raise Forbidden("auth.role", "statistics and alerts are for county supervisors",
                            field="role")

    def _records(self, s: Any, *, township: str | None = None,
                 until: datetime | None = None) -> list[Record]:
        """The supervised part of the timeline, optionally as it stood at `until`.

        A copy whose content does not match its own hash (edited after sealing) is left out:
        a chain alarm already names it, and no figure may rest on it.
        """
        t = self.app.views.envelopes
        q = select(t.c.source, t.c.position, t.c.township, t.c.case_id, t.c.household_id,
                   t.c.actor_user_id, t.c.actor_role, t.c.hash, t.c.body).where(
            t.c.type.in_(sorted(SUPERVISED_TYPES)), t.c.chain_status != "hash_mismatch")
        if township is not None:
            q = q.where(t.c.township == township)
        if until is not None:
            # SQLite keeps wall-clock time without its offset: a day's margin in SQL, the
            # exact cut on the parsed time below.
            q = q.where(t.c.occurred_at <= (until.astimezone(UTC) + timedelta(days=1))
                        .replace(tzinfo=None))
        out = []
        for row in s.execute(q):
            body = json.loads(row.body)
            at = datetime.fromisoformat(body["occurred_at"])
            if until is not None and at > until:
                continue
            out.append(Record(
                source=row.source, type=body["type"], position=int(row.position), at=at,
                township=row.township, case_id=row.case_id, household_id=row.household_id,
                actor_user=row.actor_user_id, actor_role=row.actor_role, data=body["data"],
                hash=row.hash, zone=self.app.settings.clock.zone))
        return out

    def end_of_day(self, day: date) -> datetime:
        """The last moment of a day in the county: what "as of <date>" means."""
        return start_of_day(day + timedelta(days=1), self.app.settings.clock.zone) - timedelta(
            microseconds=1)

    # --- the monthly filing (报备) -------------------------------------------------------------

    def _filing_scope(self, who: Principal, township: str) -> None:
        """A township's staff see their own filing; county roles see all."""
        self._township(township)
        if who.role in SUPERVISORS:
            return
        who.check_jurisdiction(township)

    def _compiled(self, township: str, month: str) -> tuple[dict[str, Any], FilingBasis]:
        with self.app.read_session() as s:
            records = self._records(s, township=township)
        activity = compile_activity(records, township, month)
        newest = max((r.at for r in records), default=None)
        return jsonable(activity), FilingBasis(
            envelopes=len(records), sha256=basis_digest(records),
            compiled_through=None if newest is None else str(newest))

    def compile_filing(self, who: Principal, township: str, month: str) -> MonthlyFiling:
        """Compile (or compile again) a township's filing of a month that has ended."""
        self._filing_scope(who, township)
        if self.app.today() <= last_day(month):
            raise RuleViolation("archive.filing_month_not_over",
                                f"{month} is not over; its filing is compiled afterwards",
                                field="month")
        activity, basis = self._compiled(township, month)
        try:
            filing: MonthlyFiling = self.app.repository.get(filing_id_for(township, month))
        except AggregateNotFoundError:
            due = self.setup.calendar.add_working_days(
                last_day(month), self.setup.filing_due_working_days)
            filing = MonthlyFiling.compile(township=township, month=month, due_on=due.due,
                                           due_provisional=due.provisional,
                                           activity=activity, basis=basis,
                                           actor=who.as_actor())
        else:
            filing.recompile(activity, basis, who.as_actor())
        self.app.save(filing)
        return filing

    def _filing(self, township: str, month: str) -> MonthlyFiling:
        filing: MonthlyFiling = self.app.get(filing_id_for(township, month), "monthly filing")
        return filing

    def _filing_heading(self, filing: MonthlyFiling) -> Heading:
        b = filing.compiled_from
        return Heading(
            county=self.setup.county.name, township=filing.township,
            township_name=self._township(filing.township),
            title=f"社会救助审核确认情况月度报备表 {filing.month}",
            lines=(f"乡镇代码 {filing.township}  月份 {filing.month}  报备截止 "
                   f"{filing.due_on.isoformat()}",
                   f"汇总版本 {filing.version}  依据事件 {b.envelopes} 条  "
                   f"sha256 {b.sha256}"))

    def submit_filing(self, who: Principal, township: str, month: str, reviewed_version: int,
                      note: str | None) -> MonthlyFiling:
        """报备: the township leader seals the filing they reviewed and submits it."""
        if who.role is not Role.TOWNSHIP_LEADER:
            raise Forbidden("auth.role", "the township leader submits the filing", field="role")
        self._filing_scope(who, township)
        filing = self._filing(township, month)
        filing.check_submittable(reviewed_version, self.app.today(), note)  # before sealing
        content = filing_xlsx(filing.activity, self._filing_heading(filing))
        seal = self.setup.seals.seal(township, month, FILING_DOCUMENT_KIND,
                                           content).to_wire()
        # Bytes first: if the event then fails to commit, an unnamed object is harmless.
        self.app.store.put(seal["sha256"], content, XLSX)
        filing.submit(reviewed_version, SealedDocument(sha256=seal["sha256"], media_type=XLSX,
                                                       size=len(content), seal=seal),
                      self.app.today(), note, who.as_actor())
        self.app.save(filing)
        return filing

    def receive_filing(self, who: Principal, township: str, month: str) -> MonthlyFiling:
        self._township(township)
        filing = self._filing(township, month)
        filing.receive(self.app.today(), who.as_actor())
        self.app.save(filing)
        return filing

    def query_filing(self, who: Principal, township: str, month: str,
                     question: str) -> tuple[MonthlyFiling, UUID]:
        self._township(township)
        filing = self._filing(township, month)
        query_id = filing.raise_query(question, who.as_actor())
        self.app.save(filing)
        return filing, query_id

    def answer_filing_query(self, who: Principal, township: str, month: str,
                            query_id: UUID, answer: str) -> MonthlyFiling:
        self._filing_scope(who, township)
        filing = self._filing(township, month)
        filing.answer_query(query_id, answer, who.as_actor())
        self.app.save(filing)
        return filing

    def _filing_view(self, f: MonthlyFiling) -> dict[str, Any]:
        sub = f.submission
        overdue = sub is None and self.app.today() > f.due_on
        return {
            "filing_id": str(f.id), "township": f.township,
            "township_name": self._township(f.township), "month": f.month,
            "status": f.status.value, "version": f.version, "due_on": f.due_on,
            "due_provisional": f.due_provisional,
            "late": bool(sub["late"]) if sub else overdue, "overdue": overdue,
            "basis": f.basis, "activity": f.activity,
            "submission": None if sub is None else {
                **{k: v for k, v in sub.items() if k != "document"},
                "document_sha256": sub["document"]["sha256"], "seal": sub["document"]["seal"]},
            "received_on": f.received_on,
            "queries": [{"query_id": k, **v} for k, v in f.queries.items()],
        }

    def filing(self, who: Principal, township: str, month: str) -> dict[str, Any]:
        self._filing_scope(who, township)
        return self._filing_view(self._filing(township, month))

    def filings(self, who: Principal, township: str | None, month: str | None,
                ) -> dict[str, Any]:
        """The register of filings, with every township's expected filing of `month` (late
        ones marked) when a month is named."""
        if township is not None:
            self._filing_scope(who, township)
        elif who.role not in SUPERVISORS:
            township = who.township or ""
            who.check_jurisdiction(township)
        f = self.app.views.filings
        q = select(f).order_by(f.c.month, f.c.township)
        if township:
            q = q.where(f.c.township == township)
        if month:
            q = q.where(f.c.month == month)
        with self.app.read_session() as s:
            rows = [dict(r._mapping) for r in s.execute(q)]
        today = self.app.today()
        for r in rows:
            r["totals"] = json.loads(r["totals"])
            r["township_name"] = self._township(r["township"])
            r["overdue"] = r["submitted_on"] is None and today > r["due_on"]
        missing: list[dict[str, Any]] = []
        if month:
            due = self.setup.calendar.add_working_days(
                last_day(month), self.setup.filing_due_working_days).due
            have = {r["township"] for r in rows}
            missing = [{"township": t, "township_name": self._township(t), "month": month,
                        "due_on": due, "status": "not_compiled", "overdue": today > due}
                       for t in ([township] if township else
                                 self.setup.county.township_codes) if t not in have]
        return {"items": rows, "not_compiled": missing}

    def filing_document(self, who: Principal, township: str,
                        month: str) -> tuple[bytes, str, dict[str, Any]]:
        """The sealed XLSX as submitted; before submission, a preview of the compilation."""
        self._filing_scope(who, township)
        filing = self._filing(township, month)
        doc = filing.sealed_document
        if doc is None:
            return filing_xlsx(filing.activity, self._filing_heading(filing)), "preview", {}
        content = self.app.store.get(doc.sha256)
        # An SM2 seal carries its own time; an Ed25519 one (older filings) is judged now.
        verdict = self.setup.seals.verify(doc.seal, subject=month, content=content,
                                          owner=township)
        return content, "sealed", {"seal_valid": verdict.valid, "seal_reason": verdict.reason,
                                   "sha256": doc.sha256}

    # --- statistics and dynamic analysis ------------------------------------------------------

    def _scope_of_statistics(self, who: Principal, township: str | None, kind: str | None,
                             first: str, last: str, as_of: date | None
                             ) -> tuple[list[str], date | None, Population]:
        self._supervisor(who)
        if township is not None:
            self._township(township)
        if kind is not None and kind not in KINDS:
            raise RuleViolation("archive.kind", f"kind is one of {', '.join(KINDS)}",
                                field="kind")
        months = months_from_to(first, last, self.setup.max_series_months)
        if as_of is not None and as_of > self.app.today():
            raise RuleViolation("archive.as_of_future", "as_of is a past date or today",
                                field="as_of")
        with self.app.read_session() as s:
            records = self._records(s, township=township,
                                    until=None if as_of is None else self.end_of_day(as_of))
        return months, as_of, Population.fold(records)

    def _working_days(self, start: date, end: date) -> int:
        return self.setup.calendar.working_days_between(start, end)

    def statistics(self, who: Principal, township: str | None, kind: str | None, first: str,
                   last: str, as_of: date | None) -> dict[str, Any]:
        months, as_of, population = self._scope_of_statistics(who, township, kind, first,
                                                               last, as_of)
        series = Figures(population, self._working_days, township, kind).series(months, as_of)
        return {"township": township, "kind": kind, "as_of": as_of, "figures": list(FIGURES),
                "series": jsonable(series)}

    def statistics_workbook(self, who: Principal, township: str | None, first: str,
                            last: str, as_of: date | None) -> bytes:
        months, as_of, population = self._scope_of_statistics(who, township, None, first,
                                                              last, as_of)
        county = self.setup.county
        townships = [township] if township else list(county.township_codes)
        result = cube(population, self._working_days, months, townships, as_of)
        names = {t: self._township(t) for t in townships}
        heading = Heading(
            county=county.name, township=township,
            township_name=names[township] if township else "全县",
            title=f"社会救助统计和动态分析 {months[0]}—{months[-1]}",
            lines=(f"统计截至 {as_of.isoformat() if as_of else self.app.today().isoformat()}"
                   f"{'' if as_of else ' (当前)'}; 由事件重算 (rebuilt from events)",))
        return statistics_xlsx(result, heading, names)

    def statistics_chart(self, who: Principal, figure: str, township: str | None,
                         kind: str | None, first: str, last: str, as_of: date | None) -> bytes:
        if figure not in FIGURES:
            raise RuleViolation("archive.figure", f"figure is one of {', '.join(FIGURES)}",
                                field="figure")
        result = self.statistics(who, township, kind, first, last, as_of)
        county = self.setup.county
        place = county.township(township).name if township else f"{county.name}全县"
        scope = f"{place} {KIND_LABELS.get(kind, kind)}"  # names a person reads, not codes
        return figure_png(result["series"], figure,
                          scope + (f"，截至 {as_of.isoformat()}" if as_of else ""))

    # --- alerts -------------------------------------------------------------------------------

    def scan_alerts(self, who: Principal | None, months: Sequence[str] | None = None,
                    ) -> list[SupervisionAlert]:
        """Look for what supervisors must see and raise each finding once, as an event.

        Deadlines are checked for the months given (default: the previous and the current
        month), outliers over the same months, conflicts of interest over the whole record.
        """
        if who is not None:
            self._supervisor(who)
        today = self.app.today()
        current = month_of(today)
        months = list(months or [add_months(current, -1), current])
        for m in months:
            parse_month(m)
        rules = self.setup.rules
        townships = list(self.setup.county.township_codes)
        with self.app.read_session() as s:
            records = self._records(s)
            f = self.app.views.filings
            filed = {(r.township, r.month): r for r in s.execute(
                select(f.c.township, f.c.month, f.c.submitted_on, f.c.due_on)
                .where(f.c.month.in_(months)))}
        findings: list[AlertFinding] = deadline_findings(records, townships, months, today,
                                                         rules)
        for m in months:
            due = self.setup.calendar.add_working_days(
                last_day(m), self.setup.filing_due_working_days).due
            for t in townships:
                row = filed.get((t, m))
                if today > due and (row is None or row.submitted_on is None
                                    or row.submitted_on > due):
                    findings.append(AlertFinding(
                        AlertKind.FILING_OVERDUE, f"{t}:{m}", t, m, None,
                        {"due_on": due.isoformat(),
                         "submitted_on": row.submitted_on.isoformat()
                         if row is not None and row.submitted_on else None}))
        population = Population.fold(records)
        rows = cube(population, self._working_days, months, townships)["rows"]
        findings += outlier_findings(rows, rules)
        findings += conflict_findings(records)
        actor = who.as_actor() if who is not None else SYSTEM_SCANNER
        raised = []
        for finding in findings:
            alert = SupervisionAlert.raise_(kind=finding.kind.value,
                                            subject=finding.subject,
                                            township=finding.township, month=finding.month,
                                            case_id=finding.case_id,
                                            detail=jsonable(finding.detail), actor=actor)
            try:
                self.app.repository.get(alert.id)
                continue  # raised before: an alert is raised once
            except AggregateNotFoundError:
                raised.append(alert)
        if raised:
            self.app.save(*raised)
        return raised

    def supervision_alerts(self, who: Principal, kind: str | None, township: str | None,
                           month: str | None, open_only: bool) -> dict[str, Any]:
        self._supervisor(who)
        a = self.app.views.alerts
        q = select(a).order_by(a.c.raised_at, a.c.alert_id)
        for column, value in ((a.c.kind, kind), (a.c.township, township), (a.c.month, month)):
            if value is not None:
                q = q.where(column == value)
        if open_only:
            q = q.where(a.c.acknowledged_at.is_(None))
        with self.app.read_session() as s:
            items = [{**dict(r._mapping), "detail": json.loads(r.detail)}
                     for r in s.execute(q)]
        return {"kind": kind, "total": len(items), "items": items}

    def acknowledge_supervision_alert(self, who: Principal, alert_id: UUID,
                                      reason: str) -> SupervisionAlert:
        self._supervisor(who)
        alert: SupervisionAlert = self.app.get(alert_id, "supervision alert")
        alert.acknowledge(reason, who.as_actor())
        self.app.save(alert)
        return alert
