"""Disbursement's HTTP API in-process (SQLite, the real nats-server): roles, jurisdiction,
bad input and files; every refusal is problem+json with a stable code and changes nothing."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.disbursement.bank_files import bank_file_csv
from shared.auth import Principal, Role, TokenIssuer
from shared.runtime import ServiceRuntime
from tests.support.disbursement import changed, china, keyring, started, token, upstream
from tests.support.places import GUANGPO, YELIN
from tests.support.web import PROBLEM, assert_problem

pytestmark = pytest.mark.nats
JUNE = f"/rosters/{YELIN}/2026-06"


def seed(rt: ServiceRuntime, keys_dir: Path) -> dict[str, Any]:
    """Two 低保 households on the ledger, as review's events would put them there."""
    ring = keyring(keys_dir)
    a = started(ring, amount="560.00", start_month="2026-06", name="黎阿婆",
                account="6222021111111113")
    b = started(ring, amount="300.00", start_month="2026-03", name="王五",
                account="6222022222222229")
    app = rt.app
    with app.unit_of_work():
        app.record_entitlement_started(a, upstream(china(date(2026, 5, 20))))
        app.record_entitlement_started(b, upstream(china(date(2026, 2, 20))))
        app.record_entitlement_changed(
            changed(b, change="decrease", amount="250.00", effective_month="2026-06"),
            upstream(china(date(2026, 6, 16)), "entitlement_changed"))  # after the cut-off
    app.today = lambda: date(2026, 6, 16)
    return {"a": a, "b": b}


async def test_clerk_drafts_and_locks_with_amounts_and_cutoff(
        disbursement: ServiceRuntime, http: httpx.AsyncClient, issuer: TokenIssuer,
        keys_dir: Path) -> None:
    seed(disbursement, keys_dir)
    clerk = token(issuer, Role.TOWNSHIP_CLERK)
    r = await http.post(f"{JUNE}/dibao/draft", headers=clerk)
    assert r.status_code == 201, r.text
    body = r.json()
    # 560 new + 300 (the decrease decided on the 16th reaches July, not June).
    assert (body["status"], body["rows"], body["total"], body["new"]) == ("drafted", 2,
                                                                          "860.00", 1)
    r = await http.get(f"{JUNE}/dibao/rows", headers=clerk)
    assert sorted(x["amount"] for x in r.json()["items"]) == ["300.00", "560.00"]
    assert all("account_fp" not in x and x["account_mask"].startswith("*")
               for x in r.json()["items"])
    r = await http.post(f"{JUNE}/dibao/lock", headers=clerk)
    assert r.status_code == 200 and r.json()["status"] == "locked"
    r = await http.post("/rosters/469028100/2026-07/dibao/draft", headers=clerk)
    assert_problem(r, 422, "disbursement.before_cutoff")


async def test_only_the_clerk_of_the_township_locks(
        disbursement: ServiceRuntime, http: httpx.AsyncClient, issuer: TokenIssuer,
        keys_dir: Path) -> None:
    seed(disbursement, keys_dir)
    assert (await http.post(f"{JUNE}/dibao/draft",
                            headers=token(issuer, Role.TOWNSHIP_CLERK))).status_code == 201
    assert_problem(await http.post(f"{JUNE}/dibao/lock",
                                   headers=token(issuer, Role.TOWNSHIP_LEADER)), 403, "auth.role")
    assert_problem(await http.post(f"{JUNE}/dibao/lock",
                            headers=token(issuer, Role.TOWNSHIP_CLERK, GUANGPO)),
            403, "auth.jurisdiction")
    assert_problem(await http.post(f"{JUNE}/dibao/lock", headers=token(issuer, Role.COUNTY_BUREAU,
                                                                None)), 403, "auth.role")
    assert_problem(await http.post(f"{JUNE}/dibao/lock"), 401, "auth.missing_token")
    r = await http.get(f"{JUNE}/dibao", headers=token(issuer, Role.DISCIPLINE_INSPECTOR, None))
    assert r.json()["status"] == "drafted"  # nothing changed


async def test_bad_input_is_refused_naming_the_field(
        disbursement: ServiceRuntime, http: httpx.AsyncClient, issuer: TokenIssuer,
        keys_dir: Path) -> None:
    ledger = seed(disbursement, keys_dir)
    clerk = token(issuer, Role.TOWNSHIP_CLERK)
    await http.post(f"{JUNE}/dibao/draft", headers=clerk)
    await http.post(f"{JUNE}/dibao/lock", headers=clerk)
    key = str(ledger["a"].entitlement_id)
    version = disbursement.app.roster(_clerk(), YELIN, "2026-06", "dibao").version
    for body, field in [({"key": key, "amount": "abc", "reason": "x"}, "amount"),
                        ({"key": key, "amount": "-5", "reason": "x"}, "amount"),
                        ({"key": key, "amount": "1.001", "reason": "x"}, "amount"),
                        ({"key": key, "amount": "10"}, "reason"),
                        ({"key": key, "amount": "10", "reason": "x", "extra": 1}, "extra")]:
        b = assert_problem(await http.post(f"{JUNE}/dibao/corrections", json=body, headers=clerk),
                    422, "web.validation")
        assert b["field"] == field, b
    assert_problem(await http.post(f"{JUNE}/dibao/corrections", headers=clerk,
                            json={"key": "nope", "amount": "1", "reason": "x"}),
            422, "disbursement.row_unknown")
    assert_problem(await http.post("/rosters/469028100/2026-06/dibao_edge/draft", headers=clerk),
            422, "web.validation")
    assert_problem(await http.post("/rosters/469028100/2026-13/dibao/draft", headers=clerk),
            422, "web.validation")
    assert_problem(await http.post("/rosters/469028999/2026-06/dibao/draft",
                            headers=token(issuer, Role.TOWNSHIP_CLERK, "469028999")),
            401, "auth.unknown_township")  # the clerk's own token names no township here
    # A malformed bank file: row and column named, nothing recorded.
    bad = ("account,name,amount,status,reference\r\n"
           "6222021111111111,黎阿婆,five,paid,B1\r\n").encode()
    b = assert_problem(await http.post(f"{JUNE}/dibao/bank-return", headers=clerk,
                                files={"file": ("ret.csv", io.BytesIO(bad), "text/csv")}),
                422, "disbursement.bank_file_malformed")
    assert b["field"] == "file.row[2].amount" and "row 2, column amount" in b["detail"]
    assert disbursement.app.roster(_clerk(), YELIN, "2026-06", "dibao").version == version
    r = await http.post(f"{JUNE}/dibao/corrections", headers=clerk,
                        json={"key": key, "amount": "500.00", "reason": "income re-checked"})
    assert r.status_code == 201 and r.json()["total"] == "800.00"


def _clerk() -> Principal:
    return Principal("clerk-test", Role.TOWNSHIP_CLERK, YELIN)


async def test_export_is_audited_and_only_its_maker_downloads_it(
        disbursement: ServiceRuntime, http: httpx.AsyncClient, issuer: TokenIssuer,
        keys_dir: Path) -> None:
    seed(disbursement, keys_dir)
    clerk = token(issuer, Role.TOWNSHIP_CLERK)
    await http.post(f"{JUNE}/dibao/draft", headers=clerk)
    assert_problem(await http.post(f"{JUNE}/dibao/exports", json={"format": "csv"}, headers=clerk),
            422, "disbursement.roster_not_locked")
    await http.post(f"{JUNE}/dibao/lock", headers=clerk)
    for fmt in ("xlsx", "csv"):
        r = await http.post(f"{JUNE}/dibao/exports", json={"format": fmt}, headers=clerk)
        assert r.status_code == 201, r.text
        meta = r.json()
        # No account in the answer (nor the idempotency store); a bare "6222" could be
        # part of the hex hash.
        assert "6222021111111113" not in r.text and "6222022222222229" not in r.text
        assert_problem(await http.get(f"{JUNE}/dibao/exports/{meta['export_id']}",
                               headers=token(issuer, Role.TOWNSHIP_CLERK, user="other-clerk")),
                403, "disbursement.export_owner")
        f = await http.get(f"{JUNE}/dibao/exports/{meta['export_id']}", headers=clerk)
        assert f.status_code == 200 and f.headers["x-content-sha256"] == meta["sha256"]
    text = f.content.decode("utf-8-sig")
    assert "6222021111111113" in text and "黎阿婆" in text
    exported = [e for _, e in disbursement.app.iter_domain_events()
                if type(e).__name__ == "Exported"]
    assert [(e.file_format, e.actor["user_id"]) for e in exported] == [
        ("xlsx", "township_clerk-469028100"), ("csv", "township_clerk-469028100")]
    # Reconcile from the exported file with one failed payment, resolve it with a reason.
    lines = [row.split(",") for row in text.splitlines()[1:]]
    ret = bank_file_csv([(x[3], x[2], x[4], "failed" if x[2] == "王五" else "paid", f"B{i}")
                         for i, x in enumerate(lines)])
    r = await http.post(f"{JUNE}/dibao/bank-return", headers=clerk,
                        files={"file": ("ret.csv", io.BytesIO(ret), "text/csv")})
    assert r.status_code == 201, r.text
    assert [d["kind"] for d in r.json()["discrepancies"]] == ["failed"]
    assert r.json()["status"] == "locked"
    r = await http.post(f"{JUNE}/dibao/discrepancies/resolve", headers=clerk,
                        json={"discrepancy_ids": ["d1"], "resolution": "carried_forward",
                              "reason": "card frozen; paid with July"})
    assert r.status_code == 200 and r.json()["status"] == "reconciled"

    # The money is still owed: July's roster repays it as its own row (补发), naming June.
    disbursement.app.today = lambda: date(2026, 7, 15)
    july = f"/rosters/{YELIN}/2026-07/dibao"
    r = await http.post(f"{july}/draft", headers=clerk)
    assert r.status_code in (200, 201), r.text
    rows = (await http.get(f"{july}/rows", headers=clerk)).json()["items"]
    wang = sorted((r["name"], r["amount"]) for r in rows if r["name"] == "王五")
    # July's own 250 (decreased from July) and June's failed 300, repaid as its own row.
    assert wang == [("王五", "250.00"), ("王五", "300.00")]
    changes = (await http.get(f"/townships/{YELIN}/months/2026-07/changes",
                              headers=clerk)).json()["kinds"][0]["changes"]
    (arrears,) = [c for c in changes if c["change"] == "arrears"]
    assert arrears["amount"] == "300.00" and arrears["causes"][0]["original_month"] == "2026-06"
    assert arrears["causes"][0]["reasons"] == ["card frozen; paid with July"]
    # Asking again carries nothing twice.
    r = await http.post(f"{JUNE}/dibao/discrepancies/resolve", headers=clerk,
                        json={"discrepancy_ids": ["d1"], "resolution": "carried_forward",
                              "reason": "again"})
    assert r.status_code == 422


async def test_an_export_can_answer_with_its_file_generated_once(
        disbursement: ServiceRuntime, http: httpx.AsyncClient, issuer: TokenIssuer,
        keys_dir: Path) -> None:
    seed(disbursement, keys_dir)
    clerk = token(issuer, Role.TOWNSHIP_CLERK)
    await http.post(f"{JUNE}/dibao/draft", headers=clerk)
    await http.post(f"{JUNE}/dibao/lock", headers=clerk)
    wants_csv = {**clerk, "accept": "text/csv", "idempotency-key": "export-1"}
    r = await http.post(f"{JUNE}/dibao/exports", json={"format": "csv"}, headers=wants_csv)
    assert r.status_code == 201 and r.headers["content-type"].startswith("text/csv")
    assert "6222021111111113" in r.content.decode("utf-8-sig")
    exported = [e for _, e in disbursement.app.iter_domain_events()
                if type(e).__name__ == "Exported"]
    assert [(e.export_id, e.sha256) for e in exported] == [
        (r.headers["x-export-id"], r.headers["x-content-sha256"])]  # audited, same file
    # The download regenerates the very same bytes.
    f = await http.get(f"{JUNE}/dibao/exports/{r.headers['x-export-id']}", headers=clerk)
    assert f.status_code == 200 and f.content == r.content
    # A retry answers with the record, never the file: no account in the idempotency store.
    again = await http.post(f"{JUNE}/dibao/exports", json={"format": "csv"}, headers=wants_csv)
    assert again.status_code == 201 and again.headers["idempotent-replay"] == "true"
    assert again.json()["export_id"] == r.headers["x-export-id"]
    assert "6222021111111113" not in again.text
    assert len([e for _, e in disbursement.app.iter_domain_events()
                if type(e).__name__ == "Exported"]) == 1


async def test_only_the_finance_bureau_acknowledges(
        disbursement: ServiceRuntime, http: httpx.AsyncClient, issuer: TokenIssuer) -> None:
    body = {"receipt_reference": "CZ-1"}
    for role in (Role.COUNTY_BUREAU, Role.COUNTY_CENTRE, Role.DISCIPLINE_INSPECTOR):
        assert_problem(await http.post("/fund-plans/2026-06/acknowledge", json=body,
                                headers=token(issuer, role, None)), 403, "auth.role")
    assert_problem(await http.post("/fund-plans/2026-06/acknowledge", json=body,
                            headers=token(issuer, Role.FINANCE_BUREAU, None)),
            404, "disbursement.not_found")
    assert_problem(await http.post("/fund-plans/2026-06/compile",
                            headers=token(issuer, Role.FINANCE_BUREAU, None)), 403, "auth.role")
    assert_problem(await http.post("/statistics/469028100/2026-06/seal",
                            headers=token(issuer, Role.TOWNSHIP_CLERK)), 403, "auth.role")
    assert_problem(await http.post("/statistics/469028100/2026-06/seal",
                            headers=token(issuer, Role.TOWNSHIP_LEADER)),
            422, "disbursement.rosters_not_ready")


async def test_held_rows_over_http_block_the_lock_until_resolved(
        disbursement: ServiceRuntime, http: httpx.AsyncClient, issuer: TokenIssuer,
        keys_dir: Path) -> None:
    ring = keyring(keys_dir)
    bad = started(ring, amount="400.00", start_month="2026-06", name="符大哥",
                  account="6222023333333333")  # Luhn fails
    disbursement.app.record_entitlement_started(bad, upstream(china(date(2026, 5, 20))))
    disbursement.app.today = lambda: date(2026, 6, 16)
    clerk = token(issuer, Role.TOWNSHIP_CLERK)
    assert (await http.post(f"{JUNE}/dibao/draft", headers=clerk)).status_code == 201
    body = assert_problem(await http.post(f"{JUNE}/dibao/lock", headers=clerk), 422,
                   "disbursement.holds_open")
    assert body["field"] == "holds"
    held = (await http.get(f"{JUNE}/dibao/holds", headers=clerk)).json()
    assert held["open"] == 1 and held["items"][0]["reasons"][0]["code"] == "card_luhn"
    key = held["items"][0]["key"]
    assert_problem(await http.post(f"{JUNE}/dibao/holds/resolve", headers=token(
        issuer, Role.TOWNSHIP_CLERK, GUANGPO), json={"keys": [key], "resolution": "excluded",
                                                       "reason": "账号错误"}),
            403, "auth.jurisdiction")
    r = await http.post(f"{JUNE}/dibao/holds/resolve", headers=clerk,
                        json={"keys": [key], "resolution": "maybe", "reason": "x"})
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM)
    r = await http.post(f"{JUNE}/dibao/holds/resolve", headers=clerk,
                        json={"keys": [key], "resolution": "excluded",
                              "reason": "账号错误，待更正"})
    assert r.status_code == 200 and r.json()["open"] == 0, r.text
    r = await http.post(f"{JUNE}/dibao/lock", headers=clerk)
    assert (r.status_code, r.json()["rows"]) == (200, 0)
    codes = (await http.get("/bank-return-codes", headers=clerk)).json()
    assert {"AC04", "AM04", "BE01"} <= {c["code"] for c in codes["codes"]}
    assert (await http.get(f"/townships/{YELIN}/recoveries", headers=clerk)).json()[
        "items"] == []
