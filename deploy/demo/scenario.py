"""A month in Lingshui, played through the gateway's HTTP API only.

Every step is taken with the token of the role that takes it in real life: the village
assistant files, the township clerk accepts and runs the investigation, a contractor
visits some households, the county centre reports the economic-status verification, the
township's joint-review group reviews, the public objects, the leader confirms, the
county bureau issues the fund plan, the finance bureau acknowledges it, the discipline
inspector reads the audit timeline.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from deploy.demo.households import Household, in_words, panel
from shared.auth import Role, TokenIssuer
from shared.clock import CHINA, MonthlyRhythm, SystemClock, add_months, month_of, today
from shared.contracts.common import KIND_LABELS  # the summary shows these, not the codes

CONTRACTOR_ORG = "hn-survey"  # the contractor bought by the government (政府购买服务)
PAID_KINDS = ("dibao", "tekun", "linshi")
XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
REPORT = {"bank": "一个储蓄账户，余额与申报一致", "tax": "无纳税记录",
          "real_estate": "农村自建房一处", "vehicles": "无", "social_insurance": "城乡居民养老保险",
          "business_registration": "无", "conclusion": "核对结果与申报一致"}


def china_today() -> date:
    """The county's business date on the real clock (the demo's stacks start from it)."""
    return today(SystemClock(CHINA))


class DemoError(RuntimeError):
    pass


def payable_months(decided_on: date, rhythm: MonthlyRhythm, one_off: bool = True) -> list[str]:
    """The rosters a day's decisions reach, by the services' own rule (shared.clock):
    monthly benefits start the month after the decision; a one-off payment (`one_off`: the
    day decided some) is paid from the first roster its decision day still reaches. No
    roster is drafted that the day's decisions cannot reach."""
    nxt = add_months(month_of(decided_on), 1)
    return sorted({rhythm.first_payable_month(decided_on) if one_off else nxt, nxt})


def last_cut_month(on: date, rhythm: MonthlyRhythm) -> str:
    """The latest month whose roster cut-off has passed (the one a clerk can draft on `on`)."""
    month = month_of(on)
    return month if on >= rhythm.cutoff(month) else add_months(month, -1)


class Progress:
    """One line per phase: `phase  [#####.....] n/N` (a bar on a terminal)."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet, self.tty = quiet, sys.stdout.isatty()

    def __call__(self, phase: str, items: list[Any], step: Callable[[Any], None]) -> None:
        total = len(items)
        started = time.monotonic()
        for n, item in enumerate(items, 1):
            step(item)
            if self.tty and not self.quiet:
                bar = "#" * (n * 30 // max(total, 1))
                print(f"\r  {phase:<22} [{bar:<30}] {n}/{total}", end="", flush=True)
        if not self.quiet:
            bar = "#" * 30
            print(f"\r  {phase:<22} [{bar}] {total}/{total}  {time.monotonic() - started:5.1f}s",
                  flush=True)

    def note(self, text: str) -> None:
        if not self.quiet:
            print(f"    {text}", flush=True)


_SURNAMES = "王李张刘陈杨黄吴林符"
_GIVEN = ("建华", "秀英", "海燕", "志强", "丽娟", "国平", "春梅", "文斌", "玉兰", "明辉")


def official_name(user_id: str) -> str:
    """A demo official's name (the token's name claim), the same for the same user: what
    documents show as 编制 and 签章人 instead of a user id."""
    n = int(hashlib.sha256(user_id.encode()).hexdigest(), 16)
    return _SURNAMES[n % len(_SURNAMES)] + _GIVEN[(n // 10) % len(_GIVEN)]


class Tokens:
    """Bearer tokens minted with the stack's development key, one per role and place."""

    def __init__(self, issuer: TokenIssuer) -> None:
        self.issuer = issuer
        self._cache: dict[tuple[Any, ...], dict[str, str]] = {}

    def __call__(self, role: Role, township: str | None = None, village: str | None = None,
                 org: str | None = None) -> dict[str, str]:
        key = (role, township, village, org)
        if key not in self._cache:
            uid = f"demo-{role.value}" + (f"-{village or township}" if township else "")
            self._cache[key] = {"authorization": "Bearer " + self.issuer.mint(
                uid, role, township, village, org=org, name=official_name(uid))}
        return self._cache[key]


class Gateway:
    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url + "/api", timeout=timeout)

    def call(self, method: str, path: str, headers: dict[str, str] | None = None, *,
             expect: Iterable[int] = (200, 201), **kwargs: Any) -> httpx.Response:
        r = self.http.request(method, path, headers=headers, **kwargs)
        if r.status_code not in set(expect):
            raise DemoError(f"{method} {path} → {r.status_code}: {r.text[:500]}")
        return r

    def get(self, path: str, headers: dict[str, str] | None = None, **kw: Any) -> Any:
        return self.call("GET", path, headers, **kw).json()

    def post(self, path: str, headers: dict[str, str] | None = None, body: Any = None,
             **kw: Any) -> Any:
        r = self.call("POST", path, headers, json=body, **kw)
        return r.json() if r.content else None

    def once(self, path: str, headers: dict[str, str], body: Any = None,
             done_codes: Iterable[str] = ()) -> Any | None:
        """A month-end step that may already have been taken on this stack (a second run in
        the same month): None when the service says so with one of `done_codes`."""
        r = self.call("POST", path, headers, json=body, expect=(200, 201, 422))
        if r.status_code == 422:
            if r.json().get("code") in set(done_codes):
                return None
            raise DemoError(f"POST {path} → 422: {r.text[:500]}")
        return r.json()

    def close(self) -> None:
        self.http.close()


@dataclass
class CaseRecord:
    household: Household
    application_id: str = ""
    case_id: str = ""
    outcome: str = "open"
    amount: Decimal | None = None
    entitlement_id: str | None = None
    notes: list[str] = field(default_factory=list)
    decided_on: date | None = None


@dataclass
class MonthEnd:
    decided_on: date  # the day whose decisions these rosters pay
    on: date  # the cut-off day the rosters were cut
    months: list[str]


@dataclass
class Outcome:
    """What the month produced, as the services report it."""

    records: list[CaseRecord]
    month_ends: list[MonthEnd] = field(default_factory=list)
    rosters: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    entitlements: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    temporary: dict[str, Decimal] = field(default_factory=dict)
    public_roster: dict[str, Decimal] = field(default_factory=dict)
    overdue: list[dict[str, Any]] = field(default_factory=list)
    due_soon: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[Path] = field(default_factory=list)
    spot_checks: list[dict[str, Any]] = field(default_factory=list)
    fund_plans: dict[str, dict[str, Any]] = field(default_factory=dict)
    acknowledged: dict[str, bool] = field(default_factory=dict)
    audit_case: str = ""
    audit_events: int = 0
    audit_sources: list[str] = field(default_factory=list)


class Scenario:
    def __init__(self, gateway: Gateway, tokens: Tokens, households: list[Household],
                 out_dir: Path, nats_url: str | None = None, progress: Progress | None = None,
                 wait_s: float = 180.0, move_clock: Callable[[date], None] | None = None,
                 nats_nkey_seed: Path | None = None) -> None:
        self.gw, self.t, self.households = gateway, tokens, households
        self.nats_nkey_seed = nats_nkey_seed  # the finance bureau's NKey user
        self.out_dir, self.nats_url = out_dir, nats_url
        self.progress = progress or Progress()
        self.wait_s = wait_s
        self.move_clock = move_clock  # restarts the stack with its clock on a later day
        self.records = [CaseRecord(h) for h in households]
        self.townships = sorted({h.township for h in households})
        self.today = china_today()
        self.objections: dict[str, tuple[str, str]] = {}  # case → (notice, objection)

    # --- helpers -------------------------------------------------------------------------

    def clerk(self, t: str) -> dict[str, str]:
        return self.t(Role.TOWNSHIP_CLERK, t)

    def leader(self, t: str) -> dict[str, str]:
        return self.t(Role.TOWNSHIP_LEADER, t)

    def reviewer(self, t: str) -> dict[str, str]:
        return self.t(Role.TOWNSHIP_REVIEWER, t)

    def investigator(self, h: Household) -> dict[str, str]:
        if h.contractor:
            return self.t(Role.CONTRACTOR_INVESTIGATOR, h.township, org=CONTRACTOR_ORG)
        return self.clerk(h.township)

    def case(self, rec: CaseRecord) -> dict[str, Any]:
        return self.gw.get(f"/review/cases/{rec.case_id}", self.leader(rec.household.township))

    def wait_for(self, what: str, records: list[CaseRecord],
                 done: Callable[[CaseRecord], bool]) -> None:
        """Polls until `done` holds for every record (messages cross NATS meanwhile)."""
        deadline = time.monotonic() + self.wait_s
        pending = list(records)
        while pending:
            pending = [r for r in pending if not done(r)]
            if not pending:
                return
            if time.monotonic() > deadline:
                raise DemoError(f"{what}: {len(pending)} case(s) still waiting after "
                                f"{self.wait_s:.0f}s, e.g. {pending[0].household.key} "
                                f"{pending[0].case_id or pending[0].application_id}")
            time.sleep(0.3)

    def wait_quiet(self, what: str) -> None:
        """Until every service reports itself caught up (GET /ops/backlog, the operator's
        view) twice in a row: nothing unpublished, nothing unconsumed."""
        centre = self.t(Role.COUNTY_CENTRE)
        services = ("intake", "review", "publicity", "disbursement", "archive")
        deadline = time.monotonic() + self.wait_s
        quiet = 0
        while quiet < 2:
            behind = [s for s in services
                      if not self.gw.get(f"/{s}/ops/backlog", centre)["caught_up"]]
            quiet = 0 if behind else quiet + 1
            if behind and time.monotonic() > deadline:
                raise DemoError(f"{what}: {', '.join(behind)} still behind after "
                                f"{self.wait_s:.0f}s")
            time.sleep(0.3)

    def status_in(self, *statuses: str) -> Callable[[CaseRecord], bool]:
        return lambda r: self.case(r)["status"] in statuses

    # --- the month -----------------------------------------------------------------------

    def run(self) -> Outcome:
        out = Outcome(self.records)
        earlier = [r for r in self.records if r.household.last_month]
        if self.move_clock is not None and earlier:
            # Last month: the caseload already on the books when this month starts, paid
            # from the roster cut at its cut-off.
            self.progress.note(f"last month, {self.today}: {len(earlier)} households whose "
                               "entitlements this month rechecks")
            self.play(earlier)
            self.month_end(out, find_error=False)
            day = self.today + timedelta(days=1)
            self.progress.note(f"this month, from {day} (the day after the cut-off)")
            self.move_clock(day)
            self.today = day
            self.wait_quiet("after the clock moved")
            self.play([r for r in self.records if not r.household.last_month])
            self.dynamic_management(earlier)
        else:
            self.play(self.records)
            self.dynamic_management(self.records)
        self.month_end(out, find_error=True)
        self.read_back(out)
        return out

    def play(self, records: list[CaseRecord]) -> None:
        """Filing to confirmation for these households, on today's date."""
        p = self.progress
        p("filing (村)", records, self.file)
        p("acceptance (受理)", records, self.accept)
        self.wait_for("review opens the cases", records, self.case_opened)
        p("cases opened", records, lambda r: None)
        advance = [r for r in records if r.household.advance]
        full = [r for r in records if not r.household.advance]
        p("先行救助 (help first)", advance, self.help_first)
        p("investigation (调查)", full, self.investigate)
        p("verification (核对)", full, self.verify)
        p("joint review (联审)", full, self.joint_review)
        approved = [r for r in full if r.household.eligible]
        self.wait_for("notices posted", approved,
                      self.status_in("in_publicity", "publicized", "reinvestigating"))
        objected = [r for r in approved if r.household.objection]
        p("objections (异议)", objected, self.object)
        p("objection findings", objected, self.resolve_objection)
        self.wait_for("publicity windows close", approved,
                      self.status_in("publicized", "reinvestigating"))
        again = [r for r in approved if self.case(r)["status"] == "reinvestigating"]
        p("re-investigation", again, self.reinvestigate)
        self.wait_for("second publicity closes", again, self.status_in("publicized"))
        p("confirmation (确认)", full, self.decide)
        p("advance records", advance, self.complete_advance)
        for rec in records:
            rec.decided_on = self.today

    # --- filing and acceptance --------------------------------------------------------------

    def assistant(self, h: Household) -> tuple[dict[str, str], str]:
        name = f"协管员{in_words(h.village[-3:])}"
        return self.t(Role.VILLAGE_ASSISTANT, h.township, h.village), name

    def file(self, rec: CaseRecord) -> None:
        h = rec.household
        headers, name = self.assistant(h)
        r = self.gw.post("/intake/applications", headers, h.submission(self.today, name),
                         expect=(201,))
        rec.application_id = r["application_id"]

    def accept(self, rec: CaseRecord) -> None:
        h = rec.household
        path = f"/intake/applications/{rec.application_id}"
        if h.returned_first:
            r = self.gw.post(path + "/return", self.clerk(h.township),
                             {"items": [], "note": "请补齐后重新提交（一次性告知）"})
            rec.notes.append("returned: " + ", ".join(m["code"] for m in r["missing"]))
            headers, name = self.assistant(h)
            self.gw.post(path + "/resubmit", headers, h.filing(self.today, name))
        self.gw.post(path + "/accept", self.clerk(h.township))

    def case_opened(self, rec: CaseRecord) -> bool:
        r = self.gw.call("GET", f"/review/cases/by-application/{rec.application_id}",
                         self.leader(rec.household.township), expect=(200, 404))
        if r.status_code == 200:
            rec.case_id = r.json()["case_id"]
            return True
        return False

    # --- investigation, verification, review ---------------------------------------------------

    def assign(self, rec: CaseRecord) -> None:
        h = rec.household
        body: dict[str, Any] = ({"contractor": CONTRACTOR_ORG} if h.contractor else
                                {"investigators": self.team(h.township)})
        self.gw.post(f"/review/cases/{rec.case_id}/investigation/assign",
                     self.clerk(h.township), body)

    def team(self, township: str) -> list[dict[str, str]]:
        t = township[-3:]
        return [{"user_id": f"inv-{t}-1", "name": f"调查员甲{t}"},
                {"user_id": f"inv-{t}-2", "name": f"调查员乙{t}"}]

    def visit(self, rec: CaseRecord, findings: dict[str, Any] | None = None) -> None:
        h = rec.household
        names = ([f"{CONTRACTOR_ORG}调查员1", f"{CONTRACTOR_ORG}调查员2"] if h.contractor
                 else [i["name"] for i in self.team(h.township)])
        present = [p.name for p in h.members[:2]]
        body = {"visited_on": self.today.isoformat(), "investigators": names,
                "members_present": present, "signed_by": names + present[:1],
                "notes": "入户调查：住房、家庭成员及收入情况与申报核对", **(findings or {})}
        self.gw.post(f"/review/cases/{rec.case_id}/investigation/visits",
                     self.investigator(h), body)

    def help_first(self, rec: CaseRecord) -> None:
        h = rec.household
        r = self.gw.post(f"/review/cases/{rec.case_id}/advance", self.leader(h.township),
                         {"band": h.band, "instalments": 1,
                          "reason": "急难型临时救助：房屋火灾，先行救助"})
        rec.outcome, rec.amount = "confirmed", Decimal(r["payments"][0]["amount"])
        rec.notes.append("先行救助")

    def complete_advance(self, rec: CaseRecord) -> None:
        self.assign(rec)
        self.visit(rec)
        self.gw.post(f"/review/cases/{rec.case_id}/advance/complete",
                     self.clerk(rec.household.township),
                     {"note": "补齐材料与签字：申请书、授权书、入户调查表"})

    def investigate(self, rec: CaseRecord) -> None:
        h = rec.household
        self.assign(rec)
        self.visit(rec)
        if h.interview:
            self.gw.post(f"/review/cases/{rec.case_id}/investigation/interviews",
                         self.investigator(h),
                         {"method": "neighbour", "held_on": self.today.isoformat(),
                          "with_whom": "邻居" + h.members[0].name[0] + "某",
                          "summary": "邻里反映家庭生活困难，与申报情况相符"})

    def verify(self, rec: CaseRecord) -> None:
        t = rec.household.township
        self.gw.post(f"/review/cases/{rec.case_id}/verification/request", self.clerk(t))
        self.gw.post(f"/review/cases/{rec.case_id}/verification/report",
                     self.t(Role.COUNTY_CENTRE), REPORT)

    def joint_review(self, rec: CaseRecord) -> None:
        h = rec.household
        verdict = "approve" if h.eligible else "reject"
        members = []
        for m in panel(h.township):
            related = bool(h.close_relative and h.close_relative["official_name"] == m["name"])
            members.append({**m, "present": True, "related_to_household": related,
                            "recused": related,
                            "recusal_reason": "与申请人系近亲属（堂兄弟），依规回避" if related
                            else None, "opinion": None if related else verdict})
        if h.close_relative:
            rec.notes.append("recusal")
        self.gw.post(f"/review/cases/{rec.case_id}/joint-review", self.reviewer(h.township),
                     {"held_on": self.today.isoformat(), "members": members,
                      "outcome": verdict})
        self.opinion(rec)

    def opinion(self, rec: CaseRecord) -> None:
        h = rec.household
        body: dict[str, Any] = {"approve": h.eligible}
        if not h.eligible:
            body["reasons"] = ["家庭人均收入高于当地标准"]
        elif h.kind == "tekun":
            body |= {"self_care": h.self_care, "care_mode": h.care_mode}
        elif h.kind == "linshi":
            body |= {"band": h.band, "instalments": h.instalments}
        r = self.gw.post(f"/review/cases/{rec.case_id}/opinion", self.leader(h.township), body)
        if r["status"] == "awaiting_county":
            self.gw.post(f"/review/cases/{rec.case_id}/county-approval",
                         self.t(Role.COUNTY_BUREAU), {"reasons": ["超过乡镇审批限额，一事一议"]})
            rec.notes.append("county approval")

    # --- publicity -------------------------------------------------------------------------

    def notice_of(self, rec: CaseRecord) -> dict[str, Any]:
        t = rec.household.township
        items = self.gw.get("/publicity/notices", self.clerk(t),
                            params={"township": t, "view": "open", "limit": 500})["items"]
        for n in items:
            if n["case_id"] == rec.case_id:
                return n
        raise DemoError(f"no open notice for case {rec.case_id}")

    def object(self, rec: CaseRecord) -> None:
        h = rec.household
        n = self.notice_of(rec)
        text = ("该户有成员在三亚务工，收入未申报" if h.objection == "upheld"
                else "该户家中有新建房屋，生活条件较好")
        r = self.gw.post(f"/publicity/public/notices/{n['notice_id']}/objections", None,
                         {"text": text}, expect=(201,))
        rec.notes.append(f"objection ({h.objection})")
        self.objections[rec.case_id] = (n["notice_id"], r["objection_id"])

    def resolve_objection(self, rec: CaseRecord) -> None:
        h = rec.household
        notice_id, objection_id = self.objections[rec.case_id]
        base = f"/publicity/notices/{notice_id}/objections/{objection_id}"
        self.gw.post(base + "/investigation", self.clerk(h.township),
                     {"method": "re_investigation", "notes": "重新入户调查并走访邻居"})
        upheld = h.objection == "upheld"
        finding = ("经核实，家庭成员在三亚务工，月收入未申报；异议成立" if upheld
                   else "经核实，新建房屋为危房改造项目，异议不成立")
        self.gw.post(base + "/resolution", self.reviewer(h.township),
                     {"upheld": upheld, "finding": finding})

    def reinvestigate(self, rec: CaseRecord) -> None:
        """Round 2 after an upheld objection: the visit records the undeclared wage."""
        h = rec.household
        case = self.case(rec)
        applicant = next(m for m in case["household"]["members"] if m["relation"] == "self")
        incomes = [{"member_fingerprint": i["member_fingerprint"], "kind": i["kind"],
                    "amount": str(i["amount"]), "months": i["months"]}
                   for i in case["household"]["incomes"]]
        incomes.append({"member_fingerprint": applicant["fingerprint"], "kind": "wage",
                        "amount": str(h.hidden_wage * 6), "months": 6})
        self.visit(rec, {"incomes": incomes})
        self.joint_review(rec)
        rec.notes.append("round 2")

    # --- decision ----------------------------------------------------------------------------

    def decide(self, rec: CaseRecord) -> None:
        h = rec.household
        if not h.eligible:
            self.gw.post(f"/review/cases/{rec.case_id}/reject", self.leader(h.township),
                         {"reasons": ["家庭人均收入高于当地标准，不符合条件"]})
            rec.outcome = "rejected"
            return
        case = self.case(rec)
        amount = case["opinion"]["amount"]
        r = self.gw.post(f"/review/cases/{rec.case_id}/confirm", self.leader(h.township),
                         {"notice": f"经审核确认，准予救助，金额{amount}元"})
        rec.outcome, rec.entitlement_id = "confirmed", r.get("entitlement_id")
        rec.amount = Decimal(amount) if amount is not None else None

    # --- dynamic management ------------------------------------------------------------------

    def dynamic_management(self, records: list[CaseRecord]) -> None:
        with_ent = [r for r in records if r.entitlement_id]

        def recheck(rec: CaseRecord) -> None:
            h = rec.household
            path = f"/review/entitlements/{rec.entitlement_id}"
            changed = bool(h.adjust_wage or h.terminate)
            self.gw.post(path + "/rechecks", self.reviewer(h.township),
                         {"finding": "复查：收入情况有变化" if changed
                          else "复查：家庭情况无变化", "changed": changed})
            if h.adjust_wage:
                case = self.case(rec)
                incomes = [{"member_fingerprint": i["member_fingerprint"], "kind": i["kind"],
                            "amount": str(i["amount"]), "months": i["months"]}
                           for i in case["household"]["incomes"]]
                applicant = next(m for m in case["household"]["members"]
                                 if m["relation"] == "self")
                incomes.append({"member_fingerprint": applicant["fingerprint"], "kind": "wage",
                                "amount": str(h.adjust_wage * 6), "months": 6})
                r = self.gw.post(path + "/adjust", self.leader(h.township), {
                    "incomes": incomes, "reasons": ["复查发现新增务工收入，调整补差"]})
                rec.amount = Decimal(r["monthly_amount"])
                rec.notes.append(f"adjusted ({r['change']})")
            if h.terminate:
                self.gw.post(path + "/terminate", self.leader(h.township),
                             {"reasons": ["家庭成员就业，人均收入超过标准，注销"]})
                rec.outcome = "terminated"
                rec.notes.append("terminated")

        self.progress("rechecks (复查)", with_ent, recheck)

    # --- month end ---------------------------------------------------------------------------

    def month_end(self, out: Outcome, find_error: bool) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        policy = self.gw.get("/review/policy", self.t(Role.COUNTY_BUREAU))["terms"]
        rhythm = MonthlyRhythm.from_terms(policy)
        decided = self.today
        if self.move_clock is not None:
            # Today's decisions are paid from rosters cut later: the clerks come back on
            # that cut-off day (the stack restarts with its clock there).
            one_off = any(r.household.kind == "linshi" and r.decided_on == decided
                          for r in self.records)
            months = payable_months(decided, rhythm, one_off)
            day = rhythm.cutoff(months[-1])
            self.progress.note(f"decisions of {decided} are paid from the {', '.join(months)} "
                               f"roster(s); the clock moves to the cut-off, {day}")
            self.wait_quiet("before the clock moves")
            self.move_clock(day)
            self.today = day
            checked = f"{decided:%Y-%m}"
        else:  # someone else's stack keeps its own clock: the last roster cut by today
            months = [last_cut_month(self.today, rhythm)]
            self.progress.note(f"month end for {months[0]} on this stack's clock; this "
                               f"month's decisions reach later rosters")
            checked = add_months(f"{self.today:%Y-%m}", -1)
        out.month_ends.append(MonthEnd(decided, self.today, months))
        self.wait_quiet("before the month end")
        jobs = [(m, t, k) for m in months for t in self.townships for k in PAID_KINDS]
        self.progress("rosters + bank (花名册)", jobs, lambda job: self.roster(out, *job))
        self.progress("statistics (统计表)", [(m, t) for m in months for t in self.townships],
                      lambda job: self.statistics(out, *job))
        self.spot_check(out, checked, find_error)
        self.wait_quiet("spot-check results reach disbursement")
        for month in months:
            self.fund_plan(out, month)
        self.trust_list_and_charts(out, months)

    def trust_list_and_charts(self, out: Outcome, months: list[str]) -> None:
        """The seal trust list (public: the offline check needs it) and the county's charts
        of the months, one per figure a supervisor looks at first."""
        path = self.out_dir / "trust-list.json"
        path.write_bytes(self.gw.call("GET", "/disbursement/seals/trust-list").content)
        out.outputs.append(path)
        centre = self.t(Role.COUNTY_CENTRE)
        first, last = min(months), max(months)
        for figure, kind in (("households", "dibao"), ("amount", None), ("decided", None)):
            query = f"figure={figure}&from={first}&to={last}" + (f"&kind={kind}" if kind else "")
            png = self.gw.call("GET", f"/archive/supervision/statistics/chart.png?{query}",
                               centre).content
            path = self.out_dir / f"chart-{figure}{'-' + kind if kind else ''}.png"
            path.write_bytes(png)
            out.outputs.append(path)

    def roster(self, out: Outcome, month: str, township: str, kind: str) -> None:
        clerk = self.clerk(township)
        base = f"/disbursement/rosters/{township}/{month}/{kind}"
        if self.gw.once(base + "/draft", clerk, done_codes={"disbursement.roster_locked"}) \
                is None:  # cut earlier this month: report it as it stands
            r = self.gw.get(base, clerk)
            out.rosters[(month, township, kind)] = {
                "rows": r["rows"], "total": Decimal(r["total"]), "failed": 0,
                "carried": Decimal(0), "status": r["status"], "new": r["new"],
                "changed": r["changed"], "ended": r["ended"]}
            return
        self.gw.post(base + "/lock", clerk)
        content = self.gw.call("POST", base + "/exports", {**clerk, "accept": "text/csv"},
                               json={"format": "csv"}).content
        path = self.out_dir / f"roster-{township}-{month}-{kind}.csv"
        path.write_bytes(content)
        out.outputs.append(path)
        # The same roster as the XLSX clerks open (text account cells, a 合计 row).
        xlsx = self.gw.call("POST", base + "/exports", {**clerk, "accept": XLSX_MEDIA},
                            json={"format": "xlsx"}).content
        path = self.out_dir / f"roster-{township}-{month}-{kind}.xlsx"
        path.write_bytes(xlsx)
        out.outputs.append(path)
        rows = [[c.strip() for c in r]  # the account cell starts with a tab, for Excel
                for r in csv.reader(io.StringIO(content.decode("utf-8-sig")))][1:]
        # The bank's return: each 低保 roster's first payment and every 7th payment fail
        # (account closed).
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(["account", "name", "amount", "status", "reference"])
        carried = Decimal(0)  # what failed, and the next roster repays (补发)
        for i, row in enumerate(rows):
            failed = i % 7 == 3 or (kind, i) == ("dibao", 0)
            carried += Decimal(row[4]) if failed else 0
            w.writerow([row[3], row[2], row[4], "failed" if failed else "paid",
                        f"BANK-{month}-{row[1][:12]}"])
        returned = buf.getvalue().encode("utf-8-sig")
        r = self.gw.call("POST", base + "/bank-return", clerk, files={
            "file": ("bank-return.csv", io.BytesIO(returned), "text/csv")}).json()
        if ids := [d["id"] for d in r["discrepancies"]]:
            r = self.gw.post(base + "/discrepancies/resolve", clerk, {
                "discrepancy_ids": ids, "resolution": "carried_forward",
                "reason": "账户已销户，已通知户主更换账户，随下月发放"})
        out.rosters[(month, township, kind)] = {
            "rows": r["rows"], "total": Decimal(r["total"]), "failed": len(ids),
            "carried": carried, "status": r["status"], "new": r["new"], "changed": r["changed"],
            "ended": r["ended"]}

    def statistics(self, out: Outcome, month: str, township: str) -> None:
        leader = self.leader(township)
        if self.gw.once(f"/disbursement/statistics/{township}/{month}/seal", leader,
                        done_codes={"disbursement.statistics_sealed"}) is not None:
            self.gw.post(f"/disbursement/statistics/{township}/{month}/file", leader)
        for fmt in ("pdf", "xlsx"):
            content = self.gw.call(
                "GET", f"/disbursement/statistics/{township}/{month}/documents/{fmt}",
                leader).content
            path = self.out_dir / f"statistics-{township}-{month}.{fmt}"
            path.write_bytes(content)
            out.outputs.append(path)
            # Its seal, for the offline check (python -m deploy.verify_seal).
            seal = self.gw.call(
                "GET", f"/disbursement/statistics/{township}/{month}/documents/{fmt}/seal",
                leader)
            suffix = ".ses" if seal.headers["content-type"].startswith(
                "application/octet-stream") else ".seal.json"
            path = self.out_dir / f"statistics-{township}-{month}.{fmt}{suffix}"
            path.write_bytes(seal.content)
            out.outputs.append(path)

    def spot_check(self, out: Outcome, month: str, find_error: bool) -> None:
        """The county centre's 抽查 of a month's decisions; one finding may be an error."""
        centre = self.t(Role.COUNTY_CENTRE)
        found_error = not find_error
        checked = 0
        for t in self.townships:
            check = self.gw.once("/review/spot-checks", centre, {"township": t, "month": month},
                                 done_codes={"review.spot_check_exists"})
            if check is None:
                continue
            for s in check["sample"]:
                ok = found_error or checked > 0
                self.gw.post(f"/review/spot-checks/{check['spot_check_id']}/results", centre, {
                    "case_id": s["case_id"], "upheld": ok,
                    "finding": None if ok else "抽查发现收入少报",
                    "corrective_action": None if ok else "重新核算，多发部分追回"})
                found_error = found_error or not ok
                checked += 1
            self.gw.post(f"/review/spot-checks/{check['spot_check_id']}/complete", centre)
        out.spot_checks.append({"month": month, "checked": checked,
                                "errors": int(found_error and find_error)})
        if not checked:
            self.progress.note(f"spot check of {month}: no confirmed cases that month to sample")

    def fund_plan(self, out: Outcome, month: str) -> None:
        bureau = self.t(Role.COUNTY_BUREAU)
        if self.gw.once(f"/disbursement/fund-plans/{month}/compile", bureau,
                        done_codes={"disbursement.plan_issued"}) is not None:
            reason = None
            if self.gw.get(f"/disbursement/fund-plans/{month}", bureau)["plan"].get(
                    "missing_townships"):  # townships outside the demo have not filed
                reason = "演示只含部分乡镇，其余乡镇按期另报"
            self.gw.post(f"/disbursement/fund-plans/{month}/issue", bureau, {"reason": reason})
        out.fund_plans[month] = self.gw.get(f"/disbursement/fund-plans/{month}", bureau)
        content = self.gw.call("GET", f"/disbursement/fund-plans/{month}/document",
                               self.t(Role.FINANCE_BUREAU)).content
        path = self.out_dir / f"fund-plan-{month}.json"
        path.write_bytes(content)
        out.outputs.append(path)
        acknowledged = asyncio.run(self.finance_bureau(month)) if self.nats_url else False
        out.fund_plans[month] = plan = self.gw.get(f"/disbursement/fund-plans/{month}", bureau)
        out.acknowledged[month] = acknowledged and plan["acknowledgement"] is not None

    async def finance_bureau(self, month: str) -> bool:
        """The example finance consumer (deploy/finance_consumer.py) acknowledges the plan."""
        import nats

        from deploy.finance_consumer import FinanceBureauConsumer
        from shared.natsauth import FINANCE_BUREAU, inbox_prefix

        seed = self.nats_nkey_seed
        nc = await nats.connect(self.nats_url, **({"nkeys_seed": str(seed), "inbox_prefix":
                                                    inbox_prefix(FINANCE_BUREAU)} if seed else {}))
        token = self.t(Role.FINANCE_BUREAU)["authorization"].split()[1]
        try:
            async with httpx.AsyncClient(base_url=f"{self.gw.url}/api/disbursement",
                                         timeout=30) as api:
                consumer = FinanceBureauConsumer(nc.jetstream(), api, lambda: token)
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    await consumer.run_once(timeout=1)
                    if any(p.month == month for p in consumer.acknowledged):
                        return True
                return False
        finally:
            await nc.close()

    # --- what the services now say ---------------------------------------------------------

    def read_back(self, out: Outcome) -> None:
        ent: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        temporary: dict[str, Decimal] = defaultdict(Decimal)
        public: dict[str, Decimal] = defaultdict(Decimal)
        mine = {r.case_id for r in self.records}
        for t in self.townships:
            items = self.gw.get("/review/entitlements", self.clerk(t),
                                params={"township": t, "limit": 500})["items"]
            for e in items:
                if e["case_id"] in mine and e["status"] in ("active", "phasing_out"):
                    ent[(t, e["kind"])] += Decimal(e["monthly_amount"])
            d = self.gw.get("/review/deadlines", self.leader(t),
                            params={"as_of": self.today.isoformat(), "township": t})
            out.overdue += d["overdue"]
            out.due_soon += d["due_soon"]
        for rec in self.records:
            if rec.household.kind == "linshi" and rec.outcome == "confirmed":
                case = self.case(rec)
                temporary[rec.household.township] += sum(
                    (Decimal(p["amount"]) for p in case["payments"]), Decimal(0))
        # 长期公示: publicity lists what review confirmed (name, size, amount only).
        deadline = time.monotonic() + self.wait_s
        want = {t: sum((v for (tt, k), v in ent.items() if tt == t and k != "linshi"),
                       Decimal(0)) for t in self.townships}
        while True:
            for t in self.townships:
                page = self.gw.get(f"/publicity/public/roster/townships/{t}", None,
                                   params={"limit": 200})
                public[t] = sum((Decimal(i["monthly_amount"]) for i in page["items"]),
                                Decimal(0))
            # (a stack used before lists earlier households too)
            if all(public[t] >= want[t] for t in self.townships) \
                    or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        out.entitlements, out.temporary, out.public_roster = dict(ent), dict(temporary), \
            dict(public)
        # The discipline inspector's view of one case: who did what, when and why.
        rec = next((r for r in self.records if "round 2" in r.notes),
                   next(r for r in self.records if r.outcome == "confirmed"))
        out.audit_case = rec.case_id
        deadline = time.monotonic() + 30
        while True:
            items = self.gw.get(f"/archive/audit/cases/{rec.case_id}/timeline",
                                self.t(Role.DISCIPLINE_INSPECTOR))["events"]
            sources = sorted({i.get("source", "") for i in items})
            if {"intake", "review", "publicity"} <= set(sources) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        out.audit_events, out.audit_sources = len(items), sources


def summary(out: Outcome, gateway: str, names: dict[str, str]) -> str:
    """The closing report: outcomes, money, overdue items, outputs, an audit command."""
    lines = ["", "A month in Lingshui: summary", "=" * 28]
    by = Counter(r.outcome for r in out.records)
    lines.append(f"cases: {len(out.records)}  " + "  ".join(f"{k}: {v}"
                                                          for k, v in sorted(by.items())))
    stories = Counter(n.split(" (")[0].split(":")[0] for r in out.records for n in r.notes)
    lines.append("  along the way: " + ", ".join(f"{k} {v}" for k, v in sorted(stories.items())))
    kinds = Counter((r.household.kind, r.outcome) for r in out.records)
    lines.append("  by kind: " + ", ".join(f"{KIND_LABELS.get(k, k)}/{o} {n}"
                                           for (k, o), n in sorted(kinds.items())))
    lines.append("")
    days = sorted({r.decided_on for r in out.records if r.decided_on})
    lines.append(f"money decided on {', '.join(map(str, days))} (yuan; 低保/特困 monthly as "
                 "now in force, 临时救助 one-off; 长期公示 = the public roster):")
    lines.append(f"  {'township':<14}{'低保':>10}{'特困':>10}{'临时救助':>10}{'长期公示':>10}")
    total = Decimal(0)
    townships = sorted({r.household.township for r in out.records})
    for t in townships:
        d, k = out.entitlements.get((t, "dibao"), Decimal(0)), \
            out.entitlements.get((t, "tekun"), Decimal(0))
        ls = out.temporary.get(t, Decimal(0))
        total += d + k + ls
        lines.append(f"  {names.get(t, t):<14}{d:>10}{k:>10}{ls:>10}"
                     f"{out.public_roster.get(t, Decimal(0)):>10}")
    lines.append(f"  {'total':<14}{total:>30}")
    for end in out.month_ends:
        lines.append("")
        rosters = {k: v for k, v in out.rosters.items() if k[0] in end.months}
        lines.append(f"month end on {end.on}: payment rosters {', '.join(end.months)} (paying "
                     f"the decisions of {end.decided_on}), cut, paid by the bank, reconciled:")
        lines.append(f"  {'township':<14}{'低保':>10}{'特困':>10}{'临时救助':>10}{'payments':>10}"
                     f"{'new':>5}{'chg':>5}{'end':>5}{'failed':>7}")
        for t in townships:
            mine = [v for (_, tt, _), v in rosters.items() if tt == t]
            cells = [sum((v["total"] for (_, tt, kk), v in rosters.items()
                          if tt == t and kk == kind), Decimal(0)) for kind in PAID_KINDS]
            counts = [sum(v[c] for v in mine) for c in ("rows", "new", "changed", "ended")]
            lines.append(f"  {names.get(t, t):<14}" + "".join(f"{c:>10}" for c in cells)
                         + f"{counts[0]:>10}" + "".join(f"{c:>5}" for c in counts[1:])
                         + f"{sum(v['failed'] for v in mine):>7}")
        rt = sum((v["total"] for v in rosters.values()), Decimal(0))
        failed = sum(v["failed"] for v in rosters.values())
        lines.append(f"  {'total':<14}{rt:>30}  ({len(rosters)} rosters; {failed} bank "
                     "failures carried forward)")
        for check in out.spot_checks:
            if check["month"] == f"{end.decided_on:%Y-%m}":
                lines.append(f"  spot check of {check['month']}: {check['checked']} cases "
                             f"checked, {check['errors']} error(s) found")
        for month in end.months:
            plan = out.fund_plans.get(month)
            if plan is None:
                continue
            body = plan["plan"]
            lines.append(f"  fund plan {month}: {plan['status']}, {body['total']} yuan in "
                         f"{body['rows']} payments, {len(body['held_back'])} held back for "
                         f"the spot check; acknowledged by the finance bureau: "
                         f"{out.acknowledged.get(month, False)}")
    lines.append("")
    lines.append(f"overdue items: {len(out.overdue)}; due within 3 working days: "
                 f"{len(out.due_soon)}")
    for item in (out.overdue + out.due_soon)[:5]:
        lines.append(f"  {item.get('deadline')} due {item.get('due')} case {item.get('case_id')}")
    lines.append("")
    lines.append("outputs:")
    folders = sorted({p.parent for p in out.outputs})
    for folder in folders:
        files = [p for p in out.outputs if p.parent == folder]
        lines.append(f"  {folder}/  ({len(files)} files: 花名册 roster-*.csv/.xlsx, 统计表 "
                     "statistics-*.pdf/.xlsx with their seals (.ses), fund-plan-*.json, "
                     "the seal trust list trust-list.json, charts chart-*.png)")
        lines.append(f"  check a seal offline: python -m deploy.verify_seal "
                     f"{folder}/statistics-<township>-<month>.pdf "
                     f"{folder}/statistics-<township>-<month>.pdf.ses "
                     f"--trust-list {folder}/trust-list.json")
    lines.append("")
    lines.append(f"audit timeline of case {out.audit_case}: {out.audit_events} events from "
                 f"{', '.join(out.audit_sources)}. Inspect any case with:")
    lines.append("  TOKEN=$(python3 -c 'import json;print(json.load(open("
                 "\"<var>/dev-tokens.json\"))[\"discipline_inspector\"])')")
    lines.append(f"  curl -s -H \"Authorization: Bearer $TOKEN\" "
                 f"{gateway}/api/archive/audit/cases/{out.audit_case}/timeline")
    return "\n".join(lines)
