"""The audit console in a real browser (Debian's chromium through Playwright) against the
embedded stack: an inspector answers "who decided this case, when and why" without reading
JSON, sees the case as it was before its confirmation, verifies its chain and sees the alarm
a tampered copy raises; a clerk of another township is refused."""

from __future__ import annotations

import asyncio
import json
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.clock import CHINA
from tests.support.console import Stack, delete_the_archived_tail, tamper_with_a_copy
from tests.support.places import GUANGPO, YELIN

pytestmark = [pytest.mark.nats, pytest.mark.slow]


def sign_in(browser: Any, stack: Stack, role: str, township: str = "") -> Any:
    """A fresh browser context, signed in through the development sign-in, by keyboard."""
    page = browser.new_context(locale="zh-CN").new_page()
    page.goto(f"{stack.console}/signin")
    page.get_by_label("角色", exact=True).select_option(role)
    if township:
        page.get_by_label("乡镇", exact=True).select_option(township)
    page.locator("#dev-signin").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/console/find$"))
    return page


def api_timeline(stack: Stack, case_id: str) -> list[dict[str, Any]]:
    tokens = json.loads((stack.var / "dev-tokens.json").read_text())
    r = httpx.get(f"{stack.gateway}/api/archive/audit/cases/{case_id}/timeline",
                  headers={"authorization": f"Bearer {tokens['discipline_inspector']}"})
    assert r.status_code == 200, r.text
    events: list[dict[str, Any]] = r.json()["events"]
    return events


def api_verification(stack: Stack, case_id: str) -> dict[str, Any]:
    tokens = json.loads((stack.var / "dev-tokens.json").read_text())
    r = httpx.get(f"{stack.gateway}/api/archive/audit/cases/{case_id}/verification",
                  headers={"authorization": f"Bearer {tokens['discipline_inspector']}"})
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


def test_an_inspector_follows_a_case_from_find_to_an_alarm(browser: Any, stack: Stack,
                                                          shoot: Any) -> None:
    from playwright.sync_api import expect

    case = stack.case
    page = sign_in(browser, stack, "discipline_inspector")
    expect(page.locator("#who")).to_contain_text("纪委监委")
    expect(page.locator(".serves")).to_contain_text("纪委监委")

    # Find: 椰林镇's 低保 applications.
    page.get_by_label("乡镇", exact=True).select_option(YELIN)
    page.get_by_label("救助类别", exact=True).select_option("dibao")
    page.get_by_role("button", name="查找").click()
    row = page.locator("#results tbody tr", has_text="最低生活保障")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("已确认")
    shoot(page, "find")

    # The timeline: every audit record of the case, in Chinese, with who, when and why.
    row.get_by_role("link", name="审计时间线").click()
    page.wait_for_url(re.compile(rf".*/cases/{case.application_id}$"))
    expected = api_timeline(stack, case.application_id)
    events = page.locator("#events li.event")
    expect(events).to_have_count(len(expected))
    assert len(expected) >= 15  # filing to entitlement across intake, review, publicity…
    confirmed = page.locator('#events li[data-type="case_confirmed"]')
    expect(confirmed).to_contain_text("审核确认")
    expect(confirmed).to_contain_text("乡镇分管领导")
    expect(confirmed).to_contain_text("椰林镇")
    expect(confirmed).to_contain_text("理由：经审核确认")
    expect(confirmed.locator(".changes")).to_contain_text("confirmed")
    shoot(page, "timeline")

    # The filter: publicity's records only (htmx swaps the list in place).
    page.get_by_label("服务", exact=True).select_option("publicity")
    publicity = [e for e in expected if e["source"] == "publicity"]
    expect(events).to_have_count(len(publicity))
    assert {page.locator("#events li.event").nth(i).get_attribute("data-source")
            for i in range(len(publicity))} == {"publicity"}
    expect(page).to_have_url(re.compile(r"source=publicity"))
    shoot(page, "timeline-filtered")

    # Unmasking is intake's audited call, with the reason typed here.
    page.get_by_label("查看理由", exact=True).fill("纪检核查：核对身份证号")
    page.get_by_role("button", name="查看未脱敏信息").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("未脱敏信息")
    expect(page.get_by_role("status")).to_contain_text("纪检核查：核对身份证号")
    shoot(page, "unmasked")
    page.goto(f"{stack.console}/cases/{case.application_id}")

    # The household file (一户一档), linked from the case.
    page.locator("#household-link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(case.household_id)
    expect(page.locator("#completeness")).to_contain_text("不齐全")  # one scan of many
    shoot(page, "household")
    # Opening the scan is archive's audited call, with the reason typed here.
    page.get_by_label("查阅理由", exact=True).fill("纪检核查：核对申请书")
    with page.expect_popup() as opened:
        page.get_by_role("button", name="打开").click()
    scan = opened.value
    scan.wait_for_load_state()
    scan.close()

    # As of the day before confirmation: the case did not exist yet; a second before it,
    # the officials saw a publicized case with no decision.
    decided = next(e for e in expected if e["type"] == "case_confirmed")
    confirmed_at = datetime.fromisoformat(decided["at"]).astimezone(CHINA)
    page.goto(f"{stack.console}/cases/{case.application_id}/as-of")
    day_before = (confirmed_at - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    page.get_by_label("日期和时间(北京时间)").fill(day_before)
    page.get_by_label("日期和时间(北京时间)").press("Enter")
    expect(page.locator("#state-status")).to_contain_text("尚无本案记录")
    shoot(page, "as-of-day-before")
    page.get_by_role("link", name=re.compile("确认前一刻")).click()
    expect(page.locator("#state-status")).to_have_text("公示期满")
    expect(page.locator("#state-decision")).to_have_text("—")
    instant = confirmed_at - timedelta(milliseconds=1)  # the link's, to the millisecond
    instant = instant.replace(microsecond=instant.microsecond // 1000 * 1000)
    before = [e for e in expected if datetime.fromisoformat(e["at"]) <= instant]
    expect(page.locator("#state li.event")).to_have_count(len(before))
    shoot(page, "as-of-before-confirmation")

    # Integrity: the case's chains verify, and no alarm is open yet.
    page.goto(f"{stack.console}/integrity?case={case.application_id}")
    expect(page.locator(".verdict-text")).to_have_text("校验通过")
    expect(page.locator("#alarms")).to_contain_text("没有链告警")
    shoot(page, "integrity-ok")

    # Someone with the bus's credentials but no signing key edits the acceptance.
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's loop
        accepted = pool.submit(asyncio.run, tamper_with_a_copy(
            stack.nats_url, stack.var / "keys", case.application_id)).result()
    alarm = page.locator("#alarms tr.alarm.open")
    for _ in range(40):  # archive's consumer raises the alarm within moments
        page.reload()
        if alarm.count():
            break
        page.wait_for_timeout(250)
    expect(alarm).to_have_count(1)
    expect(alarm).to_contain_text("哈希不符")
    expect(alarm).to_contain_text(f"受理 @ {accepted.position}")
    expect(alarm).to_contain_text(case.application_id)
    expect(page.locator(".verdict-text")).to_have_text("校验通过")  # the copy never entered
    shoot(page, "integrity-alarm")
    # The inspector records what was done about it, with a reason: the alarm is resolved.
    alarm.get_by_label("处理说明", exact=True).fill("已核实：篡改副本被拒收，原记录完好")
    alarm.get_by_role("button", name="确认处理").click()
    resolved = page.locator("#alarms tr.alarm.resolved")
    expect(resolved).to_have_count(1)
    expect(resolved).to_contain_text("已核实：篡改副本被拒收")

    # Deleting the newest archived link of the application leaves a chain that still links:
    # intake's checkpoint says what archive should hold, so the page names the missing tail.
    intake_head = max(e["position"] for e in expected if e["source"] == "intake")
    for _ in range(80):  # intake checkpoints a second after it goes quiet
        if api_verification(stack, case.application_id)["completeness"]["intake"][
                "covered_position"] >= intake_head:
            break
        page.wait_for_timeout(250)
    deleted = delete_the_archived_tail(stack.var, case.application_id)
    page.goto(f"{stack.console}/integrity?case={case.application_id}")
    expect(page.locator(".verdict-text")).to_have_text("校验未通过")
    expect(page.locator("#first-broken")).to_contain_text("缺失链尾")
    expect(page.locator("#first-broken")).to_contain_text(f"位置 {deleted}")
    shoot(page, "integrity-missing-tail")

    # The sensitive-access page and the other pages answer for the inspector.
    page.goto(f"{stack.console}/sensitive")
    viewed = page.locator("#sensitive tbody tr", has_text="纪检核查：核对申请书")
    expect(viewed).to_have_count(1)
    expect(viewed).to_contain_text("纪委监委")
    unmasked = page.locator("#sensitive tbody tr", has_text="纪检核查：核对身份证号")
    expect(unmasked).to_have_count(1)
    shoot(page, "sensitive")
    page.get_by_label("人员(姓名或用户号)", exact=True).fill("nobody-such")
    page.get_by_role("button", name="筛选").click()
    expect(page.locator("#sensitive tbody")).to_contain_text("没有记录")
    # Supervision: the county centre's scan raises its findings; the page lists exactly
    # archive's alerts for the township, its filings and review's deadlines.
    tokens = json.loads((stack.var / "dev-tokens.json").read_text())
    r = httpx.post(f"{stack.gateway}/api/archive/supervision/alerts/scan", json={},
                   headers={"authorization": f"Bearer {tokens['county_centre']}"})
    assert r.status_code == 200, r.text
    r = httpx.get(f"{stack.gateway}/api/archive/supervision/alerts",
                  params={"township": YELIN},
                  headers={"authorization": f"Bearer {tokens['discipline_inspector']}"})
    alerts = r.json()["items"]
    page.goto(f"{stack.console}/supervision")
    page.get_by_label("乡镇", exact=True).select_option(YELIN)
    page.get_by_role("button", name="查看").click()
    expect(page.get_by_role("heading", name=re.compile("已逾期"))).to_be_visible()
    if alerts:
        expect(page.locator("#alerts tbody tr")).to_have_count(len(alerts))
    else:
        expect(page.locator("#alerts tbody")).to_contain_text("没有预警")
    shoot(page, "supervision")
    for path, heading in (("/supervision", "监督"), ("/money", "资金")):
        page.goto(stack.console + path)
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
    expect(page.locator("svg.chart")).to_have_count(3)
    shoot(page, "money")


def test_a_clerk_of_another_township_is_refused(browser: Any, stack: Stack,
                                                shoot: Any) -> None:
    from playwright.sync_api import expect

    case = stack.case
    page = sign_in(browser, stack, "township_clerk", GUANGPO)
    expect(page.locator("#who")).to_contain_text("光坡镇")
    for path in (f"/cases/{case.application_id}", f"/cases/{case.application_id}/as-of",
                 f"/integrity?case={case.application_id}", f"/households/{case.household_id}"):
        response = page.goto(stack.console + path)
        assert response is not None and response.status == 403, path
        expect(page.get_by_role("heading", level=1)).to_have_text("拒绝访问")
        expect(page.locator("#events")).to_have_count(0)
    shoot(page, "refused")
    # Their own township's search does not list the case either.
    page.goto(f"{stack.console}/find?q={case.application_id}")
    expect(page.locator("#results tbody")).to_contain_text("没有符合条件的记录")


def test_forms_need_their_csrf_token_and_a_real_token(stack: Stack) -> None:
    """No browser needed: a cross-site post carries no CSRF token, a forged JWT no session."""
    with httpx.Client(base_url=stack.console) as c:
        r = c.post("/signin", data={"token": "eyJhbGciOiJub25lIn0.e30."})
        assert r.status_code == 403  # no sign-in nonce: refused before the token is read
        nonce = re.search(r'name="nonce" value="([^"]+)"', c.get("/signin").text)
        assert nonce is not None
        r = c.post("/signin", data={"nonce": nonce.group(1),
                                    "token": "eyJhbGciOiJub25lIn0.e30."})
        assert r.status_code == 401 and "令牌无效" in r.text
        assert "lingshui_console=" not in r.headers.get("set-cookie", "")
        r = c.post("/signin", data={"nonce": nonce.group(1), "role": "discipline_inspector"})
        assert r.status_code == 303
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        page = c.get("/integrity")
        assert page.status_code == 200
        alarm_id = "00000000-0000-0000-0000-000000000000"
        r = c.post(f"/integrity/alarms/{alarm_id}/acknowledge", data={"reason": "x"})
        assert r.status_code == 403 and "表单已失效" in r.text
        # Bad input is a 422 page naming the field and the rule; nothing is asked upstream.
        r = c.get(f"/cases/{stack.case.application_id}/as-of", params={"at": "yesterday"})
        assert r.status_code == 422 and "字段 at：string_pattern_mismatch" in r.text
        r = c.get(f"/cases/{stack.case.application_id}/as-of",
                  params={"at": "2026-13-45T10:00"})
        assert r.status_code == 422 and "字段 at：datetime" in r.text
        r = c.get("/cases/not%20an%20id")
        assert r.status_code == 422 and "字段 case_id：string_pattern_mismatch" in r.text
        # Signed out: the pages send the browser to the sign-in page.
        r = c.post("/signout", data={"csrf": re.search(
            r'name="csrf" value="([^"]+)"', c.get("/find").text).group(1)})
        assert r.status_code == 303 and r.headers["location"].endswith("/signin")
        r = c.get("/find")
        assert r.status_code == 303 and "/signin" in r.headers["location"]
