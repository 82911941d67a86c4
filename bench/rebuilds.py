"""Read-model rebuilds against the raw layers beneath them, in one run (issue 23).

- **intake `rebuild_projections`** (encryption at rest on, as deployed) over N events
  written as filings and acceptances, against the raw scan of the same store: every
  notification read and decoded (`mapper.to_domain_event`, decryption included), measured
  before and after the rebuild and averaged;
- **archive's rebuild** (`ArchiveRuntime.rebuild_read_models`, the background job's work:
  shadow tables, every stream, the swap) over a month of review envelopes, signed, with
  checkpoints, on a real nats-server, against the raw read of the same stream (pull fetch
  of every message in batches of 500) and the kernel's `read_stream` (fetch, parse, verify);
  with the process's peak RSS during the rebuild.

    .venv/bin/python bench/rebuilds.py                            # 2000 + 12,012 events
    .venv/bin/python bench/rebuilds.py --intake-events 4000 --archive-cases 10000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import nats  # noqa: E402
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy  # noqa: E402

from bench.relay_throughput import nats_server, write_events  # noqa: E402
from bench.verify_month import month_envelopes  # noqa: E402
from services.archive.main import ArchiveSettings  # noqa: E402
from services.archive.main import build as build_archive  # noqa: E402
from services.intake.application import IntakeApplication  # noqa: E402
from services.intake.main import IntakeSettings, load_policies  # noqa: E402
from shared.auth import ensure_dev_keypair  # noqa: E402
from shared.bus import read_stream, stream_name  # noqa: E402
from shared.contracts.common import SERVICES  # noqa: E402
from shared.fieldcrypt import Keyring  # noqa: E402
from shared.rebuild import RebuildProgress, print_progress  # noqa: E402
from shared.regions import load_county  # noqa: E402
from shared.runtime import tune_gc  # noqa: E402
from shared.signing import (  # noqa: E402
    TRUST_FILE,
    BusSigner,
    TrustList,
    ensure_bus_keys,
    signing_key_path,  # noqa: E402
)

REGION = "469028"


def peak_rss_reset() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def rss_mb() -> float | None:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def peak_rss_mb() -> float | None:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def intake_phase(tmp: Path, keys: Path, n: int) -> dict[str, Any]:
    settings = IntakeSettings(var_dir=tmp / "intake", nats_url="nats://127.0.0.1:1",
                              auth_public_key_file=keys / "jwt-ed25519.pub.pem",
                              keyring_file=keys / "bus-keyring.json", relay_enabled=False,
                              encrypt_at_rest=True)
    keyring = Keyring.load_or_create(settings.resolved_keyring_file)
    app = IntakeApplication(settings, load_county(settings.region),
                            load_policies(settings.policy_file), keyring)
    try:
        write_events(app, n)
        total = app.recorder.max_notification_id() or 0

        cpu: list[float] = []

        def raw() -> float:
            t, c = time.perf_counter(), time.process_time()
            count = sum(1 for _ in app.iter_domain_events(500))
            assert count == total, (count, total)
            cpu.append(time.process_time() - c)
            return time.perf_counter() - t
        raw_a = raw()
        t, c = time.perf_counter(), time.process_time()
        rebuilt = app.rebuild_projections()
        project_s = time.perf_counter() - t
        project_cpu = time.process_time() - c
        assert rebuilt == total, (rebuilt, total)
        raw_b = raw()
    finally:
        app.close()
    raw_s = (raw_a + raw_b) / 2
    return {"events": total, "rebuild_s": round(project_s, 3),
            "rebuild_events_per_s": round(total / project_s, 1),
            "raw_scan_s": round(raw_s, 3), "raw_events_per_s": round(total / raw_s, 1),
            "ratio": round(raw_s / project_s, 3),
            "rebuild_cpu_us_per_event": round(project_cpu / total * 1e6, 1),
            "raw_cpu_us_per_event": round(sum(cpu) / len(cpu) / total * 1e6, 1),
            "ratio_cpu": round(sum(cpu) / len(cpu) / project_cpu, 3)}


async def publish(url: str, envelopes: Iterable[Any]) -> int:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(name=stream_name(REGION, "review"), subjects=[f"sa.{REGION}.review.>"])
    acks = []
    n = 0
    for env in envelopes:
        acks.append(await js.publish_async(env.subject, env.to_bytes(),
                                           headers={"Nats-Msg-Id": env.msg_id}))
        n += 1
        if len(acks) >= 2000:
            await asyncio.gather(*acks)
            acks = []
    await asyncio.gather(*acks)
    await nc.close()
    return n


async def raw_read(url: str, expected: int) -> float:
    nc = await nats.connect(url)
    js = nc.jetstream()
    t = time.perf_counter()
    sub = await js.pull_subscribe(f"sa.{REGION}.review.>", stream=stream_name(REGION, "review"),
                                  config=ConsumerConfig(ack_policy=AckPolicy.NONE,
                                                        deliver_policy=DeliverPolicy.ALL))
    got = 0
    while got < expected:
        got += len(await sub.fetch(500, timeout=5))
    took = time.perf_counter() - t
    await sub.unsubscribe()
    await nc.close()
    return took


async def read_verify(url: str, trust: TrustList, expected: int) -> float:
    nc = await nats.connect(url)
    t = time.perf_counter()
    got = 0
    async for batch in read_stream(nc.jetstream(), REGION, "review", 500, trust):
        got += len(batch)
    took = time.perf_counter() - t
    await nc.close()
    assert got == expected, (got, expected)
    return took


def make_month(url: str, keys: Path, cases: int, per_case: int) -> int:
    """The review stream of a month (signed, with checkpoints), published: its size."""
    signer = BusSigner.from_file("review", signing_key_path(keys, "review"))
    return asyncio.run(publish(url, month_envelopes(cases, per_case, 1000, signer)))


async def archive_phase(tmp: Path, keys: Path, cases: int, per_case: int,
                        show_progress: bool = False) -> dict[str, Any]:
    with nats_server(tmp / "nats") as (url, _):
        # Made and published by another process: this one's peak RSS is the rebuild's.
        made = time.perf_counter()  # setup, not measured
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            n = pool.submit(make_month, url, keys, cases, per_case).result()
        made = time.perf_counter() - made
        trust = TrustList.from_file(keys / TRUST_FILE)
        c = time.process_time()
        raw_a = await raw_read(url, n)
        raw_cpu = time.process_time() - c
        verify_s = await read_verify(url, trust, n)
        settings = ArchiveSettings(
            var_dir=tmp / "archive", nats_url=url, alert_scan_interval_s=0,
            encrypt_at_rest=True, auth_public_key_file=keys / "jwt-ed25519.pub.pem",
            keyring_file=keys / "bus-keyring.json",
            signing_key_file=signing_key_path(keys, "archive"),
            trust_list_file=keys / TRUST_FILE)
        rt = build_archive(settings)
        await rt.bus.connect()
        try:
            progress = RebuildProgress(settings.service)
            if show_progress:
                progress.listen(print_progress(10.0))
            peak_rss_reset()
            start_rss = rss_mb()
            t, c = time.perf_counter(), time.process_time()
            result = await rt.rebuild_read_models(progress)
            rebuild_s = time.perf_counter() - t
            rebuild_cpu = time.process_time() - c
            peak = peak_rss_mb()
        finally:
            await rt.bus.close()
            rt.app.close()
        raw_b = await raw_read(url, n)
    stored = result["stream_events"]["review"]
    assert stored == n, (stored, n)
    raw_s = (raw_a + raw_b) / 2
    return {"events": n, "made_and_published_s": round(made, 1),
            "rebuild_s": round(rebuild_s, 3),
            "rebuild_events_per_s": round(n / rebuild_s, 1),
            "raw_read_s": round(raw_s, 3), "raw_msgs_per_s": round(n / raw_s, 1),
            "read_stream_msgs_per_s": round(n / verify_s, 1),
            "ratio": round(raw_s / rebuild_s, 3), "peak_rss_mb": peak,
            "rss_at_start_mb": start_rss,
            "rebuild_cpu_us_per_event": round(rebuild_cpu / n * 1e6, 1),
            "raw_read_cpu_us_per_event": round(raw_cpu / n * 1e6, 1),
            "ratio_cpu": round(raw_cpu / rebuild_cpu, 3)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--intake-events", type=int, default=2000)
    p.add_argument("--archive-cases", type=int, default=1000)
    p.add_argument("--events-per-case", type=int, default=12)
    p.add_argument("--skip-intake", action="store_true")
    p.add_argument("--progress", action="store_true", help="the rebuild's progress on stderr")
    p.add_argument("--json", type=Path)
    p.add_argument("--default-gc", action="store_true", help="leave Python's cycle collector "
                   "as it is, instead of tuning it as the services do (shared.runtime.tune_gc)")
    a = p.parse_args()
    if not a.default_gc:
        tune_gc()  # as ServiceRuntime.serve does: a rebuild runs in the service's process
    tmp = Path(tempfile.mkdtemp(prefix="bench-rebuild-"))
    out: dict[str, Any] = {"bench": "rebuilds", "load_start": os.getloadavg(),
                           "gc_tuned": not a.default_gc}
    try:
        keys = tmp / "keys"
        ensure_dev_keypair(keys)
        ensure_bus_keys(keys, SERVICES)
        if not a.skip_intake:
            out["intake"] = intake_phase(tmp, keys, a.intake_events)
        out["archive"] = asyncio.run(archive_phase(tmp, keys, a.archive_cases,
                                                   a.events_per_case, a.progress))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out["load_end"] = os.getloadavg()
    r = out["archive"]
    if i := out.get("intake"):
        print(f"intake rebuild_projections: {i['rebuild_events_per_s']} events/s, raw "
              f"scan+decode {i['raw_events_per_s']} events/s, ratio {i['ratio']} (CPU "
              f"{i['rebuild_cpu_us_per_event']} vs {i['raw_cpu_us_per_event']} µs/event, "
              f"{i['ratio_cpu']}) ({i['events']} events)")
    print(f"archive rebuild: {r['rebuild_events_per_s']} events/s, raw stream read "
          f"{r['raw_msgs_per_s']} msgs/s (read_stream with verification "
          f"{r['read_stream_msgs_per_s']}), ratio {r['ratio']} (CPU "
          f"{r['rebuild_cpu_us_per_event']} vs {r['raw_read_cpu_us_per_event']} µs/event, "
          f"{r['ratio_cpu']}), peak RSS {r['peak_rss_mb']} MB (from {r['rss_at_start_mb']}) "
          f"({r['events']} events)")
    line = json.dumps(out, ensure_ascii=False)
    if a.json:
        a.json.write_text(line)
    print(line)


if __name__ == "__main__":
    main()
