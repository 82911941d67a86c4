"""A month in Lingshui, small: the demo's scenario against the embedded stack started as
real processes (`python -m deploy.local`, real nats-server), checked against figures
computed here, independently, from the generated households and review's policy table.

Nothing below calls review's code: 补差 and the other amounts are recomputed with Decimal
from the policy terms that review serves at GET /policy.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from deploy.demo.__main__ import EmbeddedStack, stack_env
from deploy.demo.households import Household, Person, generate
from deploy.demo.scenario import (
    CHINA,
    PAID_KINDS,
    Gateway,
    Progress,
    Scenario,
    Tokens,
    add_months,
    china_today,
    summary,
)
from deploy.local import AUDIENCE, ISSUER, free_port_block
from deploy.verify_seal import main as verify_seal_main
from shared.auth import Role, TokenIssuer
from shared.pii import mask_resident_id
from shared.regions import load_county

pytestmark = [pytest.mark.nats, pytest.mark.slow]

TOWNSHIPS = ["469028100", "469028101"]  # 椰林镇, 光坡镇
PER_TOWNSHIP = 8
SEED = 8
EXCLUDED = {"preferential_care", "family_planning_award", "scholarship", "heroism_award",
            "social_assistance", "basic_resident_pension"}


# --- the figures, computed here from the inputs and the policy table ----------------------


def age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def rounded(amount: Decimal, terms: dict[str, Any]) -> Decimal:
    assert terms["rounding_mode"] == "half_up"
    return amount.quantize(Decimal(terms["rounding_quantum"]), rounding=ROUND_HALF_UP)


def counted_monthly_income(people: list[Person], extra_wage: Decimal) -> Decimal:
    income = sum((Decimal(a) / m for p in people for k, a, m in p.incomes if k not in EXCLUDED),
                 Decimal(0))
    return income + extra_wage


def addon_percent(p: Person, terms: dict[str, Any], on: date) -> Decimal:
    """分类施保: the highest percentage among the member's categories."""
    pct = terms["addon_percent"]
    found = []
    if age(p.birth_date, on) >= terms["addon_elderly_age"]:
        found.append(Decimal(pct["elderly"]))
    if age(p.birth_date, on) < terms["addon_minor_age"]:
        found.append(Decimal(pct["minor"]))
    if p.disability and p.disability["grade"] <= terms["severe_disability_max_grade"]:
        found.append(Decimal(pct["severe_disability"]))
    if p.serious_illness:
        found.append(Decimal(pct["serious_illness"]))
    return max(found, default=Decimal(0))


def standard(h: Household, terms: dict[str, Any]) -> Decimal:
    return Decimal(terms["dibao_standard_urban" if h.urban else "dibao_standard_rural"])


def dibao(h: Household, terms: dict[str, Any], on: date,
          with_adjustment: bool = True) -> Decimal:
    """补差 = (standard − per-capita income) × members + add-ons, rounded per policy."""
    std = standard(h, terms)
    # Found on re-investigation / at the recheck.
    wage = h.hidden_wage + (h.adjust_wage if with_adjustment else Decimal(0))
    gap = std * len(h.members) - counted_monthly_income(h.members, wage)
    addons = sum((std * addon_percent(p, terms, on) / 100 for p in h.members), Decimal(0))
    return rounded(gap + addons, terms)


def tekun(h: Household, terms: dict[str, Any]) -> Decimal:
    assert h.self_care is not None
    missing = sum(1 for ok in h.self_care.values() if not ok)
    tier = "self_caring" if missing == 0 else "partial" if missing <= 3 else "total"
    basic = standard(h, terms) * Decimal(terms["tekun_basic_multiple"])
    return rounded(basic + Decimal(terms["tekun_care_standard"][tier]), terms)


def linshi(h: Household, terms: dict[str, Any]) -> Decimal:
    assert h.band is not None
    months = Decimal(terms["linshi_bands"][h.band])
    return rounded(standard(h, terms) * len(h.members) * months, terms)


def first_payable(decided_on: date, cutoff_day: int) -> str:
    """DOMAIN.md's monthly rhythm: a decision after the cut-off misses that month's roster."""
    month = f"{decided_on:%Y-%m}"
    return month if decided_on.day <= cutoff_day else add_months(month, 1)


def instalments(total: Decimal, count: int, terms: dict[str, Any]) -> list[Decimal]:
    """Equal parts rounded down to the policy's unit; the remainder in the last."""
    part = (total / count).quantize(Decimal(terms["rounding_quantum"]), rounding=ROUND_FLOOR)
    return [part] * (count - 1) + [total - part * (count - 1)]


def on_roster(h: Household, month: str, terms: dict[str, Any], decided_on: date,
              rechecked_on: date) -> Decimal:
    """What `h` is paid on `month`'s roster, decided on `decided_on` and (last month's
    caseload) rechecked on `rechecked_on`. Monthly benefits from the month after the
    decision; an adjustment from the first roster not yet cut when it is decided; a
    termination ends the benefit after the month it is decided in. 临时救助 instalments
    month by month from the first roster not yet cut (先行救助: its own month, which the
    cut-off may push)."""
    if not h.eligible:
        return Decimal(0)
    cutoff = int(terms["roster_cutoff_day"])
    first = first_payable(decided_on, cutoff)
    if h.kind == "linshi":
        count = 1 if h.advance else h.instalments
        parts = instalments(linshi(h, terms), count, terms)
        return sum((p for i, p in enumerate(parts) if add_months(first, i) == month),
                   Decimal(0))
    start = max(add_months(f"{decided_on:%Y-%m}", 1), first)
    if h.kind not in ("dibao", "tekun") or month < start:
        return Decimal(0)
    if h.terminate and month >= max(add_months(f"{rechecked_on:%Y-%m}", 1), start):
        return Decimal(0)
    if h.kind == "tekun":
        return tekun(h, terms)
    adjusted = h.adjust_wage and month >= max(first_payable(rechecked_on, cutoff), start)
    return dibao(h, terms, decided_on, with_adjustment=bool(adjusted))


def expected(households: list[Household], terms: dict[str, Any],
             decided: dict[str, date]) -> dict[str, Any]:
    monthly: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    one_off: dict[str, Decimal] = defaultdict(Decimal)
    confirmed: dict[str, int] = defaultdict(int)
    rejected: dict[str, int] = defaultdict(int)
    for h in households:
        t = h.township
        if not h.eligible:
            rejected[t] += 1
            continue
        confirmed[t] += 1
        if h.kind == "dibao" and not h.terminate:
            monthly[(t, "dibao")] += dibao(h, terms, decided[h.key])
        elif h.kind == "tekun":
            monthly[(t, "tekun")] += tekun(h, terms)
        elif h.kind == "linshi":
            one_off[t] += linshi(h, terms)
    return {"monthly": dict(monthly), "one_off": dict(one_off), "confirmed": dict(confirmed),
            "rejected": dict(rejected)}


def test_the_figures_are_computed_by_hand() -> None:
    """The independent computation itself, on a worked example (rural 650, 2024 terms)."""
    terms = {"dibao_standard_urban": "700", "dibao_standard_rural": "650",
             "rounding_quantum": "1", "rounding_mode": "half_up",
             "addon_percent": {"elderly": "10", "minor": "10", "severe_disability": "20",
                               "serious_illness": "15"},
             "addon_elderly_age": 60, "addon_minor_age": 18, "severe_disability_max_grade": 2}
    on = date(2026, 11, 30)
    granny = Person("黎阿婆", "self", date(1956, 3, 14), "x", incomes=[
        ("basic_resident_pension", Decimal(1098), 6)])
    mother = Person("符阿妹", "spouse", date(1984, 5, 2), "y", incomes=[
        ("wage", Decimal(3000), 6)])
    boy = Person("黎小明", "child", date(2014, 9, 1), "z",
                 disability={"kind": "physical", "grade": 2})
    h = Household(1, "469028100", "469028100201", False, "dibao", [granny, mother, boy])
    # 650 × 3 − 500 = 1,450; add-ons 65 (elderly 10%) + 130 (severe disability 20% beats
    # minor 10%) = 195; 1,645 in all.
    assert dibao(h, terms, on) == Decimal(1645)


# --- the month, end to end --------------------------------------------------------------------


def read_figures(gw: Gateway, tokens: Tokens, case_ids: set[str]) -> dict[str, Any]:
    """What the services say, read through the gateway by the roles that may read it."""
    monthly: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    one_off: dict[str, Decimal] = defaultdict(Decimal)
    confirmed, rejected, public = {}, {}, {}
    for t in TOWNSHIPS:
        leader = tokens(Role.TOWNSHIP_LEADER, t)
        for e in gw.get("/review/entitlements", leader, params={"township": t,
                                                                "limit": 500})["items"]:
            assert e["case_id"] in case_ids
            if e["status"] == "active":
                monthly[(t, e["kind"])] += Decimal(e["monthly_amount"])
        for status, into in (("confirmed", confirmed), ("rejected", rejected)):
            into[t] = gw.get("/review/cases", leader, params={
                "township": t, "status": status, "limit": 500})["total"]
        for c in gw.get("/review/cases", leader, params={"township": t, "status": "confirmed",
                                                         "limit": 500})["items"]:
            if c["kind"] == "linshi":
                case = gw.get(f"/review/cases/{c['case_id']}", leader)
                one_off[t] += sum((Decimal(p["amount"]) for p in case["payments"]), Decimal(0))
        page = gw.get(f"/publicity/public/roster/townships/{t}", None, params={"limit": 200})
        public[t] = sum((Decimal(i["monthly_amount"]) for i in page["items"]), Decimal(0))
    return {"monthly": dict(monthly), "one_off": dict(one_off), "confirmed": confirmed,
            "rejected": rejected, "public": public}


def roster_ids_are_masked(outputs: list[Path], households: list[Household]) -> None:
    """Each roster row names its payee (the applicant) with their masked resident ID, as
    review masked it on the way from intake; no file holds a member's ID in clear."""
    masked = {(h.applicant.name, mask_resident_id(h.applicant.resident_id))
              for h in households}
    clear = {p.resident_id for h in households for p in h.members}
    paid = 0
    for path in outputs:
        if path.name.startswith("roster-") and path.suffix == ".csv":
            rows = list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))
            assert {(r["户名"], r["身份证号(脱敏)"]) for r in rows} <= masked, path
            paid += len(rows)
            text = path.read_bytes().decode("utf-8-sig")
        elif path.name.startswith("roster-") and path.suffix == ".xlsx":
            sheet = load_workbook(path, read_only=True).worksheets[0]
            text = "\n".join(str(v) for row in sheet.iter_rows(values_only=True) for v in row)
        else:
            continue
        assert not [i for i in clear if i in text], path
    assert paid > 0


def test_a_month_in_two_townships(tmp_path: Path) -> None:
    port_base = free_port_block(7)  # gateway and five services, then NATS
    nats_port = port_base + 6
    today = china_today()
    stack = EmbeddedStack(tmp_path, port_base, nats_port, stack_env(6.0, datetime.now(CHINA)))
    stack.start()
    gw = Gateway(f"http://127.0.0.1:{port_base}")
    try:
        tokens = Tokens(TokenIssuer(tmp_path / "keys" / "jwt-ed25519.pem", ISSUER, AUDIENCE))
        households = generate(load_county(), SEED, TOWNSHIPS, PER_TOWNSHIP, today)
        assert {h.kind for h in households} == {"dibao", "tekun", "linshi", "dibao_edge"}
        scenario = Scenario(gw, tokens, households, tmp_path / "demo-output",
                            nats_url=f"nats://127.0.0.1:{nats_port}",
                            nats_nkey_seed=tmp_path / "keys" / "nats" / "finance-bureau.nk",
                            progress=Progress(quiet=True), wait_s=60, move_clock=stack.move_to)
        out = scenario.run()

        # The timeline: last month's caseload decided today and paid from the roster cut at
        # the next cut-off; this month's cases decided the day after it, paid from the
        # roster cut at the cut-off after that.
        bureau = tokens(Role.COUNTY_BUREAU)
        terms = gw.get("/review/policy", bureau)["terms"]
        cutoff = int(terms["roster_cutoff_day"])
        # Today's decisions reach the roster of the month they are decided in (one-off
        # payments, when decided by the cut-off, if today decided any) and the next
        # month's (monthly benefits); no other roster is drafted.
        next_month = add_months(f"{today:%Y-%m}", 1)
        one_off_today = any(h.kind == "linshi" and h.last_month for h in households)
        first_months = sorted({first_payable(today, cutoff) if one_off_today else next_month,
                               next_month})
        first_cut = date.fromisoformat(f"{next_month}-{cutoff:02d}")
        this_month = first_cut + timedelta(days=1)
        second_cut = date.fromisoformat(f"{add_months(f'{this_month:%Y-%m}', 1)}-{cutoff:02d}")
        decided = {h.key: today if h.last_month else this_month for h in households}
        assert {r.household.key: r.decided_on for r in out.records} == decided, \
            "the China date changed while the test ran"
        assert [e.on for e in out.month_ends] == [first_cut, second_cut]
        months = [m for e in out.month_ends for m in e.months]
        assert out.month_ends[0].months == first_months
        assert out.month_ends[-1].months == [f"{second_cut:%Y-%m}"]

        want = expected(households, terms, decided)
        got = read_figures(gw, tokens, {r.case_id for r in out.records})
        assert got["confirmed"] == want["confirmed"]
        assert got["rejected"] == want["rejected"]
        assert got["monthly"] == want["monthly"]
        assert got["one_off"] == want["one_off"]
        # 长期公示 lists exactly the monthly benefits review confirmed (via NATS).
        assert got["public"] == {t: want["monthly"].get((t, "dibao"), Decimal(0))
                                 + want["monthly"].get((t, "tekun"), Decimal(0))
                                 for t in TOWNSHIPS}
        # The stories happened: an objection upheld (second round), one adjusted, one ended.
        notes = [n for r in out.records for n in r.notes]
        assert {"round 2", "terminated", "先行救助", "county approval", "recusal"} <= set(notes)
        assert any(n.startswith("adjusted") for n in notes)

        # Each month end: the money on every roster is what the inputs and the policy
        # table say it must be, with last month's adjustment and termination in the second.
        keys = {(m, t, k) for m in months for t in TOWNSHIPS for k in PAID_KINDS}
        assert set(out.rosters) == keys
        # A payment the bank failed (the demo's own bank file) is repaid as 补发 on the
        # next month's roster, drafted after it was carried forward.
        carried_in = {(add_months(m, 1), t, k): v["carried"]
                      for (m, t, k), v in out.rosters.items()}
        assert sum(carried_in.values()) > 0
        assert {k: v["total"] for k, v in out.rosters.items()} == {
            (m, t, k): sum((on_roster(h, m, terms, decided[h.key], this_month)
                            for h in households if h.township == t and h.kind == k),
                           Decimal(0)) + carried_in.get((m, t, k), Decimal(0))
            for m, t, k in keys}
        # Monthly benefits are paid from the month after the decision: every roster of that
        # month and later carries money, and so does the last month's 临时救助.
        assert all(v["total"] > 0 for (m, _, k), v in out.rosters.items()
                   if (k != "linshi" and m >= next_month) or m == months[-1])
        last = [v for (m, _, _), v in out.rosters.items() if m == months[-1]]
        assert sum(v["changed"] for v in last) >= 1 and sum(v["ended"] for v in last) >= 1
        assert all(r["status"] == "reconciled" for r in out.rosters.values())
        assert sum(r["failed"] for r in out.rosters.values()) > 0  # the bank's failures
        cut_on = {m: e.on for e in out.month_ends for m in e.months}
        for month in months:
            for t in TOWNSHIPS:
                stats = gw.get(f"/disbursement/statistics/{t}/{month}", bureau)
                assert stats["filed_on"] == cut_on[month].isoformat()
            # The fund plan pays what the bank paid on the rosters (a failure is funded with
            # the roster that repays it), less rows held back for the spot check's error;
            # the example finance consumer acknowledged it over NATS.
            plan = out.fund_plans[month]
            assert plan["status"] == "acknowledged" and out.acknowledged[month]
            for town in plan["plan"]["townships"]:
                for k in town["kinds"]:
                    roster = out.rosters[(month, town["township"], k["kind"])]
                    assert Decimal(k["amount"]) + Decimal(k["held_back_amount"]) == \
                        roster["total"] - roster["carried"]
            held = plan["plan"]["held_back"]
            assert all(h["finding"] for h in held)
            assert {town["township"] for town in plan["plan"]["townships"]
                    if town["flagged"]} == {h["township"] for h in held}
            assert f"fund-plan-{month}.json" in {p.name for p in out.outputs}
        assert [(c["month"], c["errors"]) for c in out.spot_checks] == [
            (f"{today:%Y-%m}", 0), (f"{this_month:%Y-%m}", 1)]
        assert all(p.stat().st_size > 0 for p in out.outputs)
        # Every file a month produces: both roster files per kind, both statistics documents
        # with their seals, the trust list, the charts; a PDF verifies offline with its seal.
        names = {p.name for p in out.outputs}
        for month in months:
            for t in TOWNSHIPS:
                for kind in PAID_KINDS:
                    assert {f"roster-{t}-{month}-{kind}.csv",
                            f"roster-{t}-{month}-{kind}.xlsx"} <= names
                for fmt in ("pdf", "xlsx"):
                    assert {f"statistics-{t}-{month}.{fmt}",
                            f"statistics-{t}-{month}.{fmt}.ses"} <= names
        assert "trust-list.json" in names and any(n.startswith("chart-") for n in names)
        roster_ids_are_masked(out.outputs, households)
        folder = out.outputs[0].parent
        pdf = folder / f"statistics-{TOWNSHIPS[0]}-{months[0]}.pdf"
        assert verify_seal_main([str(pdf), f"{pdf}.ses", "--trust-list",
                                 str(folder / "trust-list.json"), "--subject", months[0]]) == 0
        text = summary(out, gw.url, {})
        assert "dibao" not in text and "城乡低保" in text
        # The inspector's timeline of the re-investigated case spans the services.
        assert {"intake", "review", "publicity"} <= set(out.audit_sources)
        r = httpx.get(f"{gw.url}/api/archive/audit/cases/{out.audit_case}/timeline")
        assert r.status_code == 401
    finally:
        gw.close()
        stack.stop()
