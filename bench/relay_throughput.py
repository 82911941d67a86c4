"""Outbox relay throughput against the raw JetStream publish rate, in one run.

    .venv/bin/python bench/relay_throughput.py [--events N] [--backend sqlite|postgres]
                                               [--database-url URL] [--json PATH]
                                               [--profile PATH]

Phases (every number printed is measured in this run; the store encrypts at rest, as
deployed):

1. store writes: N integration-relevant intake events written through
   IntakeApplication (N/2 applications submitted, then accepted) by a township clerk,
   with the writer's sealer installed as ServiceRuntime installs it (so this includes
   building and signing each envelope into the outbox at commit);
2. relay: a fresh OutboxRelay on a connected shared.bus.Bus publishes the backlog,
   `while await relay.publish_pending(): pass`; the stream must then hold exactly N
   messages whose hash chains verify; write + publish end to end is N over the sum of
   phases 1 and 2;
3. raw: a plain nats-py loop publishes the very same N payloads (same sizes, same
   subjects under another region, a Nats-Msg-Id header, awaiting each ack) into a
   fresh stream created by Bus.ensure_stream (same config: file storage, duplicate window);
4. signatures: over the N published envelopes, the cost per message of signing (what the
   relay adds in `Envelope.sealed`) and of verifying as every consumer does before any
   effect (`shared.bus.refusal`: subject, hash recomputed, Ed25519 signature), set against
   the relay's own time per message in phase 2 (which already includes signing).

It starts its own nats-server (JetStream, temp store, free port) and stops it at the end.
`BENCH_TREE=/work/main` runs this bench against another checkout's code (one without the
sealed outbox: the relay then maps every event itself), for before/after in one run.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import platform
import pstats
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(os.environ.get("BENCH_TREE") or Path(__file__).resolve().parent.parent).resolve()
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import nats  # noqa: E402

from deploy.local import nats_binary  # noqa: E402
from services.intake.application import IntakeApplication  # noqa: E402
from services.intake.contracts import IntakeContracts  # noqa: E402
from services.intake.main import IntakeSettings, load_policies  # noqa: E402
from services.intake.schemas import FilingContent, SubmitApplication, plain  # noqa: E402
from services.intake.values import Household  # noqa: E402
from shared.auth import Principal, Role, ensure_dev_keypair  # noqa: E402
from shared.bus import Bus, OutboxRelay, refusal, stream_name  # noqa: E402
from shared.contracts import Envelope, verify_chain  # noqa: E402
from shared.fieldcrypt import Keyring  # noqa: E402
from shared.pii import make_resident_id  # noqa: E402
from shared.regions import load_county  # noqa: E402
from shared.runtime import tune_gc  # noqa: E402
from shared.signing import bus_keys  # noqa: E402
from shared.telemetry import setup_telemetry  # noqa: E402

try:  # the sealed outbox (issue 23); absent from a BENCH_TREE from before it
    from shared.outbox import Sealer  # noqa: E402
except ImportError:
    Sealer = None  # type: ignore[assignment,misc]

YELIN, TAOYUAN = "469028100", "469028100201"  # 椰林镇 and one of its villages
DUPLICATE_WINDOW_S = 3600.0  # as the brief and the service default (stream_duplicate_window_s)
RAW_REGION = "rawbench"  # the raw stream: SA_rawbench_INTAKE, subjects sa.rawbench.intake.>
WARMUP_REGION = "warmup"
# This process's CPU seconds per timed phase (all its threads): on a shared machine the
# wall time of a phase moves with the load, its own CPU much less.
CPU: dict[str, float] = {}


class BenchFailure(RuntimeError):
    pass


# --- nats-server ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def nats_server(store_dir: Path) -> Iterator[tuple[str, str]]:
    """A JetStream nats-server on a free port; yields (url, version)."""
    binary = nats_binary()
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()
    port = free_port()
    proc = subprocess.Popen(
        [binary, "-js", "-sd", str(store_dir), "-a", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None:
                raise BenchFailure(f"nats-server exited with {proc.returncode}")
            if time.monotonic() > deadline:
                raise BenchFailure(f"nats-server not listening on {port} after 15s")
            time.sleep(0.05)
        yield f"nats://127.0.0.1:{port}", version
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


# --- phases --------------------------------------------------------------------------------


def filing(i: int) -> SubmitApplication:
    """A complete 低保 filing of a household no other call names (intake de-duplicates)."""
    born = date(1940, 1, 1) + timedelta(days=i // 90)
    child_born = date(2012, 9, 1) + timedelta(days=i // 90)
    return SubmitApplication.model_validate({
        "kind": "dibao", "township": YELIN, "village": TAOYUAN, "filed_by": "applicant",
        "members": [
            {"name": "黎阿婆", "relation": "self", "birth_date": born.isoformat(),
             "resident_id": make_resident_id("469028", born, i % 90, "female"),
             "work_capacity": "none", "authorization_signed": True},
            {"name": "黎小明", "relation": "grandchild", "birth_date": child_born.isoformat(),
             "resident_id": make_resident_id("469028", child_born, i % 90, "male"),
             "work_capacity": "none", "student": True},
        ],
        "materials": ["application_form", "commitment_letter", "authorization_form",
                      "hukou_booklet", "id_cards"],
        "bank_account": {"bank": "海南农信", "holder_name": "黎阿婆",
                         "account": "6228480402564890018"},
    })


def write_events(app: IntakeApplication, n: int) -> float:
    return _timed("store_writes", lambda: _write_events(app, n))


def _timed(phase: str, step: Any) -> float:
    t0, c0 = time.perf_counter(), time.process_time()
    step()
    CPU[phase] = time.process_time() - c0
    return time.perf_counter() - t0


def _write_events(app: IntakeApplication, n: int) -> None:
    """Submit ceil(n/2) applications, then accept floor(n/2) of them: n events. Seconds.
    Filings go through the API's own schema, then the application, as a request would."""
    clerk = Principal(user_id="bench-clerk-yelin", role=Role.TOWNSHIP_CLERK, township=YELIN)
    submits, accepts = (n + 1) // 2, n // 2
    bodies = [filing(i) for i in range(submits)]
    ids = [app.submit(clerk, kind=b.kind, linshi_type=plain(b.linshi_type),
                      township=b.township, village=b.village, filed_by=b.filed_by,
                      filing=Household.of(plain(b.model_dump(include=set(FilingContent.model_fields)))))
           for b in bodies]
    for application_id in ids[:accepts]:
        app.accept(clerk, application_id)


async def warm_up(url: str, n: int = 200) -> None:
    """Untimed: let the server and the client code paths settle before anything is timed."""
    bus = Bus(url, "bench-warmup", WARMUP_REGION)
    await bus.connect()
    await bus.ensure_stream("intake", DUPLICATE_WINDOW_S)
    assert bus.js is not None
    for i in range(n):
        await bus.js.publish(f"sa.{WARMUP_REGION}.intake.warmup", b"x" * 1000,
                             headers={"Nats-Msg-Id": f"warmup:{i}"})
    await bus.js.delete_stream(stream_name(WARMUP_REGION, "intake"))
    await bus.close()


async def stream_messages(js: Any, stream: str) -> list[tuple[str, bytes]]:
    info = await js.stream_info(stream)
    out = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        m = await js.get_msg(stream, seq)
        out.append((m.subject, m.data or b""))
    return out


async def relay_phase(app: IntakeApplication, contracts: IntakeContracts, url: str,
                      settings: IntakeSettings, n: int,
                      profile: cProfile.Profile | None) -> tuple[float, list[tuple[str, bytes]],
                                                                 int]:
    bus = Bus(url, settings.service, settings.region)
    await bus.connect()
    try:
        await bus.ensure_stream("intake", DUPLICATE_WINDOW_S)
        relay = OutboxRelay(app, bus, contracts, settings.relay_batch_size,
                            settings.relay_idle_poll_s)
        if profile is not None:
            profile.enable()
        t0, c0 = time.perf_counter(), time.process_time()
        while await relay.publish_pending():
            pass
        seconds = time.perf_counter() - t0
        CPU["relay_publish"] = time.process_time() - c0
        if profile is not None:
            profile.disable()

        assert bus.js is not None
        name = stream_name(settings.region, "intake")
        info = await bus.js.stream_info(name)
        # The N events plus the chain checkpoints the relay recorded among them (issue 16).
        n += app.relay_position(relay.checkpoints.key)
        if relay.published != n or info.state.messages != n:
            raise BenchFailure(f"relay published {relay.published}, stream {name} holds "
                               f"{info.state.messages} messages; expected exactly {n}")
        published = await stream_messages(bus.js, name)
        envelopes = [Envelope.model_validate_json(data) for _, data in published]
        result = verify_chain(envelopes)
        if not result.ok or result.checked != n:
            raise BenchFailure(f"hash chain verification failed: checked {result.checked} "
                               f"of {n}, first broken link {result.first_broken}")
        if len({e.position for e in envelopes}) != n:
            raise BenchFailure("duplicate positions in the stream")
        return seconds, published, result.checked
    finally:
        await bus.close()


def signature_phase(app: IntakeApplication, published: list[tuple[str, bytes]],
                    rounds: int = 3) -> dict[str, float]:
    """Best of `rounds` over all N envelopes: µs per message to sign, to verify the
    signature alone, and to run the consumer's whole pre-effect check."""
    signer, trust = bus_keys(app.settings)
    envelopes = [(subject, Envelope.model_validate_json(data)) for subject, data in published]
    n = len(envelopes)

    def best(step: Any) -> float:
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            for subject, env in envelopes:
                step(subject, env)
            times.append(time.perf_counter() - t0)
        return min(times) / n * 1e6

    def check(subject: str, env: Envelope) -> None:
        if refusal(trust, "intake", subject, env) is not None:
            raise BenchFailure(f"{subject} {env.position} refused")

    return {"sign_us": round(best(lambda _s, e: signer.sign(e.hash)), 1),
            "verify_signature_us": round(best(
                lambda _s, e: trust.verify("intake", e.kid, e.sig, e.hash)), 1),
            "consumer_check_us": round(best(check), 1)}


async def raw_phase(url: str, region: str, published: list[tuple[str, bytes]],
                    pipelined: bool = False) -> float:
    """The same payloads and subjects (under a raw region), either one awaited ack per
    message, or pipelined with publish_async and all acks awaited at the end (as the relay
    publishes a batch)."""
    n = len(published)
    prefix = f"sa.{region}."
    raw_region = RAW_REGION + ("pipe" if pipelined else "")
    subjects = [f"sa.{raw_region}." + s.removeprefix(prefix) for s, _ in published]
    # The stream is created exactly as a service's stream is.
    setup = Bus(url, "bench-raw-setup", raw_region)
    await setup.connect()
    await setup.ensure_stream("intake", DUPLICATE_WINDOW_S)
    await setup.close()

    nc = await nats.connect(url)
    js = nc.jetstream(timeout=5)
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        acks = []
        for i, (subject, (_, payload)) in enumerate(zip(subjects, published, strict=True)):
            headers = {"Nats-Msg-Id": f"raw:{i + 1}"}
            if pipelined:
                acks.append(await js.publish_async(subject, payload, headers=headers))
            else:
                await js.publish(subject, payload, headers=headers)
        await asyncio.gather(*acks)
        seconds = time.perf_counter() - t0
        CPU["raw_publish_pipelined" if pipelined else "raw_publish"] = time.process_time() - c0
        info = await js.stream_info(stream_name(raw_region, "intake"))
        if info.state.messages != n:
            raise BenchFailure(f"raw stream holds {info.state.messages} messages, expected {n}")
        return seconds
    finally:
        await nc.close()


# --- main ----------------------------------------------------------------------------------


def nproc() -> int:
    try:
        return int(subprocess.run(["nproc"], capture_output=True, text=True,
                                  check=True).stdout.strip())
    except (OSError, ValueError, subprocess.CalledProcessError):
        return len(os.sched_getaffinity(0))


def rate(events: int, seconds: float) -> dict[str, float]:
    return {"events": events, "seconds": round(seconds, 4),
            "events_per_s": round(events / seconds, 1) if seconds > 0 else float("inf")}


async def sync_to_thread(func: Any, /, *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


async def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    n = args.events
    keys = tmp / "keys"
    ensure_dev_keypair(keys)
    profile = cProfile.Profile() if args.profile else None

    with nats_server(tmp / "nats") as (url, server_version):
        settings = IntakeSettings(
            var_dir=tmp / "var", nats_url=url, database_url=args.database_url,
            auth_public_key_file=keys / "jwt-ed25519.pub.pem",
            keyring_file=keys / "bus-keyring.json", relay_enabled=False,
            encrypt_at_rest=True)
        # As ServiceRuntime does: an SDK tracer provider (exporter "none"), so the store
        # remembers each write's traceparent and the relay opens a PRODUCER span per message.
        setup_telemetry(settings.service, settings.telemetry_exporter, settings.otlp_endpoint)
        keyring = Keyring.load_or_create(settings.resolved_keyring_file)
        app = IntakeApplication(settings, load_county(settings.region),
                                load_policies(settings.policy_file), keyring)
        if not args.default_gc:
            tune_gc()  # as ServiceRuntime.serve does in every deployed service
        try:
            dialect = app.dialect
            expected = {"sqlite": "sqlite", "postgres": "postgresql"}[args.backend]
            if dialect != expected:
                raise BenchFailure(f"--backend {args.backend} but the store is {dialect}")
            if app.notifications(0, 1):
                raise BenchFailure("the event store is not empty: use a fresh database")
            contracts = IntakeContracts(app, keyring)
            if Sealer is not None:  # as ServiceRuntime wires every writer
                app.sealer = Sealer(app, contracts, bus_keys(settings)[0], settings.region)

            write_s = write_events(app, n)
            stored = len(app.notifications(0, n + 1))
            if stored != n:
                raise BenchFailure(f"wrote {stored} events, expected {n}")

            await warm_up(url)
            if profile is not None:
                # cProfile sees only the thread it runs in: run the relay's to_thread calls
                # inline so their cost shows up (profiling mode only).
                asyncio.to_thread = sync_to_thread  # type: ignore[assignment]
            relay_s, published, checked = await relay_phase(app, contracts, url, settings, n,
                                                            profile)
            raw_s = await raw_phase(url, settings.region, published)
            raw_pipe_s = await raw_phase(url, settings.region, published, pipelined=True)
            signatures = signature_phase(app, published)
        finally:
            app.close()

    sizes = [len(data) for _, data in published]
    result = {
        "benchmark": "relay_throughput",
        "run_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "backend": args.backend,
        "nproc": nproc(),
        "nats_server": server_version,
        "events": n,
        "relay_batch_size": settings.relay_batch_size,
        "envelope_bytes": {"min": min(sizes), "mean": round(sum(sizes) / n, 1),
                           "max": max(sizes)},
        "raw_publish": rate(n, raw_s),
        "raw_publish_pipelined": rate(n, raw_pipe_s),
        "relay_publish": rate(n, relay_s),
        "store_writes": rate(n, write_s),
        # Sequential: every event written (and sealed, where the writer seals), then the
        # backlog drained.
        "write_and_publish": rate(n, write_s + relay_s),
        "sealed_at_commit": Sealer is not None,
        "encrypt_at_rest": settings.encrypt_at_rest,
        "relay_over_raw": round(raw_s / relay_s, 3),
        "relay_over_raw_pipelined": round(raw_pipe_s / relay_s, 3),
        "cpu_s": {k: round(v, 4) for k, v in CPU.items()},
        "cpu_us_per_event": {k: round(v / n * 1e6, 1) for k, v in CPU.items()},
        "relay_over_raw_pipelined_cpu": round(CPU["raw_publish_pipelined"]
                                              / CPU["relay_publish"], 3),
        "writes_over_raw_pipelined": round(raw_pipe_s / write_s, 4),
        "write_and_publish_over_raw_pipelined": round(raw_pipe_s / (write_s + relay_s), 4),
        "write_and_publish_over_raw_pipelined_cpu": round(
            CPU["raw_publish_pipelined"] / (CPU["store_writes"] + CPU["relay_publish"]), 4),
        "chain_verified": checked,
        "signatures": {**signatures, "relay_us_per_event": round(relay_s / n * 1e6, 1),
                       "sign_share_of_relay": round(signatures["sign_us"] / (relay_s / n * 1e6),
                                                    4)},
        "profiled": bool(args.profile),
        "gc_tuned": not args.default_gc,
    }
    if profile is not None:
        profile.dump_stats(args.profile)
    return result


def print_table(r: dict[str, Any]) -> None:
    print(f"{'phase':<24}{'events':>8}{'seconds':>10}{'events/s':>11}")
    for label, key in (("raw publish (awaited)", "raw_publish"),
                       ("raw publish (pipelined)", "raw_publish_pipelined"),
                       ("relay publish", "relay_publish"), ("store writes", "store_writes"),
                       ("write + publish", "write_and_publish")):
        row = r[key]
        print(f"{label:<24}{row['events']:>8}{row['seconds']:>10.3f}{row['events_per_s']:>11.1f}")
    sg = r["signatures"]
    print(f"per message: sign {sg['sign_us']} µs, verify signature {sg['verify_signature_us']}"
          f" µs, consumer check (subject+hash+signature) {sg['consumer_check_us']} µs; "
          f"relay {sg['relay_us_per_event']} µs/event (signing {sg['sign_share_of_relay']:.1%})")
    eb = r["envelope_bytes"]
    print(f"relay/raw awaited: {r['relay_over_raw']:.3f}   "
          f"relay/raw pipelined: {r['relay_over_raw_pipelined']:.3f}   "
          f"in this process's CPU: {r['relay_over_raw_pipelined_cpu']:.3f}")
    print(f"store writes/raw pipelined: {r['writes_over_raw_pipelined']:.4f}   "
          f"write + publish/raw pipelined: {r['write_and_publish_over_raw_pipelined']:.4f} "
          f"(CPU {r['write_and_publish_over_raw_pipelined_cpu']:.4f})   "
          f"sealed at commit: {r['sealed_at_commit']}")
    print("CPU µs per event: " + ", ".join(f"{k} {v}" for k, v in r["cpu_us_per_event"].items()))
    print(f"python {r['python']}  backend {r['backend']}  nproc {r['nproc']}  "
          f"{r['nats_server']}  envelope bytes min/mean/max {eb['min']}/{eb['mean']}/{eb['max']}"
          f"  chain verified {r['chain_verified']}"
          + ("  [PROFILED: to_thread inlined, timings inflated]" if r["profiled"] else ""))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--events", type=int, default=2000, help="N events (default 2000)")
    p.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--database-url", help="SQLAlchemy URL of an EMPTY database "
                   "(postgres backend; default $DATABASE_URL)")
    p.add_argument("--json", metavar="PATH", help="write the JSON result here instead of "
                   "as stdout's last line")
    p.add_argument("--profile", metavar="PATH", help="cProfile the relay phase, dump stats to "
                   "PATH and print the top functions (timings are then not comparable)")
    p.add_argument("--default-gc", action="store_true", help="leave Python's cycle collector "
                   "as it is, instead of tuning it as the services do (shared.runtime.tune_gc)")
    args = p.parse_args()
    if args.events < 2:
        p.error("--events must be at least 2")
    if args.backend == "postgres":
        args.database_url = args.database_url or os.environ.get("DATABASE_URL")
        if not args.database_url:
            p.error("--backend postgres needs --database-url (or DATABASE_URL)")
    elif args.database_url:
        p.error("--database-url is for --backend postgres (sqlite uses a temp file)")

    tmp = Path(tempfile.mkdtemp(prefix="relay-bench-"))
    try:
        result = asyncio.run(run(args, tmp))
    except BenchFailure as e:
        sys.exit(f"relay_throughput FAILED: {e}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print_table(result)
    if args.profile:
        print(f"\ncProfile of the relay phase (cumulative, top 30), stats in {args.profile}:")
        pstats.Stats(args.profile, stream=sys.stdout).sort_stats("cumulative").print_stats(30)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    else:
        print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
