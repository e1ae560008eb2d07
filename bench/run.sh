#!/usr/bin/env bash
# The relay benchmark: fake upstream (bench/fake_upstream.py), OneProxy under uvicorn with
# one worker per core on PostgreSQL + Redis, wrk as the load generator. Compares calling
# the fake directly with calling it through OneProxy: throughput at 64 connections and
# median latency at one connection, ROUNDS times each; prints one line per run. With
# LITELLM=1, LiteLLM's proxy (bench/litellm.sh) is measured the same way in the same run.
#
#   bench/run.sh            (env: ROUNDS=3 DURATION=15 CONNECTIONS=64 WORKERS=<cores>
#                                 LITELLM=1)
set -euo pipefail
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-15}
CONNECTIONS=${CONNECTIONS:-64}
command -v wrk >/dev/null || { echo "bench/run.sh needs wrk (Debian: apt-get install wrk)" >&2; exit 1; }
source "$(dirname "$0")/common.sh"
if [[ -n "${LITELLM:-}" ]]; then source bench/litellm.sh; fi

run_wrk() {  # label url connections threads -> "label rps p50_ms"
  local out
  out=$(wrk -t"$4" -c"$3" -d"${DURATION}s" --latency -s bench/chat.lua "$2")
  echo "$out" | grep -q "Non-2xx" && { echo "$out" >&2; echo "non-2xx answers" >&2; exit 1; }
  local rps p50
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1 == "50%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000}
        else if (v ~ /ms$/) {sub(/ms/,"",v)} else {sub(/s/,"",v); v=v*1000}; print v}')
  echo "$1 rps=$rps p50_ms=$p50"
}

DIRECT="http://127.0.0.1:$FAKE_PORT/v1/chat/completions"
PROXY="http://127.0.0.1:$PROXY_PORT/v1/chat/completions"
echo "start: $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg) workers=$WORKERS"
run_wrk warmup "$PROXY" 16 2 >/dev/null
if [[ -n "${LITELLM:-}" ]]; then KEY=$LITELLM_KEY run_wrk warmup "$LITELLM_URL" 16 2 >/dev/null; fi
lines=$(for round in $(seq 1 "$ROUNDS"); do
  run_wrk "round=$round direct load" "$DIRECT" "$CONNECTIONS" 2
  run_wrk "round=$round proxy load" "$PROXY" "$CONNECTIONS" 2
  run_wrk "round=$round direct c1" "$DIRECT" 1 1
  run_wrk "round=$round proxy c1" "$PROXY" 1 1
  if [[ -n "${LITELLM:-}" ]]; then
    KEY=$LITELLM_KEY run_wrk "round=$round litellm load" "$LITELLM_URL" "$CONNECTIONS" 2
    KEY=$LITELLM_KEY run_wrk "round=$round litellm c1" "$LITELLM_URL" 1 1
  fi
done | while IFS= read -r line; do echo "$line" >&2; echo "$line"; done)  # live and kept
echo "end: $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)"
median() {  # kind field -> median of that field over the rounds
  echo "$lines" | grep " $1 " | sed -n "s/.*$2=\([0-9.]*\).*/\1/p" | sort -g \
    | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'
}
d_rps=$(median "direct load" rps); p_rps=$(median "proxy load" rps)
d_p50=$(median "direct c1" p50_ms); p_p50=$(median "proxy c1" p50_ms)
echo "median: direct rps=$d_rps proxy rps=$p_rps direct p50_ms=$d_p50 proxy p50_ms=$p_p50"
echo "added p50_ms=$(awk "BEGIN {print $p_p50 - $d_p50}")" \
  "proxy/direct rps=$(awk "BEGIN {printf \"%.4f\", $p_rps / $d_rps}")"
if [[ -n "${LITELLM:-}" ]]; then
  l_rps=$(median "litellm load" rps); l_p50=$(median "litellm c1" p50_ms)
  echo "litellm median: rps=$l_rps p50_ms=$l_p50 added p50_ms=$(awk "BEGIN {print $l_p50 - $d_p50}")" \
    "oneproxy/litellm rps=$(awk "BEGIN {printf \"%.1f\", $p_rps / $l_rps}")"
fi
echo "pending log rows in Redis (no flush worker during the run): $(redis-cli -u "$REDIS_URL" \
  --no-raw keys '*' | wc -l) keys"
