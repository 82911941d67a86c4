"""The county audit console (/console): server-rendered pages over the services' APIs.

Each page is one or a few API calls made with the signed-in user's own token, rendered in
Chinese. Nothing is stored here; an unmask or a document opened from a page is the same
audited API call with the reason the user typed."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import FastAPI, Form, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic_settings import BaseSettings, SettingsConfigDict

from deploy.console import charts, labels
from deploy.console.client import Refused, Services
from deploy.console.session import Session, Sessions
from shared.auth import COUNTY_ROLES, Role, TokenVerifier, Unauthenticated
from shared.clock import CHINA, clock_for
from shared.clock import today as county_today
from shared.contracts.common import SERVICES
from shared.regions import load_county

HERE = Path(__file__).parent
ID = r"^[A-Za-z0-9_-]{1,64}$"
OPTIONAL_ID = r"^([A-Za-z0-9_-]{1,64})?$"
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                     r"[0-9a-fA-F]{12}$")
# Who each page is for (named on the page itself).
SERVES = {
    "find": "纪委监委、县民政局、县民政事务服务中心、乡镇经办人",
    "timeline": "纪委监委、县民政局、县民政事务服务中心、乡镇审核确认人员",
    "household": "县民政局、乡镇经办人(档案管理)、纪委监委",
    "as_of": "纪委监委、县民政局",
    "integrity": "纪委监委、县民政事务服务中心(信息技术)",
    "sensitive": "纪委监委",
    "supervision": "县民政局、纪委监委",
    "money": "县民政局、县财政局、纪委监委",
}
DEV_ROLES = ("discipline_inspector", "county_bureau", "county_centre", "finance_bureau",
             "township_clerk", "township_reviewer", "township_leader",
             "contractor_investigator", "village_assistant")


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONSOLE_", extra="ignore")
    region: str = "469028"
    var_dir: Path = Path("var")
    # The same issuer and keys as the services (their AUTH_* settings).
    auth_public_key_file: Path | None = None
    auth_jwks_url: str | None = None
    auth_issuer: str = "lingshui-dev"
    auth_audience: str = "social-assistance"
    # `make up` only: a development sign-in that picks one of these tokens.
    dev_tokens_file: Path | None = None
    secure_cookies: bool = False  # true behind HTTPS in production
    # The default month of the money page is the county's (shared.clock), never the machine's.
    clock_shift_days: float = 0.0

    @property
    def public_key_file(self) -> Path:
        return self.auth_public_key_file or self.var_dir / "keys" / "jwt-ed25519.pub.pem"


def _china(value: Any) -> str:
    """An instant as Beijing time, to the second."""
    if not value:
        return ""
    try:
        dt = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if dt.tzinfo is None:
        return dt.isoformat(sep=" ")
    return dt.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def _show(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _at_instant(text: str | None) -> datetime | None:
    """A datetime-local value (no zone) is Beijing time; one with an offset keeps it."""
    if not text:
        return None
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:  # the shape was right, the date is not (2026-13-45)
        raise Refused(422, {"title": "输入有误", "detail": f"{text} 不是有效的日期时间",
                            "errors": [{"field": "at", "rule": "datetime",
                                        "message": "not a valid date and time"}]}) from None
    return dt.replace(tzinfo=CHINA) if dt.tzinfo is None else dt


def create_console(upstream: Callable[[str], str],
                   transport: httpx.AsyncBaseTransport | None = None,
                   settings: ConsoleSettings | None = None) -> FastAPI:
    """The console app, mounted by the gateway at /console; `upstream(service)` is the base
    URL of a service's API (the gateway's own routing), `transport` replaces the network."""
    settings = settings or ConsoleSettings()
    county = load_county(settings.region)
    townships = labels.township_names(settings.region)
    villages = labels.village_names(settings.region)
    services = Services(upstream, transport)
    clock = clock_for(settings.clock_shift_days)
    templates = Jinja2Templates(directory=HERE / "templates")
    env = templates.env
    env.filters.update(china=_china, show=_show, urlq=lambda v: quote(str(v), safe=""))
    env.globals.update(roles=labels.ROLES, kinds=labels.KINDS, sources=labels.SOURCES,
                       statuses=labels.STATUSES, alarm_reasons=labels.ALARM_REASONS,
                       alerts_labels=labels.ALERTS, deadline_labels=labels.DEADLINES,
                       townships=townships, villages=villages, serves=SERVES,
                       services_list=SERVICES)
    sessions: Sessions | None = None

    def get_sessions() -> Sessions:
        # Built on first use: a gateway without token keys (tests, compose) still starts.
        nonlocal sessions
        if sessions is None:
            if settings.auth_jwks_url is None and not settings.public_key_file.exists():
                raise Refused(503, {"title": "控制台未配置令牌验证",
                                    "detail": "no public key file or JWKS URL"})
            verifier = TokenVerifier(issuer=settings.auth_issuer,
                                     audience=settings.auth_audience,
                                     public_key_file=settings.public_key_file,
                                     jwks_url=settings.auth_jwks_url, county=county)
            sessions = Sessions(verifier, secure_cookies=settings.secure_cookies)
        return sessions

    app = FastAPI(title="县级审计控制台", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault(
            "content-security-policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
        response.headers.setdefault("x-content-type-options", "nosniff")
        response.headers.setdefault("referrer-policy", "no-referrer")
        if response.headers.get("content-type", "").startswith("text/html"):
            response.headers.setdefault("cache-control", "no-store")
        return response

    def page(request: Request, name: str, session: Session | None, http_status: int = 200,
             **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, {
            "session": session, "base": request.scope.get("root_path", ""), **context},
            status_code=http_status)

    @app.exception_handler(Refused)
    async def refused(request: Request, e: Refused) -> Response:
        if e.status == 401:  # the token expired or was revoked: sign in again
            response = RedirectResponse(f"{request.scope.get('root_path', '')}/signin?expired=1",
                                        status_code=303)
            get_sessions().sign_out(response)
            return response
        session = None
        if e.status != 503:
            session = get_sessions().current(request)
        return page(request, "error.html", session, http_status=e.status, status_code=e.status,
                    problem=e.problem)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError) -> Response:
        errors = [{"field": ".".join(str(p) for p in err["loc"][1:]), "rule": err["type"],
                   "message": err["msg"]} for err in e.errors()]
        problem = {"title": "输入有误", "detail": "；".join(
            f"{x['field']}: {x['message']}" for x in errors), "errors": errors}
        try:
            session = get_sessions().current(request)
        except Refused:  # no token keys configured: the page still says what was wrong
            session = None
        return page(request, "error.html", session, http_status=422, status_code=422,
                    problem=problem)

    def signed_in(request: Request) -> Session:
        session = get_sessions().current(request)
        if session is None:
            raise Refused(401, {"title": "请先登录"})
        return session

    def require_csrf(session: Session, csrf: str | None) -> None:
        if not get_sessions().check_csrf(session, csrf):
            raise Refused(403, {"title": "表单已失效", "detail": "CSRF token missing or wrong",
                                "field": "csrf"})

    def dev_tokens() -> dict[str, str] | None:
        f = settings.dev_tokens_file
        if f is None or not f.exists():
            return None
        tokens: dict[str, str] = json.loads(f.read_text())
        return tokens

    # --- sign-in ------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> Response:
        where = "/find" if get_sessions().current(request) else "/signin"
        return RedirectResponse(f"{request.scope.get('root_path', '')}{where}", status_code=303)

    def signin_page(request: Request, http_status: int = 200, **context: Any) -> Response:
        s = get_sessions()
        cookie = Response()
        nonce = s.login_nonce(request, cookie)
        response = page(request, "signin.html", None, http_status=http_status,
                        dev=dev_tokens() is not None, dev_roles=DEV_ROLES, nonce=nonce,
                        **{"expired": False, "error": None, **context})
        response.headers.append("set-cookie", cookie.headers["set-cookie"])
        return response

    @app.get("/signin", response_class=HTMLResponse)
    async def signin_form(request: Request, expired: bool = False) -> Response:
        return signin_page(request, expired=expired)

    @app.post("/signin", response_class=HTMLResponse)
    async def signin(request: Request, nonce: str = Form(""), token: str = Form(""),
                     role: str = Form(""), township: str = Form("")) -> Response:
        s = get_sessions()
        base = request.scope.get("root_path", "")

        def again(error: str, status: int) -> Response:
            return signin_page(request, status, error=error)

        if not s.check_login_nonce(request, nonce):
            return again("表单已失效，请重新提交", 403)
        chosen = token.strip()
        if not chosen:
            tokens = dev_tokens()
            if tokens is None:
                return again("请填写令牌", 422)
            if role not in DEV_ROLES:
                return again("请选择角色", 422)
            if Role(role) in COUNTY_ROLES:
                key: str | None = role
            elif role == "village_assistant":
                key = next((k for k in sorted(tokens)
                            if k.startswith(f"village_assistant@{township}")), None)
            else:
                key = f"{role}@{township}"
            if key is None or key not in tokens:
                return again("该角色需要选择乡镇", 422)
            chosen = tokens[key]
        response = RedirectResponse(f"{base}/find", status_code=303)
        try:
            s.sign_in(response, chosen)
        except Unauthenticated as e:
            return again(f"令牌无效：{e}", 401)
        return response

    @app.post("/signout")
    async def signout(request: Request, csrf: str = Form("")) -> Response:
        session = signed_in(request)
        require_csrf(session, csrf)
        response = RedirectResponse(f"{request.scope.get('root_path', '')}/signin",
                                    status_code=303)
        get_sessions().sign_out(response)
        return response

    # --- find -----------------------------------------------------------------------------

    @app.get("/find", response_class=HTMLResponse)
    async def find(request: Request, q: str = Query("", max_length=64),
                   township: str = Query("", pattern=r"^(\d{9})?$"),
                   village: str = Query("", pattern=r"^(\d{12})?$"),
                   kind: str = Query("", pattern="^(" + "|".join(labels.KINDS) + ")?$"),
                   status: str = Query("", max_length=20, pattern=r"^[a-z_]*$")) -> Response:
        session = signed_in(request)
        who = session.principal
        q = q.strip()
        searched = bool(q or township or village or kind or status)
        results: list[dict[str, Any]] = []
        total = None
        if UUID_RE.match(q):
            # An application id or a review case id: ask review, then intake.
            for path in (f"/cases/by-application/{q}", f"/cases/{q}"):
                a = await services.call(session.token, "review", path, allow=(403, 404, 422))
                if a.status == 200:
                    c = a.body
                    results.append({"application_id": c.get("application_id"),
                                    "case_id": c.get("case_id"), "township": c.get("township"),
                                    "village": c.get("village"), "kind": c.get("kind"),
                                    "status": c.get("status"),
                                    "household_id": c.get("household_id"),
                                    "applicant_name": c.get("applicant_name")})
                    break
            if not results:
                a = await services.call(session.token, "intake", f"/applications/{q}",
                                        allow=(403, 404, 422))
                if a.status == 200:
                    results.append({**a.body, "case_id": a.body.get("case_id")})
        elif searched:
            scope = township or (None if who.is_county else who.township)
            a = await services.call(session.token, "intake", "/applications", params={
                "township": scope, "village": village, "kind": kind, "status": status,
                "limit": 200})
            total = a.body["total"]
            items = a.body["items"]
            if q:  # a masked name, a household id or part of an id
                items = [i for i in items if q in (i.get("applicant_name") or "")
                         or q in (i.get("household_id") or "")
                         or q in (i.get("application_id") or "")
                         or q in (i.get("case_id") or "")]
            results = items
        return page(request, "find.html", session, results=results, total=total,
                    searched=searched, q=q, township=township, village=village, kind=kind,
                    status=status)

    # --- the case timeline (审计时间线) --------------------------------------------------------

    async def timeline_of(session: Session, case_id: str) -> dict[str, Any]:
        a = await services.call(session.token, "archive",
                                f"/audit/cases/{quote(case_id)}/timeline")
        body: dict[str, Any] = a.body
        return body

    def household_of(events: list[dict[str, Any]]) -> str | None:
        return next((e["household_id"] for e in events if e.get("household_id")), None)

    @app.get("/cases/{case_id}", response_class=HTMLResponse)
    async def timeline(request: Request, case_id: str = PathParam(pattern=ID),
                       source: str = Query("", pattern="^(" + "|".join(SERVICES) + ")?$"),
                       type: str = Query("", max_length=64, pattern=r"^[a-z0-9_]*$"),
                       ) -> Response:
        session = signed_in(request)
        body = await timeline_of(session, case_id)
        events = body["events"]
        types = sorted({e["type"] for e in events})
        shown = [e for e in events if (not source or e["source"] == source)
                 and (not type or e["type"] == type)]
        application_id = next((e["aggregate_id"] for e in events if e["source"] == "intake"
                               and e["type"] == "application_submitted"), None)
        return page(request, "timeline.html", session, case_id=case_id, key=body["case_id"],
                    events=shown, all_count=len(events), types=types, source=source,
                    type=type, household_id=household_of(events),
                    application_id=application_id)

    @app.get("/cases/{case_id}/as-of", response_class=HTMLResponse)
    async def as_of(request: Request, case_id: str = PathParam(pattern=ID),
                    at: str = Query("", max_length=40,
                                    pattern=r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}"
                                            r"(:\d{2}(\.\d{1,6})?)?)?$"),
                    ) -> Response:
        session = signed_in(request)
        body = await timeline_of(session, case_id)
        events = body["events"]
        confirmed = next((e for e in events if e["type"] == "case_confirmed"), None)
        suggestions = {}
        if confirmed:
            t = datetime.fromisoformat(confirmed["at"]).astimezone(CHINA)
            suggestions["确认前一日"] = (t - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
            # (a millisecond before: the notice may have closed in the same second)
            suggestions["确认前一刻"] = (t - timedelta(milliseconds=1)).replace(
                tzinfo=None).isoformat(timespec="milliseconds")
        instant = _at_instant(at)
        state = None
        seen: list[dict[str, Any]] = []
        if instant is not None:
            a = await services.call(session.token, "archive",
                                    f"/audit/cases/{quote(case_id)}/state",
                                    params={"at": instant.isoformat()})
            state = a.body
            seen = [e for e in events if datetime.fromisoformat(e["at"]) <= instant]
        return page(request, "as_of.html", session, case_id=case_id, at=at, instant=instant,
                    state=state, seen=seen, suggestions=suggestions,
                    household_id=household_of(events))

    # --- the household file (一户一档) ---------------------------------------------------------

    @app.get("/households/{household_id}", response_class=HTMLResponse)
    async def household(request: Request,
                        household_id: str = PathParam(pattern=ID)) -> Response:
        session = signed_in(request)
        a = await services.call(session.token, "archive", f"/files/{quote(household_id)}",
                                allow=(404,))
        file = a.body if a.status == 200 else None  # nothing filed for this household yet
        return page(request, "household.html", session, file=file,
                    household_id=household_id)

    @app.post("/households/{household_id}/documents/{sha256}")
    async def open_document(request: Request, household_id: str = PathParam(pattern=ID),
                            sha256: str = PathParam(pattern=r"^[0-9a-f]{64}$"),
                            reason: str = Form(min_length=1, max_length=500),
                            csrf: str = Form("")) -> Response:
        session = signed_in(request)
        require_csrf(session, csrf)
        a = await services.call(session.token, "archive",
                                f"/files/{quote(household_id)}/documents/{sha256}",
                                params={"reason": reason}, accept="*/*")
        return Response(a.content, media_type=a.headers.get("content-type"),
                        headers={"cache-control": "no-store",
                                 "content-disposition": f"inline; filename={sha256[:12]}"})

    @app.post("/applications/{application_id}/unmask", response_class=HTMLResponse)
    async def unmask(request: Request,
                     application_id: str = PathParam(pattern=UUID_RE.pattern),
                     reason: str = Form(min_length=1, max_length=200),
                     csrf: str = Form("")) -> Response:
        session = signed_in(request)
        require_csrf(session, csrf)
        a = await services.call(session.token, "intake", f"/applications/{application_id}",
                                params={"unmask": "true", "reason": reason})
        return page(request, "unmasked.html", session, application=a.body, reason=reason)

    # --- integrity (校验) -------------------------------------------------------------------

    @app.get("/integrity", response_class=HTMLResponse)
    async def integrity(request: Request, case: str = Query("", pattern=OPTIONAL_ID),
                        household: str = Query("", pattern=OPTIONAL_ID),
                        stream: str = Query("", pattern="^(" + "|".join(SERVICES) + ")?$"),
                        open_only: bool = False) -> Response:
        session = signed_in(request)
        who = session.principal
        results: list[dict[str, Any]] = []
        if case:
            a = await services.call(session.token, "archive",
                                    f"/audit/cases/{quote(case)}/verification")
            results.append({"what": f"案件 {case}", "result": a.body})
        if household:
            h = await services.call(session.token, "archive",
                                    f"/audit/households/{quote(household)}/timeline")
            keys = sorted({e["case_id"] for e in h.body["events"] if e.get("case_id")})
            for k in keys:
                a = await services.call(session.token, "archive",
                                        f"/audit/cases/{quote(k)}/verification")
                results.append({"what": f"户 {household} · 案件 {k}", "result": a.body})
        if stream:
            a = await services.call(session.token, "archive",
                                    f"/audit/streams/{stream}/verification")
            results.append({"what": f"{labels.SOURCES[stream]}服务事件流", "result": a.body})
        scope = None if who.is_county else who.township
        alarms = (await services.call(session.token, "archive", "/audit/alarms", params={
            "township": scope, "open_only": "true" if open_only else None})).body["items"]
        return page(request, "integrity.html", session, case=case, household=household,
                    stream=stream, results=results, alarms=alarms, open_only=open_only)

    @app.post("/integrity/alarms/{alarm_id}/acknowledge")
    async def acknowledge_alarm(request: Request, alarm_id: str = PathParam(pattern=ID),
                                reason: str = Form(min_length=1, max_length=500),
                                csrf: str = Form("")) -> Response:
        session = signed_in(request)
        require_csrf(session, csrf)
        await services.call(session.token, "archive", f"/audit/alarms/{alarm_id}/acknowledge",
                            method="POST", json={"reason": reason})
        return RedirectResponse(f"{request.scope.get('root_path', '')}/integrity",
                                status_code=303)

    # --- sensitive access (敏感信息查阅记录) -----------------------------------------------

    @app.get("/sensitive", response_class=HTMLResponse)
    async def sensitive(request: Request, township: str = Query("", pattern=r"^(\d{9})?$"),
                        person: str = Query("", max_length=64),
                        since: str = Query("", pattern=r"^(\d{4}-\d{2}-\d{2})?$"),
                        until: str = Query("", pattern=r"^(\d{4}-\d{2}-\d{2})?$")) -> Response:
        session = signed_in(request)
        who = session.principal
        scope = township or (None if who.is_county else who.township)
        params = {"township": scope, "limit": 1000,
                  "since": _day_start(since), "until": _day_end(until)}
        items = (await services.call(session.token, "archive", "/audit/sensitive-access",
                                     params=params)).body["items"]
        person = person.strip()
        if person:
            items = [i for i in items if person in (i.get("who") or "")
                     or person in ((i.get("by") or {}).get("name") or "")]
        return page(request, "sensitive.html", session, items=items, township=township,
                    person=person, since=since, until=until)

    # --- supervision (监督) ---------------------------------------------------------------------

    @app.get("/supervision", response_class=HTMLResponse)
    async def supervision(request: Request, township: str = Query("", pattern=r"^(\d{9})?$"),
                          month: str = Query("", pattern=r"^(\d{4}-(0[1-9]|1[0-2]))?$"),
                          ) -> Response:
        session = signed_in(request)
        token = session.token
        alerts = (await services.call(token, "archive", "/supervision/alerts", params={
            "township": township, "month": month})).body
        filings = (await services.call(token, "archive", "/supervision/filings", params={
            "township": township, "month": month})).body
        deadlines = None
        if township:
            deadlines = (await services.call(token, "review", "/deadlines",
                                             params={"township": township})).body
        return page(request, "supervision.html", session, alerts=_items(alerts),
                    filings=_items(filings), not_compiled=filings.get("not_compiled", []),
                    deadlines=deadlines, township=township,
                    month=month)

    # --- money (资金) ---------------------------------------------------------------------------

    @app.get("/money", response_class=HTMLResponse)
    async def money(request: Request, month: str = Query("", pattern=r"^(\d{4}-(0[1-9]|1[0-2]))?$"),
                    township: str = Query("", pattern=r"^(\d{9})?$"),
                    first: str = Query("", alias="from",
                                       pattern=r"^(\d{4}-(0[1-9]|1[0-2]))?$"),
                    last: str = Query("", alias="to",
                                      pattern=r"^(\d{4}-(0[1-9]|1[0-2]))?$")) -> Response:
        session = signed_in(request)
        token = session.token
        today = county_today(clock)
        month = month or f"{today.year:04d}-{today.month:02d}"
        plan = None
        a = await services.call(token, "disbursement", f"/fund-plans/{month}",
                                allow=(404,))
        if a.status == 200:
            plan = a.body
        last = last or month
        first = first or _months_before(last, 5)
        series: list[dict[str, Any]] = []
        chart_svgs: list[dict[str, str]] = []
        if session.principal.role in (Role.COUNTY_CENTRE, Role.COUNTY_BUREAU,
                                      Role.DISCIPLINE_INSPECTOR):
            s = await services.call(token, "archive", "/supervision/statistics", params={
                "township": township, "from": first, "to": last})
            series = s.body["series"]
            for figure, title in (("amount", "发放金额(元)"), ("households", "保障户数"),
                                  ("confirmed", "确认件数")):
                chart_svgs.append({"title": title,
                                   "svg": charts.bar_chart(series, figure, title)})
        return page(request, "money.html", session, plan=plan, month=month,
                    township=township, first=first, last=last, series=series,
                    charts=chart_svgs)

    return app


def _items(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        for k in ("items", "alerts", "filings"):
            if isinstance(body.get(k), list):
                return list(body[k])
    return []


def _day_start(day: str) -> str | None:
    return f"{day}T00:00:00+08:00" if day else None


def _day_end(day: str) -> str | None:
    return f"{day}T23:59:59+08:00" if day else None


def _months_before(month: str, n: int) -> str:
    y, m = int(month[:4]), int(month[5:])
    index = y * 12 + (m - 1) - n
    return f"{index // 12:04d}-{index % 12 + 1:02d}"
