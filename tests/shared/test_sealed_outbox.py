"""The sealed outbox (issue 23): envelopes are built and signed in the writer's transaction,
the relay publishes the stored bytes; what a writer leaves unsealed the relay seals, in
order, by the same code, so every aggregate keeps one chain."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.relay_throughput import filing
from services.intake.schemas import FilingContent, plain
from services.intake.values import Household
from shared.auth import Principal, Role
from shared.bus import OutboxRelay
from shared.checkpoint import ChainCheckpoint, Checkpointer
from shared.contracts import GENESIS_HASH, Envelope
from shared.outbox import Sealer
from shared.signing import bus_keys
from tests.support.places import YELIN
from tests.support.stack import NO_NATS, build_service

pytestmark = pytest.mark.fast

CLERK = Principal(user_id="clerk-1", role=Role.TOWNSHIP_CLERK, township=YELIN)
RELAY = "intake->nats"


FILED: dict[UUID, int] = {}  # application -> the filing it was submitted with


def household(i: int) -> Household:
    return Household.of(plain(filing(i).model_dump(include=set(FilingContent.model_fields))))


def submit(app: Any, i: int) -> UUID:
    b = filing(i)
    application_id: UUID = app.submit(
        CLERK, kind=b.kind, linshi_type=plain(b.linshi_type), township=b.township,
        village=b.village, filed_by=b.filed_by, filing=household(i))
    FILED[application_id] = i
    return application_id


def step(app: Any, application_id: UUID, n: int) -> None:
    """The n-th command on an application after its submission (each one event)."""
    if n % 2 == 0:
        app.return_for_completion(CLERK, application_id, ["hukou_booklet"], "缺户口簿")
    else:
        app.resubmit(CLERK, application_id, household(FILED[application_id]))


def outbox(app: Any) -> dict[int, bytes]:
    """Position -> the envelope bytes stored, decrypted."""
    o = app.kernel.outbox
    with app.read_session() as s:
        rows = s.execute(sa.select(o.c.position, o.c.envelope)).all()
    return {int(r[0]): app.from_rest_bytes(r[1]) for r in rows}


def drain(app: Any, sealer: Any = None) -> list[Envelope]:
    """What the relay publishes, batch after batch, without NATS: its own batch code (which
    seals what a writer left) and its fenced advance."""
    relay = SimpleNamespace(app=app, sealer=sealer or app.sealer, batch_size=7, name=RELAY)
    relay._sealed_rows = lambda position, limit: OutboxRelay._sealed_rows(  # type: ignore[arg-type]
        relay, position, limit)
    out: list[Envelope] = []
    while True:
        position = app.relay_position(RELAY)
        last, batch = OutboxRelay._sealed_batch(relay, position)  # type: ignore[arg-type]
        if not batch:
            return out
        out += [Envelope.model_validate_json(payload) for _, _, payload, _ in batch]
        app.advance_relay(RELAY, position, last)


def count_replays(app: Any) -> list[int]:
    """The versions the repository is asked to replay an aggregate at, from now on."""
    replays: list[int] = []
    real_get = app.repository.get

    def counting_get(aggregate_id: Any, version: int | None = None, **kw: Any) -> Any:
        if version is not None:
            replays.append(version)
        return real_get(aggregate_id, version=version, **kw)

    app.repository.get = counting_get
    return replays


@pytest.fixture
def intake(tmp_path: Path, keys_dir: Path) -> Any:
    rt = build_service("intake", tmp=tmp_path, keys_dir=keys_dir, nats_url=NO_NATS,
                       database_url=None, encrypt_at_rest=True)
    yield rt
    rt.app.close()


def test_the_runtime_seals_each_event_at_commit_encrypted_and_signed(
        intake: Any) -> None:
    app = intake.app
    assert app.sealer is not None  # ServiceRuntime wires it, relay or not
    application_id = submit(app, 1)
    app.accept(CLERK, application_id)
    sealed = outbox(app)
    assert sorted(sealed) == [1, 2]  # one row per event, in the writer's transaction
    o = app.kernel.outbox
    with app.read_session() as s:
        stored = s.execute(sa.select(o.c.envelope, o.c.msg_id, o.c.subject)).all()
    _, trust = bus_keys(app.settings)
    envelopes = [Envelope.model_validate_json(sealed[p]) for p in (1, 2)]
    for (raw, msg_id, subject), env in zip(stored, envelopes, strict=True):
        assert b"application_" not in bytes(raw)  # encrypted at rest
        assert (msg_id, subject) == (env.msg_id, env.subject)
        assert env.hash_is_valid()
        assert trust.verify("intake", env.kid, env.sig, env.hash, env.position) is None
    assert envelopes[0].prev_hash == GENESIS_HASH
    assert envelopes[1].prev_hash == envelopes[0].hash
    assert envelopes[1].audit is not None and envelopes[1].audit.changes  # status moved
    # The head moved at commit, with the version it is at.
    assert app.chain_heads([str(application_id)]) == {str(application_id): envelopes[1].hash}
    with app.read_session() as s:
        assert app.chain_heads_in(s, [str(application_id)])[str(application_id)][1] == 2


def test_the_relay_seals_the_same_bytes_as_the_writer(intake: Any) -> None:
    """The audit record's "before" at commit (the values the writer loaded) and the
    relay's (a replay) give byte-identical envelopes."""
    app = intake.app
    replays = count_replays(app)
    ids = [submit(app, i) for i in range(3)]
    for n, application_id in enumerate(ids):
        for k in range(n + 1):
            step(app, application_id, k)
    app.accept(CLERK, ids[1])
    at_commit = outbox(app)
    assert len(at_commit) == 3 + 6 + 1
    assert replays == []  # sealing at commit replayed nothing
    with app.unit_of_work() as s:  # as a store written without a sealer
        s.execute(sa.delete(app.kernel.outbox))
        s.execute(sa.delete(app.kernel.chain_heads))
    # A relay keeping no states between its batches (of 7): some events are mapped on a
    # replay of their aggregate, some on the state the batch left.
    app.sealer = Sealer(app, intake.to_integration, bus_keys(app.settings)[0],
                        app.settings.region, remember_states=0)
    relay_sealed = {e.position: e.to_bytes() for e in drain(app)}
    assert relay_sealed == at_commit
    assert replays  # the relay did replay: the other path was taken


def test_writers_without_a_sealer_lose_nothing_and_the_chain_stays_one(intake: Any) -> None:
    app = intake.app
    sealer = app.sealer
    first = submit(app, 1)
    app.sealer = None  # an offline tool, or a process of the release before
    second = submit(app, 2)
    step(app, first, 0)
    app.sealer = sealer
    step(app, second, 0)  # its v1 has no head yet: left to the relay
    step(app, first, 1)  # its v2 has no head yet either
    third = submit(app, 3)
    assert sorted(outbox(app)) == [1, 6]  # first's v1 and third's v1 only
    published = drain(app)
    assert [e.position for e in published] == [1, 2, 3, 4, 5, 6]
    chains: dict[UUID, list[Envelope]] = {}
    for env in published:
        chains.setdefault(env.aggregate_id, []).append(env)
    for envs in chains.values():
        assert envs[0].prev_hash == GENESIS_HASH
        assert [e.prev_hash for e in envs[1:]] == [e.hash for e in envs[:-1]]
    # Once the relay moved the heads, the writer seals on them again.
    step(app, second, 1)
    newest = max(outbox(app))
    env = Envelope.model_validate_json(outbox(app)[newest])
    assert env.aggregate_id == second and env.prev_hash == chains[second][-1].hash
    assert {third, first, second} == set(chains)


def test_a_relay_advanced_past_sealing_leaves_covered_rows_to_the_checkpoint(
        intake: Any) -> None:
    """Rows stay after publishing until a checkpoint covers them: the heads it lists are
    those its range left, though later commits moved the chain heads on."""
    app = intake.app
    a = submit(app, 1)
    b = submit(app, 2)
    drain(app)
    step(app, a, 0)  # position 3: committed, heads moved, not yet published
    hashes = {Envelope.model_validate_json(v).position: Envelope.model_validate_json(v).hash
              for v in outbox(app).values()}
    Checkpointer(app)._record(1, 0, 2)
    newest = app.notifications(app.recorder.max_notification_id() - 1, 1)[0]
    recorded = app.mapper.to_domain_event(newest)
    assert isinstance(recorded, ChainCheckpoint.Recorded)
    # a's head as of position 1, not at its newer commit 3.
    assert recorded.heads == [{"aggregate_id": str(a), "hash": hashes[1], "position": 1},
                              {"aggregate_id": str(b), "hash": hashes[2], "position": 2}]
    assert sorted(outbox(app)) == [3, 4]  # covered rows gone; 3 and the checkpoint's kept


@pytest.mark.postgres
def test_two_writers_on_one_postgres_seal_one_chain(
        tmp_path: Path, keys_dir: Path, postgres_url: str) -> None:
    """Two replicas write one aggregate in turn: each seals on the head the other's commit
    left (a writer of version v loaded v-1, and writers serialise on the events lock)."""
    kw = {"keys_dir": keys_dir, "nats_url": NO_NATS, "database_url": postgres_url,
          "encrypt_at_rest": True, "cipher_key_file": tmp_path / "at-rest.key"}  # one store
    one = build_service("intake", tmp=tmp_path / "one", **kw)
    two = build_service("intake", tmp=tmp_path / "two", **kw)
    try:
        application_id = submit(one.app, 1)
        for n in range(4):
            step((one if n % 2 else two).app, application_id, n)
        sealed = outbox(one.app)
        assert sorted(sealed) == [1, 2, 3, 4, 5]  # every event sealed at commit
        envs = [Envelope.model_validate_json(sealed[p]) for p in sorted(sealed)]
        assert envs[0].prev_hash == GENESIS_HASH
        assert [e.prev_hash for e in envs[1:]] == [e.hash for e in envs[:-1]]
    finally:
        one.app.close()
        two.app.close()


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 2), st.booleans(), st.booleans()),
                min_size=1, max_size=9))
def test_any_mix_of_sealed_and_unsealed_writes_publishes_every_event_once_in_one_chain(
        intake: Any, plan: list[tuple[int, bool, bool]]) -> None:
    """Each step: a command on one of three applications, by a writer with or without a
    sealer, then maybe a relay drain. Oracle: every position published exactly once, in
    order; per aggregate, links from genesis, each hash and signature valid."""
    app = intake.app
    sealer = app.sealer
    _, trust = bus_keys(app.settings)
    start = app.recorder.max_notification_id() or 0
    base = start * 10  # filings no earlier example named
    ids: dict[int, UUID] = {}
    steps: dict[int, int] = {}
    published: list[Envelope] = []
    try:
        for which, with_sealer, then_drain in plan:
            app.sealer = sealer if with_sealer else None
            if which not in ids:
                ids[which] = submit(app, base + which)
            else:
                step(app, ids[which], steps.get(which, 0))
                steps[which] = steps.get(which, 0) + 1
            if then_drain:
                published += drain(app, sealer)
    finally:
        app.sealer = sealer
    published += drain(app)
    end = app.recorder.max_notification_id()
    assert [e.position for e in published] == list(range(start + 1, end + 1))
    heads: dict[UUID, str] = {}
    for env in published:
        assert env.hash_is_valid()
        assert trust.verify("intake", env.kid, env.sig, env.hash, env.position) is None
        assert env.prev_hash == heads.get(env.aggregate_id, GENESIS_HASH)
        heads[env.aggregate_id] = env.hash
    assert set(heads) == set(ids.values())


def test_a_save_larger_than_the_limit_is_left_to_the_relay(tmp_path: Path,
                                                           keys_dir: Path) -> None:
    """A bulk save (a county-wide 标准调整) does not wait for sealing: the relay seals it."""
    rt = build_service("intake", tmp=tmp_path, keys_dir=keys_dir, nats_url=NO_NATS,
                       database_url=None, encrypt_at_rest=True, seal_at_commit_max_events=0)
    try:
        app = rt.app
        application_id = submit(app, 1)
        app.accept(CLERK, application_id)
        assert outbox(app) == {}
        assert [(e.position, e.aggregate_version) for e in drain(app)] == [(1, 1), (2, 2)]
    finally:
        rt.app.close()


def test_an_aggregate_loaded_without_its_values_is_replayed_once_at_commit(
        intake: Any) -> None:
    """No "before" in hand (loaded some other way): the writer replays the version before,
    and still seals the bytes the relay would."""
    app = intake.app
    app.loaded.remember = lambda _aggregate: None  # nothing kept at load
    replays = count_replays(app)
    application_id = submit(app, 1)
    step(app, application_id, 0)
    step(app, application_id, 1)
    at_commit = outbox(app)
    assert sorted(at_commit) == [1, 2, 3] and replays == [1, 2]
    with app.unit_of_work() as s:
        s.execute(sa.delete(app.kernel.outbox))
        s.execute(sa.delete(app.kernel.chain_heads))
    assert {e.position: e.to_bytes() for e in drain(app)} == at_commit
