"""Review's reaction to publicity's report_upheld (举报查实): the benefit it names falls due
for recheck (复查) at once, once per report, through the kernel's exactly-once step. The
flow over a real nats-server is in tests/publicity/test_channel_nats.py."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from services.review.domain import entitlement_id_for
from shared.auth import Role
from shared.bus import TrackedConsumer
from shared.contracts import GENESIS_HASH, Actor, Envelope
from shared.contracts.publicity import ReportUpheld
from shared.errors import DomainError
from shared.pii import Keyring
from shared.runtime import ServiceRuntime
from tests.support.places import GUANGPO, TAOYUAN, YELIN
from tests.support.review import confirmed
from tests.support.signing import sealed

pytestmark = pytest.mark.fast

REVIEWER = Actor(user_id="rev-yelin", role="township_reviewer", township=YELIN)


class PublicityStream:
    """Numbers publicity's envelopes as its relay would: positions, versions, chains."""

    def __init__(self) -> None:
        self.position = 0
        self.heads: dict[UUID, str] = {}

    def envelope(self, upheld: ReportUpheld) -> Envelope:
        self.position += 1
        env = sealed(
            self.heads.get(upheld.report_id, GENESIS_HASH), event_id=uuid4(),
            type=upheld.TYPE, version=upheld.VERSION, source="publicity", region="469028",
            aggregate_id=upheld.report_id, aggregate_version=self.position,
            position=self.position, occurred_at=datetime.now(UTC), actor=REVIEWER,
            case_id=str(upheld.case_id) if upheld.case_id else None,
            township=upheld.township, data=upheld.model_dump(mode="json"))
        self.heads[upheld.report_id] = env.hash
        return env


def deliver(review: ServiceRuntime, env: Envelope) -> bool:
    consumer = TrackedConsumer(review.app, review.bus, "publicity",
                               review.reactions["publicity"])
    return consumer.deliver(env)


def upheld(report_id: UUID, **names: Any) -> ReportUpheld:
    return ReportUpheld(report_id=report_id, category="not_eligible", township=YELIN,
                        village=TAOYUAN, finding="经营收入未申报", upheld_on=date(2025, 5, 6),
                        **names)


def events(review: ServiceRuntime) -> list[str]:
    return [type(e).__name__ for _, e in review.app.iter_domain_events()]


async def test_an_upheld_report_brings_the_recheck_forward_once(
        http: httpx.AsyncClient, review: ServiceRuntime, keyring: Keyring, as_: Any) -> None:
    entitlement_id = await confirmed(http, review, keyring, as_)
    leader = as_(Role.TOWNSHIP_LEADER)
    before = (await http.get(f"/entitlements/{entitlement_id}", headers=leader)).json()
    assert before["recheck_due"] == "2026-04-01"
    stream, report_id = PublicityStream(), uuid4()

    env = stream.envelope(upheld(report_id, entitlement_id=UUID(entitlement_id)))
    assert deliver(review, env)
    assert not deliver(review, env)  # a redelivery: the inbox stops it
    assert deliver(review, stream.envelope(upheld(report_id, entitlement_id=UUID(
        entitlement_id))))  # the same report again at a new position: handled, no effect
    assert events(review).count("RecheckRequested") == 1

    after = (await http.get(f"/entitlements/{entitlement_id}", headers=leader)).json()
    assert after["recheck_due"] == "2025-05-06"
    assert after["recheck_requests"] == [{"report_id": str(report_id),
                                          "category": "not_eligible",
                                          "finding": "经营收入未申报",
                                          "upheld_on": "2025-05-06"}]
    due = (await http.get("/entitlements", params={"township": YELIN,
                                                   "recheck_due_by": "2025-05-06"},
                          headers=leader)).json()
    assert [i["entitlement_id"] for i in due["items"]] == [entitlement_id]
    recheck = next(e for _, e in review.app.iter_domain_events()
                   if type(e).__name__ == "RecheckRequested")
    assert recheck.actor["user_id"] == "rev-yelin"  # who found the report true

    # The recheck considers the report, and schedules the next one from its own date.
    review.app.today = lambda: date(2025, 5, 12)  # type: ignore[method-assign]
    r = await http.post(f"/entitlements/{entitlement_id}/rechecks", headers=leader,
                        json={"finding": "入户复查：经营收入属实，另行调整", "changed": True})
    assert r.status_code == 201, r.text
    done = (await http.get(f"/entitlements/{entitlement_id}", headers=leader)).json()
    assert done["recheck_requests"] == [] and done["recheck_due"] == "2026-05-12"


async def test_a_report_naming_the_case_of_a_notice_finds_its_benefit(
        http: httpx.AsyncClient, review: ServiceRuntime, keyring: Keyring, as_: Any) -> None:
    entitlement_id = await confirmed(http, review, keyring, as_)
    case_id = (await http.get(f"/entitlements/{entitlement_id}",
                              headers=as_(Role.TOWNSHIP_LEADER))).json()["case_id"]
    assert entitlement_id_for(UUID(case_id)) == UUID(entitlement_id)
    assert deliver(review, PublicityStream().envelope(upheld(uuid4(), case_id=UUID(case_id))))
    assert events(review).count("RecheckRequested") == 1


async def test_a_report_naming_no_benefit_changes_nothing_and_a_wrong_township_is_refused(
        http: httpx.AsyncClient, review: ServiceRuntime, keyring: Keyring, as_: Any) -> None:
    stream = PublicityStream()
    assert deliver(review, stream.envelope(upheld(uuid4())))  # e.g. a household left out
    assert deliver(review, stream.envelope(upheld(uuid4(), case_id=uuid4())))  # no benefit
    assert "RecheckRequested" not in events(review)
    entitlement_id = await confirmed(http, review, keyring, as_)
    wrong = upheld(uuid4(), entitlement_id=UUID(entitlement_id)).model_copy(
        update={"township": GUANGPO})
    with pytest.raises(DomainError) as e:  # the consumer dead-letters it
        deliver(review, stream.envelope(wrong))
    assert e.value.code == "review.report_township"
    assert "RecheckRequested" not in events(review)
