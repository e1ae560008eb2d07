#!/usr/bin/env bash
# Create .venv and install the pinned requirements; does nothing when they are installed.
# Usage: scripts/bootstrap.sh [runtime|dev]
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-runtime}
reqs=requirements.txt
[ "$kind" = dev ] && reqs=requirements-dev.txt
python=${PYTHON:-python3}

"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "OneProxy needs Python 3.11 or newer ($python is older)" >&2; exit 1; }

# mysqlclient compiles against the MariaDB/MySQL client headers.
if ! pkg-config --exists mysqlclient 2>/dev/null && ! pkg-config --exists libmariadb 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing MariaDB client headers (for mysqlclient)..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libmariadb-dev pkg-config >/dev/null
  else
    echo "Missing MariaDB/MySQL client headers: install libmariadb-dev (Debian) or mysql-devel first." >&2
    exit 1
  fi
fi

[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=.venv/.installed-$kind
digest=$(cat requirements*.txt | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$digest" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -r "$reqs"
  echo "$digest" > "$stamp"
fi
