#!/usr/bin/env bash
# Run OneProxy: install, migrate, create the first admin, serve. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh runtime
py=.venv/bin/python
$py manage.py migrate --noinput -v 0
$py manage.py collectstatic --noinput -v 0
$py manage.py ensure_admin
port=${PORT:-3000}
echo "OneProxy is starting on http://0.0.0.0:${port}"
echo "  Admin:    http://127.0.0.1:${port}/admin/  (log in with the admin user above)"
echo "  API base: http://127.0.0.1:${port}/v1"
exec $py manage.py serve --port "$port"
