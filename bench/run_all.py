"""`make bench`: every benchmark, one table of project, raw layer and ratio (issue 23).

Each benchmark runs in its own process, one after another, and writes its JSON; this
collects them into bench/results/<UTC time>.json with the load average at start and end
(the machine is shared: only ratios of the same run compare) and prints the table.

    .venv/bin/python bench/run_all.py                 # ~5 min on 2 idle cores
    .venv/bin/python bench/run_all.py --quick         # smaller sizes, ~2 min
    .venv/bin/python bench/run_all.py --with-month    # plus disbursement's 20k month
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def run(name: str, argv: list[str]) -> dict[str, Any] | None:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = Path(f.name)
    t = time.perf_counter()
    print(f"== {name}: {' '.join(argv)}", file=sys.stderr, flush=True)
    proc = subprocess.run([sys.executable, str(HERE / argv[0]), *argv[1:], "--json", str(out)],
                          capture_output=True, text=True)
    took = time.perf_counter() - t
    if proc.returncode != 0:
        print(f"   FAILED ({proc.returncode}) after {took:.0f}s:\n{proc.stderr[-2000:]}",
              file=sys.stderr)
        return None
    print(f"   {took:.0f}s", file=sys.stderr, flush=True)
    text = out.read_text().strip() or proc.stdout.strip().splitlines()[-1]
    out.unlink()
    try:
        return dict(json.loads(text))  # one document, indented or not
    except json.JSONDecodeError:
        return dict(json.loads(text.splitlines()[-1]))


def rows(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    out: list[tuple[str, str, str, str]] = []
    if s := r.get("stack_http"):
        c = s["closed"]
        out.append((f"filing through the gateway, closed loop c={c['concurrency']}",
                    f"{c['ok_per_s']:.1f} ok/s", f"{s['raw_saves_per_s']} saves/s",
                    f"{s['filing_ratio']:.3f}"))
        for o in s["offered"]:
            out.append((f"offered {o['rate']:g} req/s", f"p50 {o['p50_ms']} ms, p99 "
                        f"{o['p99_ms']} ms, {o['ok_per_s']:.1f} ok/s, shed {o['shed']} "
                        f"(p99 {o['shed_p99_ms']} ms), max in flight {o['max_in_flight']}",
                        f"raw save p99 {s['raw_save_p99_ms']} ms", "-"))
        a = s["accept_to_case"]
        out.append((f"accept -> review case visible at {a['rate']:g}/s",
                    f"p50 {a['p50_ms']} ms, p99 {a['p99_ms']} ms ({a['missing']} missing)",
                    "-", "-"))
    if x := r.get("relay_throughput"):
        out.append(("outbox relay (backlog)", f"{x['relay_publish']['events_per_s']} events/s",
                    f"{x['raw_publish_pipelined']['events_per_s']} msgs/s pipelined",
                    f"{x['relay_over_raw_pipelined']:.3f}"))
    if b := r.get("rebuilds"):
        a, i = b["archive"], b["intake"]
        out.append((f"archive rebuild ({a['events']} events, peak {a['peak_rss_mb']} MB)",
                    f"{a['rebuild_events_per_s']} events/s", f"{a['raw_msgs_per_s']} msgs/s read",
                    f"{a['ratio']:.3f}"))
        out.append((f"intake rebuild_projections ({i['events']} events)",
                    f"{i['rebuild_events_per_s']} events/s",
                    f"{i['raw_events_per_s']} scan+decode/s", f"{i['ratio']:.3f}"))
    if m := r.get("disbursement_month"):
        for one in m.get("runs", []):
            for mode, x in one.get("modes", {}).items():
                out.append((f"disbursement month {one['n']:,} ({mode})",
                            f"{x['month_seconds']} s, {x['month_cpu_seconds']} CPU s, "
                            f"peak {x['month_peak_rss_mb']} MB", "-", "-"))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--with-month", action="store_true")
    p.add_argument("--out", type=Path, default=HERE / "results")
    a = p.parse_args()
    started = datetime.now(UTC)
    result: dict[str, Any] = {"started_utc": started.isoformat(timespec="seconds"),
                              "load_start": os.getloadavg(), "nproc": os.cpu_count(),
                              "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                                                       capture_output=True, text=True,
                                                       cwd=HERE).stdout.strip()}
    q = a.quick
    plan: list[tuple[str, list[str]]] = [
        ("stack_http", ["stack_http.py", *(["--closed-s", "8", "--open-s", "5", "--accepts",
                                           "40"] if q else [])]),
        ("relay_throughput", ["relay_throughput.py", "--events", "1000" if q else "2000"]),
        ("rebuilds", ["rebuilds.py", *(["--intake-events", "600", "--archive-cases", "300"]
                                       if q else [])]),
    ]
    if a.with_month:
        plan.append(("disbursement_month", ["disbursement_month.py", "--sizes", "20000",
                                            "--no-xlsx"]))
    for name, argv in plan:
        result[name] = run(name, argv)
    result["load_end"] = os.getloadavg()
    a.out.mkdir(parents=True, exist_ok=True)
    path = a.out / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(result, indent=1, ensure_ascii=False, default=str) + "\n")
    table = rows(result)
    w = max(len(r[0]) for r in table) if table else 10
    print(f"\n{'measure':<{w}} | project | raw layer, same run | ratio")
    for measure, project, raw, ratio in table:
        print(f"{measure:<{w}} | {project} | {raw} | {ratio}")
    ls, le = result["load_start"], result["load_end"]
    print(f"\nload average start {ls[0]:.2f} {ls[1]:.2f} {ls[2]:.2f}, end {le[0]:.2f} "
          f"{le[1]:.2f} {le[2]:.2f}; nproc {result['nproc']}; commit {result['commit']}; "
          f"JSON {path}")
    failed = [name for name, _ in plan if result.get(name) is None]
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
