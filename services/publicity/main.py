"""Composition root of publicity: `python -m services.publicity`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import yaml
from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import SettingsConfigDict

from services.publicity import api
from services.publicity.application import Checklists, PublicityApplication, PublicityPolicy
from services.publicity.contracts import PublicityContracts
from services.publicity.ratelimit import PublicLimits, RateLimited, TokenBucket, parse_networks
from services.publicity.reactions import reactions
from services.publicity.scheduler import NoticeScheduler
from shared.clock import Clock
from shared.pii import NameMaskRule
from shared.regions import load_county
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings
from shared.web import problem

log = logging.getLogger(__name__)

# The checklist intake enforces lives in intake's policy file. Publicity reads that file as
# data (never intake's code), so the public page and intake's check cannot disagree. In a
# deployment the same file is mounted for both (PUBLICITY_MATERIALS_CHECKLIST_FILE and
# INTAKE_POLICY_FILE); the repository default points at intake's shipped copy.
# The same rule data intake enforces, so the public page cannot disagree with it.
DEFAULT_CHECKLIST_FILE = Path(__file__).parents[2] / "shared" / "data" / "policy" / "intake.yaml"


class PublicitySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PUBLICITY_")
    service: str = "publicity"
    http_port: int = 8703

    # County policy (DOMAIN.md "setting").
    notice_window_days: int = Field(7, ge=1, le=60, description="公示期 in calendar days")
    name_display_rule: NameMaskRule = "keep_surname"
    closing_soon_days: int = Field(2, ge=0, le=30)
    inquiry_response_working_days: int = Field(
        5, ge=1, le=60, description="咨询答复时限: working days to answer an inquiry")
    materials_checklist_file: Path = DEFAULT_CHECKLIST_FILE

    # The window scheduler (its clock: ServiceSettings.clock_*).
    scheduler_interval_s: float = Field(30.0, gt=0)

    # Public endpoints: per-client token buckets (the gateway must limit as well).
    public_read_burst: int = Field(60, ge=1)
    public_reads_per_minute: float = Field(120.0, gt=0)
    public_objection_burst: int = Field(5, ge=1)
    public_objections_per_minute: float = Field(2.0, gt=0)
    # Receipt-and-code lookups: slow enough that guessing codes is hopeless.
    public_lookup_burst: int = Field(10, ge=1)
    public_lookups_per_minute: float = Field(10.0, gt=0)
    rate_limit_max_clients: int = Field(10_000, ge=1)
    # Trusted proxies in front (gateway: 1) whose X-Forwarded-For names the client; 0 uses
    # the peer address, which behind an unconfigured gateway puts everyone in one bucket.
    trusted_proxy_hops: int = Field(0, ge=0, le=5)
    # Only a peer in these networks (comma-separated CIDRs) may name the client in
    # X-Forwarded-For; a request sent straight to this port by anyone else is limited by its
    # own address, whatever the header says. Loopback suits the embedded stack, where the
    # gateway is on 127.0.0.1; compose and k8s name their gateway's network.
    trusted_proxies: str = "127.0.0.0/8,::1/128"

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)  # a typo fails at start, not silently trusts nobody
        return value
    # Public bodies are a few kilobytes of text; refuse anything larger before parsing.
    max_body_bytes: int = 65_536


class PublicityRuntime(ServiceRuntime):
    """The shared runtime plus the window scheduler, which sweeps once before serving."""

    app: PublicityApplication

    def __init__(self, settings: PublicitySettings, app: PublicityApplication,
                 **kwargs: object) -> None:
        super().__init__(settings, app, **kwargs)  # type: ignore[arg-type]
        self.scheduler = NoticeScheduler(app, settings.scheduler_interval_s)
        self._scheduler_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await super().start()
        await self.scheduler.sweep()  # windows that ended while the service was down
        self._scheduler_task = asyncio.create_task(self.scheduler.run(), name="scheduler")

    async def stop(self) -> None:
        self.scheduler.stop()
        if self._scheduler_task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._scheduler_task
            self._scheduler_task = None
        await super().stop()


def load_checklists(path: Path) -> Checklists | None:
    """Intake's checklists, or None (the policy pages say so) when the file is unusable."""
    try:
        with path.open(encoding="utf-8") as f:
            return Checklists.model_validate(yaml.safe_load(f))
    except (OSError, yaml.YAMLError, ValidationError) as e:
        log.error("materials checklist %s unusable: %s", path, e)
        return None


def build(settings: PublicitySettings | None = None, clock: Clock | None = None) -> ServiceRuntime:
    settings = settings or PublicitySettings()
    policy = PublicityPolicy(window_days=settings.notice_window_days,
                             name_rule=settings.name_display_rule,
                             closing_soon_days=settings.closing_soon_days,
                             inquiry_response_working_days=settings.inquiry_response_working_days)
    # Operators extend next year's holidays by dropping a file in var/holidays.
    app = PublicityApplication(settings, load_county(settings.region), policy,
                               clock or settings.clock, settings.calendar,
                               load_checklists(settings.materials_checklist_file))
    reads = TokenBucket(settings.public_read_burst, settings.public_reads_per_minute,
                        settings.rate_limit_max_clients)
    writes = TokenBucket(settings.public_objection_burst, settings.public_objections_per_minute,
                         settings.rate_limit_max_clients)
    lookups = TokenBucket(settings.public_lookup_burst, settings.public_lookups_per_minute,
                          settings.rate_limit_max_clients)
    rt = PublicityRuntime(settings, app, to_integration=PublicityContracts(app),
                          routers=api.routers, reactions=reactions(app))
    rt.http.state.public_limits = PublicLimits(  # charged by services/publicity/routes
        reads, writes, lookups, settings.trusted_proxy_hops,
        parse_networks(settings.trusted_proxies))

    @rt.http.exception_handler(RateLimited)
    async def rate_limited(request: Request, e: RateLimited) -> JSONResponse:
        resp = problem(429, e.code, e.message, request, retry_after_s=e.retry_after_s)
        resp.headers["retry-after"] = str(int(e.retry_after_s))
        return resp

    return rt
