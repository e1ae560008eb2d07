"""Read-only access to a One API / New API database given as a DSN URL.

Accepted: `sqlite:///relative/path.db` or `sqlite:////abs/path.db`, `mysql://user:pass@host:3306/db`,
`postgres://user:pass@host:5432/db` (or `postgresql://`), and One API's own Go-style
MySQL DSN `user:pass@tcp(host:3306)/db`. Rows come back as plain dicts.
"""

import re
import sqlite3
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

GO_MYSQL_DSN = re.compile(r"^(?P<user>[^:@]*)(?::(?P<password>[^@]*))?@tcp\((?P<host>[^):]+)"
                          r"(?::(?P<port>\d+))?\)/(?P<db>[^?]+)")


class SourceError(Exception):
    """The source database cannot be opened or read: the message says why."""


@dataclass(frozen=True)
class Dsn:
    engine: str  # "sqlite", "mysql" or "postgres"
    database: str
    host: str = ""
    port: int | None = None
    user: str = ""
    password: str = ""

    @property
    def label(self) -> str:
        """Identifies the source without its password (used as the import-mapping key)."""
        if self.engine == "sqlite":
            return f"sqlite:{self.database}"
        return f"{self.engine}://{self.host}:{self.port or ''}/{self.database}"


def parse_dsn(dsn: str) -> Dsn:
    """Parse `dsn`; raises SourceError on anything else."""
    go = GO_MYSQL_DSN.match(dsn)
    if go:
        return Dsn("mysql", go["db"], go["host"], int(go["port"] or 3306), go["user"],
                   go["password"] or "")
    parts = urlsplit(dsn)
    scheme = {"postgresql": "postgres", "mariadb": "mysql"}.get(parts.scheme, parts.scheme)
    if scheme == "sqlite":
        # Like DATABASE_URL (django-environ): sqlite:///relative.db, sqlite:////abs/path.db
        path = unquote(parts.path)[1:]
        if not path:
            raise SourceError("sqlite DSN needs a file path: sqlite:///path/to/one-api.db")
        return Dsn("sqlite", path)
    if scheme not in ("mysql", "postgres"):
        raise SourceError(f"unsupported DSN scheme {parts.scheme!r}: use mysql://, "
                          "postgres:// or sqlite:///")
    database = parts.path.lstrip("/")
    if not database or not parts.hostname:
        raise SourceError("the DSN needs a host and a database name")
    return Dsn(scheme, unquote(database), parts.hostname, parts.port,
               unquote(parts.username or ""), unquote(parts.password or ""))


def connect(dsn: Dsn):
    """A DB-API connection to the source (opened read-only where the driver allows)."""
    try:
        if dsn.engine == "sqlite":
            conn = sqlite3.connect(f"file:{quote(dsn.database)}?mode=ro", uri=True)
            conn.row_factory = sqlite3.Row
            return conn
        if dsn.engine == "mysql":
            import MySQLdb

            return MySQLdb.connect(host=dsn.host, port=dsn.port or 3306, user=dsn.user,
                                   password=dsn.password, database=dsn.database,
                                   charset="utf8mb4")
        import psycopg

        return psycopg.connect(host=dsn.host, port=dsn.port or 5432, user=dsn.user,
                               password=dsn.password, dbname=dsn.database)
    except Exception as exc:  # noqa: BLE001 - each driver has its own error classes
        raise SourceError(f"cannot open {dsn.label}: {exc}") from exc


class Source:
    """The tables of one source database, read whole (`SELECT *`: column sets differ
    between One API and New API versions, and `key`/`group` are reserved words)."""

    TABLES = ("users", "tokens", "channels", "redemptions", "options")

    def __init__(self, dsn: str):
        self.dsn = parse_dsn(dsn)
        self.conn = connect(self.dsn)

    def close(self) -> None:
        self.conn.close()

    def rows(self, table: str) -> list[dict]:
        """Every row of `table` (one of TABLES) as a dict; [] if the table is absent."""
        if table not in self.TABLES:
            raise ValueError(table)
        cursor = self.conn.cursor()
        try:
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - fixed table names
        except Exception as exc:  # noqa: BLE001
            if "exist" in str(exc).lower() or "no such table" in str(exc).lower():
                self._reset()
                return []
            raise SourceError(f"cannot read table {table}: {exc}") from exc
        names = [col[0] for col in cursor.description]
        return [dict(zip(names, tuple(row), strict=True)) for row in cursor.fetchall()]

    def options(self) -> dict[str, str]:
        return {str(r["key"]): "" if r["value"] is None else str(r["value"])
                for r in self.rows("options")}

    def _reset(self) -> None:
        # PostgreSQL aborts the transaction after an error; start a fresh one.
        rollback = getattr(self.conn, "rollback", None)
        if rollback:
            rollback()
