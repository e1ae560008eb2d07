"""Build real One API / New API databases (tables and columns per One API's GORM models)
on SQLite, MariaDB or PostgreSQL, for the importer tests."""

import contextlib
import json
import secrets
import sqlite3

import bcrypt

ROOT_KEY = "R" * 48
ALICE_KEY = "a1" * 24
ALICE_KEY2 = "b2" * 24
GHOST_KEY = "g" * 48
BADNET_KEY = "n" * 48
EXPIRED_KEY = "e" * 48


def bcrypt_hash(password: str) -> str:
    """A Go-style `$2a$` bcrypt hash like One API writes (cost 4 keeps tests fast)."""
    raw = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    return "$2a$" + raw[4:]


def _types(engine: str) -> dict:
    big = "bigint"
    return {
        "pk": {"sqlite": "integer PRIMARY KEY AUTOINCREMENT", "mysql": "int AUTO_INCREMENT "
               "PRIMARY KEY", "postgres": "serial PRIMARY KEY"}[engine],
        "bool": "boolean" if engine != "mysql" else "tinyint(1)",
        "big": big, "text": "text", "str": "varchar(191)", "q": '"' if engine != "mysql" else "`",
    }


def ddl(engine: str, flavor: str = "oneapi") -> list[str]:
    """CREATE TABLE statements for users, tokens, channels, redemptions, options,
    abilities and logs."""
    t = _types(engine)
    q = t["q"]
    new = flavor == "newapi"
    users = (f"id {t['pk']}, username {t['str']} UNIQUE, password {t['text']} NOT NULL, "
             f"display_name {t['str']}, role int DEFAULT 1, status int DEFAULT 1, "
             f"email {t['str']}, github_id {t['str']}, wechat_id {t['str']}, "
             f"lark_id {t['str']}, oidc_id {t['str']}, access_token char(32), "
             f"quota {t['big']} DEFAULT 0, used_quota {t['big']} DEFAULT 0, "
             f"request_count int DEFAULT 0, {q}group{q} varchar(32) DEFAULT 'default', "
             f"aff_code varchar(32), inviter_id int")
    tokens = (f"id {t['pk']}, user_id int, {q}key{q} char(48) UNIQUE, status int DEFAULT 1, "
              f"name {t['str']}, created_time {t['big']}, accessed_time {t['big']}, "
              f"expired_time {t['big']} DEFAULT -1, remain_quota {t['big']} DEFAULT 0, "
              f"unlimited_quota {t['bool']} DEFAULT false, used_quota {t['big']} DEFAULT 0, "
              f"models {t['text']}, subnet {t['text']}")
    channels = (f"id {t['pk']}, type int DEFAULT 0, {q}key{q} {t['text']}, status int "
                f"DEFAULT 1, name {t['str']}, weight int DEFAULT 0, created_time {t['big']}, "
                f"test_time {t['big']}, response_time int, base_url {t['text']}, "
                f"other {t['text']}, balance double precision, balance_updated_time "
                f"{t['big']}, models {t['text']}, {q}group{q} varchar(32) DEFAULT 'default', "
                f"used_quota {t['big']} DEFAULT 0, model_mapping varchar(1024), "
                f"priority {t['big']} DEFAULT 0, config {t['text']}, system_prompt {t['text']}")
    if new:
        users += f", aff_count int DEFAULT 0, setting {t['text']}, deleted_at {t['str']}"
        tokens += (f", model_limits_enabled {t['bool']} DEFAULT false, model_limits "
                   f"{t['text']}, allow_ips {t['text']}, {q}group{q} {t['str']}, "
                   f"deleted_at {t['str']}")
        channels += (f", openai_organization {t['str']}, test_model {t['str']}, "
                     f"status_code_mapping {t['text']}, auto_ban int DEFAULT 1, other_info "
                     f"{t['text']}, tag {t['str']}, setting {t['text']}, param_override "
                     f"{t['text']}")
    return [
        f"CREATE TABLE users ({users})",
        f"CREATE TABLE tokens ({tokens})",
        f"CREATE TABLE channels ({channels})",
        f"CREATE TABLE redemptions (id {t['pk']}, user_id int, {q}key{q} char(32) UNIQUE, "
        f"status int DEFAULT 1, name {t['str']}, quota {t['big']} DEFAULT 100, "
        f"created_time {t['big']}, redeemed_time {t['big']})",
        f"CREATE TABLE options ({q}key{q} varchar(191) PRIMARY KEY, value {t['text']})",
        f"CREATE TABLE abilities ({q}group{q} varchar(32), model varchar(191), channel_id int,"
        f" enabled {t['bool']}, priority {t['big']} DEFAULT 0, PRIMARY KEY ({q}group{q}, "
        "model, channel_id))",
        f"CREATE TABLE logs (id {t['pk']}, user_id int, created_at {t['big']}, type int, "
        f"content {t['text']}, username {t['str']}, token_name {t['str']}, model_name "
        f"{t['str']}, quota int, prompt_tokens int, completion_tokens int, channel_id int)",
    ]


def seed(upstream_url: str, flavor: str = "oneapi", quota_per_unit: str = "500000") -> dict:
    """Rows per table (column -> value) for a small but varied One API installation."""
    now = 1_760_000_000
    users = [
        dict(id=1, username="root", password=bcrypt_hash("123456"), display_name="Root User",
             role=100, status=1, quota=500_000_000, used_quota=0, request_count=0,
             group="default"),
        dict(id=2, username="alice", password=bcrypt_hash("alice-pass"), display_name="Alice",
             role=1, status=1, email="alice@example.com", quota=1_000_000, used_quota=5000,
             request_count=12, group="vip"),
        dict(id=3, username="bob", password="not-a-bcrypt-hash", role=10, status=2,
             quota=0, used_quota=0, request_count=0, group="default"),
        dict(id=4, username="ghost", password=bcrypt_hash("x"), role=1, status=3, quota=9,
             used_quota=0, request_count=0, group="default"),
    ]
    tokens = [
        dict(id=1, user_id=2, key=ALICE_KEY, status=1, name="alice-main", created_time=now,
             accessed_time=now + 60, expired_time=-1, remain_quota=500_000,
             unlimited_quota=False, used_quota=2500, models="gpt-4o-mini,gpt-4o", subnet=""),
        dict(id=2, user_id=2, key=ALICE_KEY2, status=2, name="alice-office", created_time=now,
             accessed_time=0, expired_time=-1, remain_quota=0, unlimited_quota=True,
             used_quota=0, models="", subnet="10.0.0.0/8,192.168.1.1"),
        dict(id=3, user_id=4, key=GHOST_KEY, status=1, name="ghost", created_time=now,
             accessed_time=0, expired_time=-1, remain_quota=1, unlimited_quota=False,
             used_quota=0, models=None, subnet=None),
        dict(id=4, user_id=1, key=BADNET_KEY, status=1, name="badnet", created_time=now,
             accessed_time=0, expired_time=-1, remain_quota=1, unlimited_quota=False,
             used_quota=0, models=None, subnet="not-a-network"),
        dict(id=5, user_id=1, key=EXPIRED_KEY, status=3, name="old", created_time=now,
             accessed_time=0, expired_time=now + 10, remain_quota=7, unlimited_quota=False,
             used_quota=0, models=None, subnet=None),
    ]
    deepseek_type = 43 if flavor == "newapi" else 36
    channels = [
        dict(id=1, type=1, key="sk-upstream-one\nsk-upstream-two\n", status=1, name="openai",
             weight=0, created_time=now, base_url=upstream_url, models="gpt-4o-mini,gpt-4o",
             group="default,vip", model_mapping='{"gpt-4o": "gpt-4o-2024-08-06"}',
             priority=10, config="", other="", used_quota=12345, response_time=321,
             test_time=now, balance=4.5),
        dict(id=2, type=3, key="azure-key-0001", status=2, name="azure",
             base_url="https://myres.openai.azure.com", models="gpt-4o", group="default",
             model_mapping="", priority=0, other="2024-02-01", config='{"region": "eastus"}'),
        dict(id=3, type=33, key="AKIAEXAMPLE|secret", status=1, name="bedrock", models=
             "claude-3-5-sonnet", group="default", priority=0,
             config='{"region": "us-east-1", "ak": "AKIAEXAMPLE", "sk": "aws-secret"}'),
        dict(id=4, type=deepseek_type, key="sk-deepseek", status=3, name="deepseek",
             base_url="", models="deepseek-chat", group="svip", model_mapping="null",
             priority=-1, config=None),
        dict(id=5, type=1, key="  \n", status=1, name="keyless", models="gpt-4o",
             group="default"),
    ]
    redemptions = [
        dict(id=1, user_id=1, key="c0de" * 8, status=1, name="welcome", quota=100_000,
             created_time=now, redeemed_time=0),
        dict(id=2, user_id=1, key="used" * 8, status=3, name="spent", quota=50_000,
             created_time=now, redeemed_time=now + 5),
    ]
    options = [
        dict(key="QuotaPerUnit", value=quota_per_unit),
        dict(key="ModelRatio", value=json.dumps({"gpt-4o-mini": 0.075, "gpt-4o": 1.25})),
        dict(key="CompletionRatio", value=json.dumps({"gpt-4o-mini": 4, "gpt-4o": 4})),
        dict(key="GroupRatio", value=json.dumps({"default": 1, "vip": 0.8, "svip": 0.5})),
        dict(key="RetryTimes", value="3"),
        dict(key="SMTPToken", value="not-ours"),
    ]
    if flavor == "newapi":
        tokens[0].update(model_limits_enabled=True, model_limits="gpt-4o-mini", models=None)
        tokens[1].update(allow_ips="192.168.1.1\n10.1.2.3", subnet=None)
        channels[0].update(tag="primary", setting='{"force_format": true}',
                           openai_organization="org-42", test_model="gpt-4o-mini")
        users.append(dict(id=5, username="softdeleted", password=bcrypt_hash("x"), role=1,
                          status=1, quota=1, used_quota=0, request_count=0, group="default",
                          deleted_at="2025-01-01 00:00:00"))
    return {"users": users, "tokens": tokens, "channels": channels,
            "redemptions": redemptions, "options": options}


def _insert(conn, engine: str, rows: dict) -> None:
    q = '"' if engine != "mysql" else "`"
    mark = "?" if engine == "sqlite" else "%s"
    cursor = conn.cursor()
    for table, records in rows.items():
        for record in records:
            cols = ", ".join(f"{q}{c}{q}" for c in record)
            cursor.execute(f"INSERT INTO {table} ({cols}) VALUES "
                           f"({', '.join([mark] * len(record))})", list(record.values()))
    conn.commit()


@contextlib.contextmanager
def oneapi_database(engine: str, tmp_path, rows: dict, flavor: str = "oneapi"):
    """A throwaway One API database filled with `rows`; yields its DSN, drops it after."""
    name = f"oneapi_src_{secrets.token_hex(4)}"
    if engine == "sqlite":
        path = tmp_path / f"{name}.db"
        conn = sqlite3.connect(path)
        _fill(conn, engine, flavor, rows)
        yield f"sqlite:///{path}"
        return
    admin, dsn = _server(engine, name)
    try:
        conn = _connect(engine, name)
        _fill(conn, engine, flavor, rows)
        yield dsn
    finally:
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {name}")
        admin.close()


def _fill(conn, engine, flavor, rows) -> None:
    cursor = conn.cursor()
    for statement in ddl(engine, flavor):
        cursor.execute(statement)
    conn.commit()
    _insert(conn, engine, rows)
    conn.close()


def _server(engine: str, name: str):
    if engine == "mysql":
        import MySQLdb

        admin = MySQLdb.connect(host="127.0.0.1", port=3306, user="root", autocommit=True)
        admin.cursor().execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
        return admin, f"mysql://root@127.0.0.1:3306/{name}"
    import psycopg

    admin = psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres",
                            autocommit=True)
    admin.execute(f"CREATE DATABASE {name}")
    return admin, f"postgres://postgres@127.0.0.1:5432/{name}"


def _connect(engine: str, name: str):
    if engine == "mysql":
        import MySQLdb

        return MySQLdb.connect(host="127.0.0.1", port=3306, user="root", database=name)
    import psycopg

    return psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname=name)
