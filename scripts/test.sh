#!/usr/bin/env bash
# Run the whole test suite (pytest-django). Extra arguments go to pytest.
# DATABASE_URL and REDIS_URL choose the databases; unset means SQLite and no Redis.
set -uo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh dev || exit 1
.venv/bin/python -m pytest "$@"
status=$?
if [ $status -eq 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
exit $status
