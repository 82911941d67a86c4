"""Bank returns with ISO 20022 reason codes: a bank's own codes are mapped by versioned data,
and the code decides which resolutions a clerk may record (a closed account is never simply
carried forward). The real application on its own SQLite store."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.disbursement.domain import Resolution
from services.disbursement.return_codes import DEFAULT_RETURN_CODES, load_return_codes
from shared.errors import RuleViolation
from tests.support.actors import CLERK
from tests.support.disbursement import application, china, keyring, started, upstream
from tests.support.places import YELIN

pytestmark = pytest.mark.fast

MONTH = "2026-06"
PEOPLE = [("黎阿婆", "6222020000000015", "800.00"), ("王五", "6222020000000023", "650.00"),  # Luhn
          ("符大哥", "6222020000000031", "720.00")]


def returned(rows: list[list[str]], reason_header: str = "失败原因") -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["账号", "户名", "金额", "状态", "流水号", reason_header])
    w.writerows(rows)
    return buf.getvalue().encode("utf-8-sig")


def locked_month(tmp_path: Path, keys_dir: Path) -> Any:
    ring = keyring(keys_dir)
    app = application(tmp_path, keys_dir)
    for name, account, amount in PEOPLE:
        app.record_entitlement_started(
            started(ring, amount=amount, start_month=MONTH, name=name, account=account),
            upstream(china(date(2026, 5, 20))))
    app.draft_roster(CLERK, YELIN, MONTH, "dibao")
    app.lock_roster(CLERK, YELIN, MONTH, "dibao")
    return app


def by_name(roster: Any) -> dict[str, dict[str, Any]]:
    return {d["roster_name"]: d for d in roster.discrepancies.values()}


def test_a_banks_own_codes_map_to_iso_and_decide_the_resolutions(
        tmp_path: Path, keys_dir: Path) -> None:
    app = locked_month(tmp_path, keys_dir)
    content = returned([[PEOPLE[0][1], "黎阿婆", "800.00", "失败", "B1", "E002"],  # closed
                        [PEOPLE[1][1], "王五", "650.00", "失败", "B2", "AM04"],  # ISO as is
                        [PEOPLE[2][1], "符大哥", "720.00", "成功", "B3", ""]])
    roster = app.import_bank_return(CLERK, YELIN, MONTH, "dibao", "回盘.csv", content,
                                    scheme="hnnx")
    found = by_name(roster)
    closed, short = found["黎阿婆"], found["王五"]
    assert (closed["bank_code"], closed["reason_code"], closed["account_status"]) == (
        "E002", "AC04", "closed")
    assert closed["codes_version"] == 1 and "carried_forward" not in closed["resolutions"]
    assert short["reason_code"] == "AM04" and "carried_forward" in short["resolutions"]
    assert "符大哥" not in found

    with pytest.raises(RuleViolation) as refused:
        app.resolve_discrepancies(CLERK, YELIN, MONTH, "dibao", [closed["id"]],
                                  Resolution.CARRIED_FORWARD, "下月再发")
    assert refused.value.code == "disbursement.resolution_not_allowed"
    assert refused.value.field == "resolution" and "AC04" in refused.value.message
    # Nothing was written by the refusal: the discrepancy is still open, no 补发 owed.
    again = app.roster(CLERK, YELIN, MONTH, "dibao")
    assert by_name(again)["黎阿婆"]["resolution"] is None

    app.resolve_discrepancies(CLERK, YELIN, MONTH, "dibao", [short["id"]],
                              Resolution.CARRIED_FORWARD, "代发账户余额不足，下月补发")
    done = app.resolve_discrepancies(CLERK, YELIN, MONTH, "dibao", [closed["id"]],
                                     Resolution.PAID_MANUALLY, "已销户，现金发放，凭证存档")
    assert done.status.value == "reconciled"


def test_a_failed_line_without_a_reason_is_unspecified_and_may_be_carried(
        tmp_path: Path, keys_dir: Path) -> None:
    app = locked_month(tmp_path, keys_dir)
    content = returned([[a, n, m, "失败" if i == 0 else "成功", f"B{i}", ""]
                        for i, (n, a, m) in enumerate(PEOPLE)])
    roster = app.import_bank_return(CLERK, YELIN, MONTH, "dibao", "回盘.csv", content)
    d = by_name(roster)["黎阿婆"]
    assert d["reason_code"] == "MS03" and d["bank_code"] is None
    app.resolve_discrepancies(CLERK, YELIN, MONTH, "dibao", [d["id"]],
                              Resolution.CARRIED_FORWARD, "原因不明，下月补发")


def test_an_unknown_bank_code_or_scheme_is_refused_and_nothing_recorded(
        tmp_path: Path, keys_dir: Path) -> None:
    app = locked_month(tmp_path, keys_dir)
    content = returned([[PEOPLE[0][1], "黎阿婆", "800.00", "失败", "B1", "X42"]])
    with pytest.raises(RuleViolation) as unknown:
        app.import_bank_return(CLERK, YELIN, MONTH, "dibao", "回盘.csv", content,
                               scheme="hnnx")
    assert unknown.value.code == "disbursement.bank_code_unknown"
    assert unknown.value.field == "file.row[2].reason"
    with pytest.raises(RuleViolation) as scheme:
        app.import_bank_return(CLERK, YELIN, MONTH, "dibao", "回盘.csv", content,
                               scheme="nosuchbank")
    assert (scheme.value.code, scheme.value.field) == ("disbursement.bank_scheme_unknown",
                                                       "scheme")
    roster = app.roster(CLERK, YELIN, MONTH, "dibao")
    assert roster.bank_return is None and roster.status.value == "locked"


def test_the_code_book_is_checked_when_loaded(tmp_path: Path) -> None:
    data = yaml.safe_load(DEFAULT_RETURN_CODES.read_text(encoding="utf-8"))
    data["versions"][0]["schemes"]["hnnx"]["E777"] = "ZZ99"
    bad = tmp_path / "codes.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValueError, match="ZZ99"):
        load_return_codes(bad)
    data["versions"][0]["schemes"]["hnnx"].pop("E777")
    data["versions"][0]["codes"]["AC04"]["resolutions"] = ["retry_forever"]
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValueError, match="AC04"):
        load_return_codes(bad)
    assert load_return_codes().in_force(date(2026, 6, 16)).codes["AC06"].account == "blocked"
