#!/usr/bin/env bash
# Open-streams benchmark: ONE OneProxy process (uvicorn, PostgreSQL + Redis) relays
# STREAMS streaming chat requests at once, each held open by the fake upstream for
# EVENTS events INTERVAL seconds apart; bench/streams.py drives them and samples the
# process. Shows that a slow upstream holds no thread and one process holds thousands.
#
#   bench/streams.sh        (env: STREAMS=2000 EVENTS=10 INTERVAL=1)
set -euo pipefail
STREAMS=${STREAMS:-2000}
export WORKERS=1
FAKE_ARGS="--stream-events ${EVENTS:-10} --stream-interval ${INTERVAL:-1}"
ulimit -n 65536 2>/dev/null || true  # each stream holds a client and an upstream socket
source "$(dirname "$0")/common.sh"

echo "start: $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg) streams=$STREAMS" \
  "events=${EVENTS:-10} interval=${INTERVAL:-1}s"
$PY bench/streams.py --url "http://127.0.0.1:$PROXY_PORT" --key "$KEY" \
  --streams "$STREAMS" --server-pid "$SERVER_PID"
echo "end: $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)"
