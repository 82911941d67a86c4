#!/bin/sh
# The image's entrypoint: one image for every service, the service chosen by argument.
#   docker run IMAGE review            -> python -m services.review
#   docker run IMAGE gateway           -> python -m deploy.gateway (the Python gateway; the
#                                         compose and Kubernetes gateways are nginx)
#   docker run IMAGE rebuild-projections review
#                                      -> drop and replay review's read models (see below)
#   docker run IMAGE migrate|backlog|verify-chain|check-config [SERVICE…]
#                                      -> the operator CLI, deploy/cli.py
# Anything else is refused, so a typo fails at once instead of starting the wrong thing.
set -eu
PYTHON="${PYTHON:-python}"
SERVICES="intake review publicity disbursement archive"

usage() {
  echo "usage: $0 {$(echo "$SERVICES" | tr ' ' '|')|gateway|rebuild-projections <service>|migrate|backlog|verify-chain|check-config}" >&2
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
    exec "$PYTHON" -m deploy.cli rebuild-projections "$1" ;;
  migrate|backlog|verify-chain|check-config)
    # The operator CLI (deploy/cli.py, `lingshui --help`), with this container's settings.
    exec "$PYTHON" -m deploy.cli "$what" "$@" ;;
  *) usage ;;
esac
