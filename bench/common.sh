# Shared set-up of the benchmarks (sourced by run.sh and streams.sh): PostgreSQL database,
# Redis DB, migrations, the fake upstream, the seeded channel/token ($KEY) and OneProxy
# served by uvicorn with $WORKERS workers on $PROXY_PORT. Everything started is stopped on
# exit. Env: BENCH_DATABASE_URL, BENCH_REDIS_URL, FAKE_PORT, PROXY_PORT, WORKERS.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
WORKERS=${WORKERS:-$(nproc)}
FAKE_PORT=${FAKE_PORT:-9100}
PROXY_PORT=${PROXY_PORT:-3300}
export DATABASE_URL=${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/oneproxy_bench}
export REDIS_URL=${BENCH_REDIS_URL:-redis://127.0.0.1:6379/1}
export SECRET_KEY=bench-only-not-secret-0123456789abcdefghijklmnopqrstuvwxyz
export DJANGO_SETTINGS_MODULE=oneproxy.settings DEBUG=false CONN_MAX_AGE=60 PYTHONPATH=$PWD
PY=.venv/bin/python

DB_NAME=${DATABASE_URL##*/}
psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$DB_NAME'" \
  | grep -q 1 || psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $DB_NAME"
redis-cli -u "$REDIS_URL" flushdb >/dev/null
$PY manage.py migrate -v0

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null; }
trap cleanup EXIT

$PY bench/fake_upstream.py --port "$FAKE_PORT" ${FAKE_ARGS:-} >/dev/null & pids+=($!)
export KEY
KEY=$($PY bench/setup_bench.py "http://127.0.0.1:$FAKE_PORT" | tail -1)
$PY manage.py serve --port "$PROXY_PORT" --workers "$WORKERS" --host 127.0.0.1 \
  >/tmp/oneproxy-bench.log 2>&1 & pids+=($!)
SERVER_PID=${pids[-1]}
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PROXY_PORT/healthz" >/dev/null 2>&1 && break; sleep 0.2
done
