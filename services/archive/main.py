"""Composition root of archive: `python -m services.archive` serves;
`python -m services.archive rebuild` rebuilds the read models from the streams (run it
with the service stopped, or call POST /ops/rebuild-read-models on the running service)."""

from __future__ import annotations

import asyncio
import json
import logging
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.archive import api
from services.archive.application import ArchiveApplication, StreamLinks
from services.archive.contracts import ArchiveContracts
from services.archive.document_store import DocumentStore, LocalDocumentStore, S3DocumentStore
from services.archive.domain import DEFAULT_INVESTIGATION_PREFIXES, RequiredDocuments
from services.archive.reactions import reactions
from services.archive.supervision import AlertRules
from services.archive.supervision_app import SupervisionSetup
from shared import rebuild
from shared.bus import read_stream, stream_size
from shared.contracts.common import SERVICES
from shared.rebuild import RebuildProgress, print_progress
from shared.regions import load_county
from shared.runtime import ServiceRuntime
from shared.seals import SealKeys, owner_names
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)
DEFAULT_REQUIRED_DOCUMENTS = Path(__file__).parent / "data" / "required_documents.json"
MiB = 1024 * 1024


class ArchiveSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ARCHIVE_")
    service: str = "archive"
    http_port: int = 8705

    # Uploads: the document limit, with room for the multipart framing in the body limit.
    max_document_bytes: int = 10 * MiB
    max_body_bytes: int = 10 * MiB + 256 * 1024
    allowed_document_types: tuple[str, ...] = ("application/pdf", "image/jpeg", "image/png")

    # Content-addressed document store: a local directory, or S3-compatible storage
    # (credentials from boto3's usual chain: environment, profile, instance role).
    document_store: Literal["local", "s3"] = "local"
    documents_dir: Path | None = None  # default: <var_dir>/documents
    s3_bucket: str | None = None
    s3_prefix: str = ""
    s3_endpoint_url: str | None = None
    s3_region: str | None = None

    # Policy data: which documents a complete file holds, per kind and stage.
    required_documents_file: Path = DEFAULT_REQUIRED_DOCUMENTS
    # Review's event types that count as investigation (see domain.fold_case).
    investigation_event_prefixes: tuple[str, ...] = DEFAULT_INVESTIGATION_PREFIXES
    rebuild_batch_size: int = 500

    # County supervision (issue 11). The monthly rhythm (cut-off, reconcile and file by) is
    # review's policy table as the record holds it: not a setting here.
    seal_keys_dir: Path | None = None  # default <var_dir>/keys/seals: the townships' seals
    seal_keys_create_missing: bool = True  # local stack only: production provisions keys
    seal_algorithm: Literal["sm2", "ed25519"] = "sm2"  # new seals; both verify
    filing_due_working_days: int = Field(5, ge=1, le=20)  # 报备 due after the month's end
    alert_approval_rate_distance: Decimal = Decimal("0.25")
    alert_average_amount_distance: Decimal = Decimal("0.5")
    alert_min_decisions: int = Field(5, ge=1)
    alert_min_households: int = Field(5, ge=1)
    alert_min_townships: int = Field(3, ge=2)
    alert_scan_interval_s: float = 3600.0  # 0: only on request (POST /supervision/alerts/scan)
    max_series_months: int = Field(36, ge=1, le=240)

    @property
    def resolved_seal_keys_dir(self) -> Path:
        return self.seal_keys_dir or self.keys_dir / "seals"

    def supervision(self) -> SupervisionSetup:
        county = load_county(self.region)
        return SupervisionSetup(
            county=county,
            calendar=self.calendar,
            seals=SealKeys(self.resolved_seal_keys_dir,
                           create_missing=self.seal_keys_create_missing, service="archive",
                           algorithm=self.seal_algorithm, county=county.code,
                           names=owner_names(county)),
            rules=AlertRules(
                approval_rate_distance=self.alert_approval_rate_distance,
                average_amount_distance=self.alert_average_amount_distance,
                min_decisions=self.alert_min_decisions,
                min_households=self.alert_min_households,
                min_townships=self.alert_min_townships),
            filing_due_working_days=self.filing_due_working_days,
            max_series_months=self.max_series_months)


def document_store(settings: ArchiveSettings) -> DocumentStore:
    if settings.document_store == "s3":
        if not settings.s3_bucket:
            raise RuntimeError("ARCHIVE_DOCUMENT_STORE=s3 needs ARCHIVE_S3_BUCKET")
        return S3DocumentStore.connect(settings.s3_bucket, settings.s3_prefix,
                                       settings.s3_endpoint_url, settings.s3_region)
    return LocalDocumentStore(settings.documents_dir or settings.var_dir / "documents")


def load_required_documents(path: Path) -> RequiredDocuments:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return RequiredDocuments.from_mapping({k: v for k, v in raw.items()
                                           if not k.startswith("_")})


class ArchiveRuntime(ServiceRuntime):
    app: ArchiveApplication

    settings: ArchiveSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rebuild_lock = asyncio.Lock()

    async def start(self) -> None:
        await super().start()
        if self.settings.alert_scan_interval_s > 0:
            self._tasks.append(asyncio.create_task(self._scan_alerts(), name="alert-scan"))

    async def _scan_alerts(self) -> None:
        """Deadlines pass without an event: a periodic scan raises what is due. Each alert
        has a deterministic id, so replicas scanning at once raise it once (the loser's
        save fails on the version and is simply logged)."""
        while True:
            await asyncio.sleep(self.settings.alert_scan_interval_s)
            if self._rebuild_lock.locked():
                continue
            try:
                raised = await asyncio.to_thread(self.app.supervision.scan_alerts, None)
                if raised:
                    log.info("supervision scan raised %d alerts", len(raised))
            except Exception:
                log.exception("supervision alert scan failed; retrying next interval")

    async def rebuild_read_models(self, progress: RebuildProgress | None = None,
                                  ) -> dict[str, Any]:
        """Archive's own events, then every stream from its start, into shadow read models
        that replace the old ones at the end; reads use the old ones until then. Consumers
        pause meanwhile (what they store would miss the shadow) and resume afterwards."""
        progress = progress or RebuildProgress(self.settings.service)
        async with self._rebuild_lock:
            paused = bool(self.consumers)
            await self.stop_consumers(self.settings.consumer_ack_wait_s)
            try:
                assert self.bus.js is not None
                batch = self.settings.rebuild_batch_size
                sizes = {source: await stream_size(self.bus.js, self.settings.region, source)
                         for source in SERVICES}
                build, replayed = await asyncio.to_thread(rebuild.begin, self.app, progress,
                                                          batch, sum(sizes.values()))
                counts: dict[str, int] = {}
                for source in SERVICES:
                    counts[source] = 0
                    progress.step(f"stream {source} ({sizes[source]} messages)")
                    links = StreamLinks(source)  # the shadow's links, kept between batches
                    # The next batches are fetched and verified while this one is stored.
                    async for envelopes in read_stream(self.bus.js, self.settings.region,
                                                       source, batch, self.trust):
                        await asyncio.to_thread(self.app.archive_envelopes, envelopes,
                                                build.projection, hashes_checked=True,
                                                links=links)
                        counts[source] += len(envelopes)
                        progress.advance(len(envelopes))
                result = await asyncio.to_thread(rebuild.finish, self.app, build, replayed,
                                                 progress, batch, {"stream_events": counts})
            except BaseException as e:
                progress.fail(e)
                raise
            finally:
                if paused:
                    self.start_consumers()
        return result


def build(settings: ArchiveSettings | None = None) -> ArchiveRuntime:
    settings = settings or ArchiveSettings()
    app = ArchiveApplication(
        settings, document_store(settings),
        load_required_documents(settings.required_documents_file),
        max_document_bytes=settings.max_document_bytes,
        allowed_media_types=settings.allowed_document_types,
        investigation_prefixes=settings.investigation_event_prefixes,
        supervision=settings.supervision())
    rt = ArchiveRuntime(settings, app, ArchiveContracts(app), api.routers, reactions(app))
    return rt


async def rebuild_offline(settings: ArchiveSettings | None = None) -> dict[str, Any]:
    """`python -m services.archive rebuild`: the same job, its progress on stderr."""
    rt = build(settings)
    await rt.bus.connect()
    progress = RebuildProgress(rt.settings.service)
    progress.listen(print_progress())
    try:
        return await rt.rebuild_read_models(progress)
    finally:
        await rt.bus.close()
        rt.app.close()
