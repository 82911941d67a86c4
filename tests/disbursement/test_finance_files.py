"""The finance bureau's hand-off (一卡通): the fund plan carries the subsidy-project metadata
(versioned policy data) and its 分户清单 lists every payment the plan funds, with the
project, the account and a trailer the bureau checks against the plan's total."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest
import yaml

from services.disbursement.domain import Resolution
from services.disbursement.finance_files import (
    DEFAULT_SUBSIDY_PROJECTS,
    HOUSEHOLD_LIST_COLUMNS,
    load_subsidy_projects,
)
from shared.auth import Principal, Role
from shared.bankcards import unionpay_card
from shared.errors import NotFound, RuleViolation
from tests.support.actors import CLERK, LEADER
from tests.support.disbursement import application, china, keyring, started, upstream
from tests.support.places import YELIN

pytestmark = pytest.mark.fast

BUREAU = Principal(user_id="bureau", role=Role.COUNTY_BUREAU, township=None)
FINANCE = Principal(user_id="finance", role=Role.FINANCE_BUREAU, township=None)
MONTH = "2026-06"


def test_the_plan_carries_the_projects_and_its_household_list_adds_up(
        tmp_path: Path, keys_dir: Path) -> None:
    ring = keyring(keys_dir)
    app = application(tmp_path, keys_dir)
    people = [("黎阿婆", unionpay_card("622202000000501"), "800.00"),
              ("王五", unionpay_card("622202000000502"), "650.00")]
    for name, account, amount in people:
        app.record_entitlement_started(started(ring, amount=amount, start_month=MONTH,
                                               name=name, account=account),
                                       upstream(china(date(2026, 5, 20))))
    for kind in ("tekun", "linshi", "dibao"):
        app.draft_roster(CLERK, YELIN, MONTH, kind)
        app.lock_roster(CLERK, YELIN, MONTH, kind)
    content = ("account,name,amount,status,reference,reason\r\n"
               f"{people[0][1]},黎阿婆,800.00,paid,B1,\r\n"
               f"{people[1][1]},王五,650.00,failed,B2,AM04\r\n").encode()
    roster = app.import_bank_return(CLERK, YELIN, MONTH, "dibao", "r.csv", content)
    app.resolve_discrepancies(CLERK, YELIN, MONTH, "dibao", list(roster.discrepancies),
                              Resolution.CARRIED_FORWARD, "余额不足，下月补发")
    with pytest.raises(NotFound):  # no plan yet
        app.household_list(FINANCE, MONTH)
    app.seal_statistics(LEADER, YELIN, MONTH)
    app.file_statistics(LEADER, YELIN, MONTH)
    plan = app.compile_fund_plan(BUREAU, MONTH)
    projects = plan.plan["subsidy_projects"]
    assert projects["version"] == 1
    dibao = next(p for p in projects["projects"] if p["kind"] == "dibao")
    assert (dibao["short_name"], dibao["document_number"]) == ("低保金", "国务院令第649号")
    with pytest.raises(RuleViolation) as not_issued:
        app.household_list(FINANCE, MONTH)
    assert not_issued.value.code == "disbursement.plan_not_issued"
    app.issue_fund_plan(BUREAU, MONTH, "测试：其他乡镇未报")

    meta, body = app.household_list(FINANCE, MONTH)
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert tuple(rows[0]) == HOUSEHOLD_LIST_COLUMNS
    (line,), trailer = rows[1:-1], rows[-1]
    # The carried payment is funded with the roster that repays it, not here.
    assert (line[0], line[1], line[9], line[10], line[11]) == (
        dibao["code"], "低保金", "黎阿婆", people[0][1], "800.00")
    assert trailer[0] == "合计" and trailer[11] == meta["total"] == plan.plan["total"] == "800.00"
    assert app.fund_plan(FINANCE, MONTH).household_lists[0]["sha256"] == meta["sha256"]


def test_a_short_name_longer_than_the_passbook_memo_is_refused(tmp_path: Path) -> None:
    data = yaml.safe_load(DEFAULT_SUBSIDY_PROJECTS.read_text(encoding="utf-8"))
    data["versions"][0]["projects"]["dibao"]["short_name"] = "城乡最低生活保障金"
    bad = tmp_path / "projects.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValueError, match="7"):
        load_subsidy_projects(bad)
