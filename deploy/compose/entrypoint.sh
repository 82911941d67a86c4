#!/bin/sh
# The image's entrypoint: one image for every service, the service chosen by argument.
#   docker run IMAGE review            -> python -m services.review
#   docker run IMAGE gateway           -> python -m deploy.gateway (the Python gateway; the
#                                         compose and Kubernetes gateways are nginx)
#   docker run IMAGE rebuild-projections review
#                                      -> drop and replay review's read models (see below)
# Anything else is refused, so a typo fails at once instead of starting the wrong thing.
set -eu
PYTHON="${PYTHON:-python}"
SERVICES="intake review publicity disbursement archive"

usage() {
  echo "usage: $0 {$(echo "$SERVICES" | tr ' ' '|')|gateway|rebuild-projections <service>}" >&2
  exit 64
}

is_service() {
  for s in $SERVICES; do [ "$s" = "$1" ] && return 0; done
  return 1
}

[ $# -ge 1 ] || usage
what="$1"; shift
if is_service "$what"; then
  exec "$PYTHON" -m "services.$what" "$@"
fi
case "$what" in
  gateway)
    exec "$PYTHON" -m deploy.gateway "$@" ;;
  rebuild-projections)
    # Run with the service's own environment while its replicas are scaled to 0: the read
    # models are dropped and replayed from the event store (the source of truth).
    [ $# -eq 1 ] && is_service "$1" || usage
    exec "$PYTHON" -c "import sys
from services.$1.main import build
from shared.rebuild import RebuildProgress, print_progress
progress = RebuildProgress('$1')
progress.listen(print_progress())
n = build().app.rebuild_projections(progress=progress)
print('rebuilt $1 read models from', n, 'events', file=sys.stderr)" ;;
  *) usage ;;
esac
