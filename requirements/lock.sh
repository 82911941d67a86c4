#!/usr/bin/env bash
# Regenerate the hashed lock files from pyproject.toml (`make lock`). After adding or changing a
# dependency in pyproject.toml, run this and commit requirements/*.txt with it; a merge conflict
# in a lock file is solved the same way: take either side, then run `make lock` again.
#   base.txt  the production image (no extras)
#   full.txt  the production image with archive's S3 store and charts (s3, charts)
#   dev.txt   what `make test` and CI install: every extra and the test tools
# Versions already locked are kept (uv's default); `make lock UPGRADE=1` moves all to the newest.
set -euo pipefail
cd "$(dirname "$0")/.."
UV="${UV:-.venv/bin/uv}"
args=(--quiet --generate-hashes --universal --python-version 3.11 --no-header --annotation-style line)
[ -n "${UPGRADE:-}" ] && args+=(--upgrade)
compile() {  # out, extras…
  local out="requirements/$1.txt"; shift
  local extras=()
  for e in "$@"; do extras+=(--extra "$e"); done
  # uv keeps the versions pinned in its output file: start that file from the current lock
  # (compiling to stdout saw no lock, so every run upgraded everything).
  [ -f "$out" ] && cp "$out" "$out.uv"
  "$UV" pip compile pyproject.toml "${args[@]}" "${extras[@]}" -o "$out.uv"
  {
    echo "# Locked from pyproject.toml by \`make lock\` (requirements/lock.sh); do not edit by hand."
    grep -v '^-e file:\|^\.$\|^# Locked from' "$out.uv"
  } > "$out.tmp"
  rm -f "$out.uv"
  mv "$out.tmp" "$out"
}
compile base
compile full s3 charts
compile dev dev
