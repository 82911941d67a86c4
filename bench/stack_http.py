"""The system as deployed, through HTTP (issue 23): an embedded stack (`deploy.local.Stack`:
NATS with per-service credentials, the five services with encryption at rest on, the gateway),
filings posted to the gateway, and the raw store's save rate measured in the same run.

Phases, in this order:
1. **raw saves** (first half): a plain `eventsourcing` application on the same backend
   (`eventsourcing_sqlalchemy`, SQLite file, AES cipher on, as every service runs), one
   aggregate per transaction, for `--raw-s` seconds;
2. **closed loop**: `--concurrency` clients file applications through the gateway
   (`POST /api/intake/applications` as a township clerk), each as soon as its last one
   answered, for `--closed-s` seconds: ok/s and latency;
3. **raw saves** (second half), so a load change on the shared machine hits both sides;
4. **offered load**: requests sent at a fixed rate (`--rates`, default 17, 50, 100/s)
   whatever the answers, for `--open-s` seconds each: p50/p99 of every answer, how many
   were shed (503/429) and how fast, and the most in flight;
5. **accept → case opened**: at `--accept-rate`/s, accept a filed application through the
   gateway and poll review's `GET /cases/by-application/{id}` until it answers 200;
   the time from the accept's answer to the first 200, minus half the poll interval.

The load generator is a lean HTTP/1.1 keep-alive client (`LeanClient`, below), not httpx:
it shares the 2 cores with the stack, and httpx's ~2 ms of CPU per request starved it at
200/s, so its own lag was counted as the gateway's latency. The closed loop also reports
each process's CPU per filing (from /proc), the client's included.

Before/after on one machine: run this script from the newer checkout against an older
stack with `PYTHONPATH=<old checkout>` and the old checkout's venv Python (the stack's
processes are started with that interpreter and import from that path).

Prints one table and writes one JSON line (the last line of stdout, or `--json`).

    .venv/bin/python bench/stack_http.py                  # ~2 min
    .venv/bin/python bench/stack_http.py --closed-s 20 --concurrency 32
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eventsourcing.domain import Aggregate  # noqa: E402

from bench.relay_throughput import filing  # noqa: E402
from deploy.local import Stack, dev_tokens, free_port_block  # noqa: E402

YELIN = "469028100"


class RawFiling(Aggregate):
    def __init__(self, name: str, members: list[dict[str, str]]) -> None:
        self.name, self.members = name, members


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 1)


class LeanClient:
    """Just enough HTTP/1.1 for the load generator: keep-alive connections reused (one
    request at a time each), Content-Length or chunked answers. An idle connection is only
    reused within `fresh_s`, well inside uvicorn's 5 s keep-alive, so a request is never
    written to a connection the server is closing."""

    def __init__(self, url: str, max_idle: int = 100, fresh_s: float = 2.0) -> None:
        host, _, port = url.removeprefix("http://").rstrip("/").partition(":")
        self.host, self.port, self.max_idle, self.fresh_s = host, int(port), max_idle, fresh_s
        self.idle: list[tuple[float, asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def request(self, method: str, path: str, body: bytes = b"",
                      headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        now = time.monotonic()
        while self.idle and now - self.idle[-1][0] > self.fresh_s:
            self.idle.pop()[2].close()
        if self.idle:
            _, reader, writer = self.idle.pop()
        else:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            head = (f"{method} {path} HTTP/1.1\r\nhost: {self.host}\r\n"
                    f"content-length: {len(body)}\r\n")
            head += "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
            writer.write(head.encode("latin-1") + b"\r\n" + body)
            lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            fields = {k.strip().lower(): v.strip() for k, _, v in
                      (line.partition(":") for line in lines[1:] if line)}
            if fields.get("transfer-encoding", "").lower() == "chunked":
                chunks = []
                while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                    chunks.append(await reader.readexactly(size + 2))
                await reader.readuntil(b"\r\n")
                content = b"".join(c[:-2] for c in chunks)
            else:
                content = await reader.readexactly(int(fields.get("content-length", "0")))
        except BaseException:
            writer.close()
            raise
        if fields.get("connection", "").lower() == "close" or len(self.idle) >= self.max_idle:
            writer.close()
        else:
            self.idle.append((time.monotonic(), reader, writer))
        return status, content

    def close(self) -> None:
        for _, _, writer in self.idle:
            writer.close()
        self.idle.clear()


def cpu_s(pid: int) -> float:
    """A process's CPU seconds so far, every thread (user + system)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raw_saves(tmp: Path, seconds: float) -> dict[str, Any]:
    """Plain eventsourcing saves on the services' backend: the raw layer's rate."""
    from eventsourcing.application import Application
    from eventsourcing.cryptography import AESCipher

    db = tmp / "raw.sqlite"
    app = Application(env={
        "PERSISTENCE_MODULE": "eventsourcing_sqlalchemy",
        "SQLALCHEMY_URL": f"sqlite:///{db}", "CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher",
        "CIPHER_KEY": AESCipher.create_key(32)})
    members = [{"name": "黎阿婆", "resident_id": "469028194001010028"}] * 2
    n, lat = 0, []
    end = time.perf_counter() + seconds
    t0 = time.perf_counter()
    while time.perf_counter() < end:
        t = time.perf_counter()
        app.save(RawFiling(f"f{n}", members))
        lat.append(time.perf_counter() - t)
        n += 1
    elapsed = time.perf_counter() - t0
    app.close()
    return {"saves": n, "seconds": elapsed, "latencies": lat}


def body(i: int) -> bytes:
    return filing(i).model_dump_json().encode()


async def closed_loop(url: str, token: str, seconds: float, concurrency: int,
                      start: int, pids: dict[str, int] | None = None) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    lat: list[float] = []
    codes: dict[int, int] = {}
    counter = [start]
    end = time.perf_counter() + seconds
    http = LeanClient(url)

    async def worker() -> None:
        while time.perf_counter() < end:
            i = counter[0]
            counter[0] += 1
            t = time.perf_counter()
            status, _ = await http.request("POST", "/api/intake/applications", body(i), headers)
            lat.append(time.perf_counter() - t)
            codes[status] = codes.get(status, 0) + 1

    pids = pids or {}
    cpu0 = {name: cpu_s(pid) for name, pid in pids.items()}
    own0 = time.process_time()
    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - t0
    own = time.process_time() - own0
    http.close()
    ok = codes.get(201, 0)
    # CPU per filing, each process (the relays, consumers and archive work while it runs)
    cpu = {name: round((cpu_s(pid) - cpu0[name]) * 1000 / max(ok, 1), 2)
           for name, pid in pids.items()}
    return {"ok": ok, "codes": codes, "seconds": elapsed,
            "ok_per_s": ok / elapsed, "p50_ms": pct(lat, 0.5),
            "p99_ms": pct(lat, 0.99), "next": counter[0],
            **({"cpu_ms_per_filing": cpu, "stack_cpu_ms_per_filing": round(sum(cpu.values()), 2),
                "client_cpu_ms_per_filing": round(own * 1000 / max(ok, 1), 2)}
               if pids else {})}


async def open_loop(url: str, token: str, rate: float, seconds: float,
                    start: int) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    lat: list[float] = []
    shed: list[float] = []
    codes: dict[int, int] = {}
    inflight = [0, 0]
    n = int(rate * seconds)

    async def one(i: int) -> None:
        inflight[0] += 1
        inflight[1] = max(inflight[1], inflight[0])
        t = time.perf_counter()
        try:
            async with asyncio.timeout(60):
                code, _ = await http.request("POST", "/api/intake/applications", body(i),
                                             headers)
        except (OSError, ValueError, TimeoutError, asyncio.IncompleteReadError):
            code = 0
        finally:
            inflight[0] -= 1
        took = time.perf_counter() - t
        codes[code] = codes.get(code, 0) + 1
        (shed if code in (503, 429) else lat).append(took)

    http = LeanClient(url)
    t0 = time.perf_counter()
    tasks = []
    for k in range(n):
        delay = t0 + k / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(start + k)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    http.close()
    return {"rate": rate, "sent": n, "codes": codes, "seconds": elapsed,
            "ok_per_s": codes.get(201, 0) / elapsed, "p50_ms": pct(lat, 0.5),
            "p99_ms": pct(lat, 0.99), "shed": len(shed), "shed_p99_ms": pct(shed, 0.99),
            "max_in_flight": inflight[1], "next": start + n}


async def accept_to_case(url: str, tokens: dict[str, str], rate: float, count: int,
                         start: int) -> dict[str, Any]:
    clerk = {"authorization": f"Bearer {tokens['township_clerk@' + YELIN]}",
             "content-type": "application/json"}
    reader = {"authorization": f"Bearer {tokens['township_leader@' + YELIN]}"}
    poll_s = 0.005
    http = LeanClient(url)
    ids = []
    for i in range(count):
        status, content = await http.request("POST", "/api/intake/applications",
                                             body(start + i), clerk)
        if status == 201:
            ids.append(json.loads(content)["application_id"])
    await asyncio.sleep(1.0)
    lat: list[float] = []
    missing = [0]

    async def one(application_id: str) -> None:
        status, _ = await http.request(
            "POST", f"/api/intake/applications/{application_id}/accept", b"", clerk)
        if status != 200:
            missing[0] += 1
            return
        t = time.perf_counter()
        deadline = t + 10
        while time.perf_counter() < deadline:
            status, _ = await http.request(
                "GET", f"/api/review/cases/by-application/{application_id}", b"", reader)
            if status == 200:
                lat.append(max(0.0, time.perf_counter() - t - poll_s / 2))
                return
            await asyncio.sleep(poll_s)
        missing[0] += 1

    t0 = time.perf_counter()
    tasks = []
    for k, application_id in enumerate(ids):
        delay = t0 + k / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(application_id)))
    await asyncio.gather(*tasks)
    http.close()
    return {"rate": rate, "accepted": len(lat), "missing": missing[0],
            "p50_ms": pct(lat, 0.5), "p99_ms": pct(lat, 0.99), "next": start + count}


async def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    base = free_port_block(7)
    stack = Stack(tmp / "var", base, base + 6)
    result: dict[str, Any] = {"bench": "stack_http", "load_start": os.getloadavg()}
    raw_a = await asyncio.to_thread(raw_saves, tmp, args.raw_s / 2)
    stack.start()
    try:
        stack.wait_ready(180)
        tokens = dev_tokens(stack.var)
        url = stack.gateway_url
        clerk = tokens["township_clerk@" + YELIN]
        # Warm-up: connections, caches, the relays' first batches.
        nxt = (await closed_loop(url, clerk, 2.0, 4, 0))["next"]
        pids = {c.name: c.proc.pid for c in stack.children if c.proc is not None}
        closed = await closed_loop(url, clerk, args.closed_s, args.concurrency, nxt, pids)
        nxt = closed.pop("next")
        (tmp / "b").mkdir()
        raw_b = await asyncio.to_thread(raw_saves, tmp / "b", args.raw_s / 2)
        offered = []
        for rate in args.rates:
            await asyncio.sleep(3.0)  # let the previous phase's backlog drain
            o = await open_loop(url, clerk, rate, args.open_s, nxt)
            nxt = o.pop("next")
            offered.append(o)
        await asyncio.sleep(3.0)
        accept = await accept_to_case(url, tokens, args.accept_rate, args.accepts, nxt)
        accept.pop("next")
    finally:
        stack.stop()
    saves = raw_a["saves"] + raw_b["saves"]
    raw_s = raw_a["seconds"] + raw_b["seconds"]
    raw_rate = saves / raw_s
    result.update({
        "raw_saves_per_s": round(raw_rate, 1),
        "raw_save_p99_ms": pct(raw_a["latencies"] + raw_b["latencies"], 0.99),
        "closed": {**closed, "concurrency": args.concurrency},
        "filing_ratio": round(closed["ok_per_s"] / raw_rate, 3),
        "offered": offered, "accept_to_case": accept,
        "encrypt_at_rest": True, "backend": "sqlite", "nproc": os.cpu_count(),
        "load_end": os.getloadavg()})
    return result


def print_table(r: dict[str, Any]) -> None:
    c = r["closed"]
    print(f"raw eventsourcing saves (SQLite, cipher on): {r['raw_saves_per_s']}/s, "
          f"p99 {r['raw_save_p99_ms']} ms")
    print(f"filing through the gateway, closed loop c={c['concurrency']}: "
          f"{c['ok_per_s']:.1f} ok/s (p50 {c['p50_ms']} ms, p99 {c['p99_ms']} ms, "
          f"codes {c['codes']}); ratio {r['filing_ratio']}")
    if "cpu_ms_per_filing" in c:
        print(f"  CPU per filing: stack {c['stack_cpu_ms_per_filing']} ms "
              f"{c['cpu_ms_per_filing']}, client {c['client_cpu_ms_per_filing']} ms")
    for o in r["offered"]:
        print(f"offered {o['rate']:g}/s for {o['sent']} requests: {o['ok_per_s']:.1f} ok/s, "
              f"p50 {o['p50_ms']} ms, p99 {o['p99_ms']} ms, shed {o['shed']} "
              f"(p99 {o['shed_p99_ms']} ms), max in flight {o['max_in_flight']}, "
              f"codes {o['codes']}")
    a = r["accept_to_case"]
    print(f"accept -> case visible in review at {a['rate']:g}/s: p50 {a['p50_ms']} ms, "
          f"p99 {a['p99_ms']} ms ({a['accepted']} seen, {a['missing']} missing)")
    print(f"load average start {r['load_start']} end {r['load_end']}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--closed-s", type=float, default=15.0)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--raw-s", type=float, default=6.0)
    p.add_argument("--open-s", type=float, default=8.0)
    p.add_argument("--rates", type=lambda s: [float(x) for x in s.split(",")],
                   default=[17.0, 50.0, 100.0])
    p.add_argument("--accept-rate", type=float, default=20.0)
    p.add_argument("--accepts", type=int, default=100)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-stack-"))
    try:
        r = asyncio.run(run(args, tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print_table(r)
    line = json.dumps(r, ensure_ascii=False, default=str)
    if args.json:
        args.json.write_text(line)
    print(line)


if __name__ == "__main__":
    main()
