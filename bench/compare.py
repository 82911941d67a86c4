"""Before/after in one run (issue 23): the relay and rebuild benches of two checkouts,
interleaved (A B A B ...), each in its own process, on this venv's Python.

    .venv/bin/python bench/compare.py /work/main . --rounds 2 --json bench/results/x.json

On a shared machine only what is measured in the same run compares: the load average is
recorded around every bench, and the CPU figures (this process's own) move less than the
wall-clock ones.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def bench(tree: Path, argv: list[str]) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = Path(f.name)
    load = os.getloadavg()
    subprocess.run([sys.executable, str(tree / "bench" / argv[0]), *argv[1:], "--json",
                    str(out)], check=True, capture_output=True, text=True)
    result = dict(json.loads(out.read_text().strip().splitlines()[-1]
                             if out.read_text().strip().startswith("{\"") else out.read_text()))
    out.unlink()
    result["load_around"] = [load[0], os.getloadavg()[0]]
    return result


def commit(tree: Path) -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=tree,
                          capture_output=True, text=True).stdout.strip()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("before", type=Path)
    p.add_argument("after", type=Path)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--relay-events", default="2000")
    p.add_argument("--intake-events", default="2000")
    p.add_argument("--archive-cases", default="500")
    p.add_argument("--archive-only", action="store_true",
                   help="only archive's rebuild (no relay, no intake rebuild)")
    p.add_argument("--json", type=Path)
    a = p.parse_args()
    trees = {"before": a.before.resolve(), "after": a.after.resolve()}
    out: dict[str, Any] = {"started_utc": datetime.now(UTC).isoformat(timespec="seconds"),
                           "nproc": os.cpu_count(), "load_start": os.getloadavg(),
                           "commits": {k: commit(t) for k, t in trees.items()},
                           "runs": []}
    for r in range(a.rounds):
        for label, tree in trees.items():
            if a.archive_only:
                rebuilds = bench(tree, ["rebuilds.py", "--skip-intake",
                                        "--archive-cases", a.archive_cases])
                out["runs"].append({"round": r, "tree": label, "rebuilds": rebuilds})
                ar = rebuilds["archive"]
                print(f"round {r} {label:6} archive rebuild {ar['rebuild_events_per_s']:>7}/s "
                      f"vs {ar['raw_msgs_per_s']:>8}/s ({ar['ratio']:.3f}); CPU "
                      f"{ar['rebuild_cpu_us_per_event']} vs {ar['raw_read_cpu_us_per_event']} "
                      f"µs/event ({ar['ratio_cpu']:.3f}) | load "
                      f"{rebuilds['load_around'][0]:.1f}-{rebuilds['load_around'][1]:.1f}",
                      flush=True)
                continue
            relay = bench(tree, ["relay_throughput.py", "--events", a.relay_events])
            rebuilds = bench(tree, ["rebuilds.py", "--intake-events", a.intake_events,
                                    "--archive-cases", a.archive_cases])
            out["runs"].append({"round": r, "tree": label, "relay_throughput": relay,
                                "rebuilds": rebuilds})
            x, i, ar = relay, rebuilds["intake"], rebuilds["archive"]
            print(f"round {r} {label:6} relay {x['relay_publish']['events_per_s']:>8}/s vs "
                  f"raw pipelined {x['raw_publish_pipelined']['events_per_s']:>8}/s "
                  f"({x['relay_over_raw_pipelined']:.3f}) | intake rebuild "
                  f"{i['rebuild_events_per_s']:>8}/s vs {i['raw_events_per_s']:>8}/s "
                  f"({i['ratio']:.3f}) | archive rebuild {ar['rebuild_events_per_s']:>7}/s vs "
                  f"{ar['raw_msgs_per_s']:>8}/s ({ar['ratio']:.3f}) | load "
                  f"{x['load_around'][0]:.1f}-{rebuilds['load_around'][1]:.1f}", flush=True)
    out["load_end"] = os.getloadavg()
    text = json.dumps(out, indent=1, ensure_ascii=False) + "\n"
    if a.json:
        a.json.write_text(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
