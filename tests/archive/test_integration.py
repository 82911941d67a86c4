"""Archive over real NATS, on SQLite and on PostgreSQL: it consumes the streams of intake,
review and publicity (published here as their relays would, valid chains plus tampered
copies), builds one cross-service timeline, raises chain alarms as events, and rebuilds its
read models from the streams ending identical."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

import nats
import pytest
import sqlalchemy as sa

from services.archive.main import ArchiveRuntime
from shared.auth import Role, TokenIssuer
from shared.contracts import Envelope
from shared.contracts.archive import ChainAlarm
from tests.support.archive import T0, Streams, actor, dibao_case, stored, tampered
from tests.support.infra import NatsServer
from tests.support.places import YELIN
from tests.support.signing import sealed
from tests.support.stack import (
    ensure_streams,
    eventually,
    publish,
    rebuild_read_models,
)
from tests.support.web import bearer, client

pytestmark = pytest.mark.nats


@pytest.fixture
async def archive(services: Any, nats_server: NatsServer) -> ArchiveRuntime:
    await ensure_streams(nats_server.url, "intake", "review", "publicity")
    return await services("archive")


async def test_timeline_across_three_services_alarms_and_an_identical_rebuild(
        archive: ArchiveRuntime, nats_server: NatsServer, issuer: TokenIssuer) -> None:
    streams = Streams()
    application, review_case, envs = dibao_case(streams, household_id="HH-7")
    # A second intake aggregate whose second link is edited after sealing, and a review
    # link forged onto the genesis hash of a chain that already has links.
    other = uuid4()
    clerk = actor("clerk-yelin-1", "township_clerk")
    first = streams.emit("intake", "application_submitted", other, {
        "application_id": str(other), "kind": "linshi", "township": YELIN,
        "village": "469028100201", "household_size": 1, "close_relative_declared": False},
        at=T0, who=clerk, case_id=str(other), township=YELIN)
    second = streams.emit("intake", "application_accepted", other, {
        "application_id": str(other), "kind": "linshi", "township": YELIN,
        "village": "469028100201", "accepted_on": "2025-03-03", "applicant_name": "符某",
        "members": [], "close_relative_declared": False},
        at=T0 + timedelta(hours=1), who=clerk, case_id=str(other),
        township=YELIN)
    edited = tampered(second, applicant_name="符某某")
    opened = next(e for e in envs if e.type == "case_opened")
    streams.heads[opened.aggregate_id] = "0" * 64  # the forger restarts the chain
    forged = streams.emit("review", "case_rejected", opened.aggregate_id, {
        "case_id": review_case, "application_id": application, "kind": "dibao",
        "township": YELIN, "village": "469028100201", "decided_on": "2025-03-20",
        "reasons": ["伪造"]}, at=T0 + timedelta(days=20),
        who=actor("intruder", "township_leader"), case_id=review_case, township=YELIN)
    upstream = [*envs, first, edited, forged]
    await publish(nats_server.url, upstream)

    # Neither refused copy enters the timeline; both alarms come back through archive's
    # own stream into it.
    await eventually(lambda: stored(archive) == len(upstream) - 2 + 2, timeout=20)
    async with client(archive) as http:
        bureau = bearer(issuer, Role.COUNTY_BUREAU)
        r = await http.get(f"/audit/cases/{application}/timeline", headers=bureau)
        assert r.status_code == 200, r.text
        events = r.json()["events"]
        assert {e["source"] for e in events} >= {"intake", "review", "publicity"}
        assert [e["type"] for e in events if e["source"] != "archive"] == [
            "application_submitted", "application_accepted", "case_opened",
            "opinion_issued", "notice_opened", "case_confirmed"]
        alarms = (await http.get("/audit/alarms", headers=bureau)).json()["items"]
        assert sorted((a["upstream"], a["position"], a["reason"]) for a in alarms) == [
            ("intake", edited.position, "hash_mismatch"),
            ("review", forged.position, "prev_hash_mismatch")]
        on_stream = [e for e in events if e["source"] == "archive"]
        assert [e["type"] for e in on_stream] == ["chain_alarm"]
        assert ChainAlarm.model_validate(on_stream[0]["data"]).upstream_position == \
            forged.position
        r = await http.get(f"/audit/cases/{application}/verification", headers=bureau)
        assert r.json()["first_broken"] is None  # what was stored is the true chain

        # Rebuild: drop everything, replay the own log and every stream from the start.
        before = archive.app.snapshot_read_models()
        t = archive.app.views.envelopes
        with archive.app.unit_of_work() as s:  # damage that a rebuild must repair
            s.execute(sa.delete(t).where(t.c.source == "publicity"))
        assert archive.app.snapshot_read_models() != before
        done = await rebuild_read_models(http, bearer(issuer, Role.COUNTY_CENTRE))
        assert done["result"]["stream_events"]["publicity"] == 1
        assert archive.app.snapshot_read_models() == before
        r = await http.post("/ops/rebuild-read-models", headers=bureau)
        assert r.status_code == 403 and r.json()["code"] == "auth.role"

    # No second alarm from the replay, and the consumers run again afterwards.
    assert len([e for _, e in archive.app.iter_domain_events()
                if type(e).__name__ == "Raised"]) == 2
    late = streams.emit("publicity", "notice_closed", uuid4(), {
        "notice_id": str(uuid4()), "case_id": review_case, "subject": "opinion", "round": 1,
        "township": YELIN, "village": "469028100201", "outcome": "clean",
        "closed_on": "2025-03-14"}, at=T0 + timedelta(days=11),
        who=clerk, case_id=review_case, township=YELIN)
    await publish(nats_server.url, [late])
    await eventually(lambda: stored(archive, "publicity") == 2, timeout=20)


async def test_a_different_copy_at_an_archived_position_raises_an_alarm(
        archive: ArchiveRuntime, nats_server: NatsServer, issuer: TokenIssuer) -> None:
    streams = Streams()
    application, _, envs = dibao_case(streams, household_id="HH-9")
    await publish(nats_server.url, envs)
    await eventually(lambda: stored(archive, "intake") + stored(archive, "review")
                                    + stored(archive, "publicity") == len(envs), timeout=20)

    original = envs[1]
    # A copy signed with intake's own key (a forked or compromised publisher): a tampered
    # copy would already be refused as a hash mismatch.
    fields = {k: getattr(original, k) for k in Envelope.model_fields
              if k not in ("hash", "prev_hash", "kid", "sig")}
    forged = sealed(original.prev_hash, **{
        **fields, "data": {**original.data, "applicant_name": "某某某"}})
    nc = await nats.connect(nats_server.url)
    # A new message id slips past JetStream's de-duplication: the inbox must catch it.
    await nc.jetstream().publish(forged.subject, forged.to_bytes(),
                                 headers={"Nats-Msg-Id": "forged-copy"})
    await nc.close()

    async with client(archive) as http:
        bureau = bearer(issuer, Role.COUNTY_BUREAU)

        async def alarmed() -> list[Any] | None:
            items = (await http.get("/audit/alarms", headers=bureau)).json()["items"]
            return [a for a in items if a["reason"] == "conflicting_copy"] or None

        alarms = await eventually(alarmed, timeout=20)
        assert [(a["upstream"], a["position"]) for a in alarms] == [
            (original.source, original.position)]
        timeline = (await http.get(f"/audit/cases/{application}/timeline",
                                   headers=bureau)).json()["events"]
        kept = next(e for e in timeline if e.get("position") == original.position
                    and e["source"] == original.source)
        assert kept["hash"] == original.hash  # the first copy stays in the record
