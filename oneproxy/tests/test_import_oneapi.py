"""import_oneapi against real One API-shaped databases on SQLite, MariaDB and PostgreSQL."""

import io
import re
from decimal import Decimal

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command

from billing.models import (
    Group,
    ImportedRecord,
    Option,
    Price,
    Redemption,
    Token,
    User,
)
from billing.models.tokens import hash_key
from channels_app.models import Ability, Channel

from .oneapi_source import ALICE_KEY, ALICE_KEY2, EXPIRED_KEY, oneapi_database, seed

pytestmark = pytest.mark.django_db

UPSTREAM = "http://127.0.0.1:9"


def run_import(dsn: str, *args) -> str:
    out = io.StringIO()
    call_command("import_oneapi", "--dsn", dsn, *args, stdout=out)
    return out.getvalue()


def _server_available(engine: str) -> bool:
    try:
        if engine == "mysql":
            import MySQLdb

            MySQLdb.connect(host="127.0.0.1", port=3306, user="root").close()
        else:
            import psycopg

            psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres").close()
    except Exception:  # noqa: BLE001
        return False
    return True


ENGINES = [
    "sqlite",
    pytest.param("mysql", marks=pytest.mark.skipif(not _server_available("mysql"),
                                                   reason="no MariaDB on 127.0.0.1:3306")),
    pytest.param("postgres", marks=pytest.mark.skipif(not _server_available("postgres"),
                                                      reason="no PostgreSQL on :5432")),
]


@pytest.mark.parametrize("engine", ENGINES)
def test_it_imports_a_one_api_database_and_a_second_run_changes_nothing(engine, tmp_path):
    with oneapi_database(engine, tmp_path, seed(UPSTREAM)) as dsn:
        report = run_import(dsn)
        assert "users: 3 imported, 1 skipped" in report, report
        assert_imported_world()
        snapshot = world_snapshot()
        again = run_import(dsn)
    assert world_snapshot() == snapshot
    assert not re.search(r"\d+ (imported|updated)", again), again
    assert "users: 3 unchanged, 1 skipped" in again


def assert_imported_world():
    root, alice, bob = (User.objects.get(username=n) for n in ("root", "alice", "bob"))
    assert (root.role, root.is_superuser, root.quota) == ("root", True, 500_000_000)
    assert (alice.role, alice.group.name, alice.quota, alice.used_quota,
            alice.request_count) == ("user", "vip", 1_000_000, 5000, 12)
    assert (bob.role, bob.status, bob.is_active) == ("admin", "disabled", False)
    assert not User.objects.filter(username="ghost").exists()
    # One API's bcrypt hashes keep working, and are upgraded on first login.
    assert authenticate(username="alice", password="alice-pass") == alice
    alice.refresh_from_db()
    assert alice.password.startswith("md5$") or alice.password.startswith("pbkdf2")
    assert not bob.has_usable_password()
    assert_tokens(alice)
    assert_channels()
    assert_pricing()
    codes = {r.code: r.status for r in Redemption.objects.all()}
    assert codes == {"c0de" * 8: "unused", "used" * 8: "used"}


def assert_tokens(alice):
    main = Token.objects.get(key_hash=hash_key("sk-" + ALICE_KEY))
    assert (main.user, main.name, main.status, main.expires_at) == (
        alice, "alice-main", "enabled", None)
    assert (main.remain_quota, main.used_quota, main.unlimited_quota) == (500_000, 2500, False)
    assert main.allowed_models == ["gpt-4o-mini", "gpt-4o"]
    office = Token.objects.get(key_hash=hash_key("sk-" + ALICE_KEY2))
    assert (office.status, office.unlimited_quota) == ("disabled", True)
    assert office.subnets == ["10.0.0.0/8", "192.168.1.1/32"]
    expired = Token.objects.get(key_hash=hash_key("sk-" + EXPIRED_KEY))
    assert expired.status == "expired" and expired.expires_at.timestamp() == 1_760_000_010
    assert Token.objects.count() == 3  # ghost's owner was deleted; badnet's subnet unreadable


def assert_channels():
    openai = Channel.objects.get(name="openai")
    assert (openai.type, openai.base_url, openai.priority, openai.weight, openai.status) == (
        "openai", UPSTREAM, 10, 1, "enabled")
    assert openai.model_names == ["gpt-4o-mini", "gpt-4o"]
    assert openai.model_mapping == {"gpt-4o": "gpt-4o-2024-08-06"}
    assert sorted(k.key for k in openai.keys.all()) == ["sk-upstream-one", "sk-upstream-two"]
    assert sorted(g.name for g in openai.groups.all()) == ["default", "vip"]
    assert openai.used_quota == 12345 and openai.response_ms == 321
    assert Ability.objects.filter(channel=openai).count() == 4
    azure = Channel.objects.get(name="azure")
    assert (azure.type, azure.status) == ("azure", "disabled")
    assert azure.config == {"region": "eastus", "api_version": "2024-02-01"}
    bedrock = Channel.objects.get(name="bedrock")
    assert (bedrock.type, bedrock.status) == ("openai", "disabled")
    assert "AWS Claude" in bedrock.status_reason
    assert bedrock.config == {"region": "us-east-1", "ak": "AKIAEXAMPLE", "sk": "aws-secret"}
    assert not Ability.objects.filter(channel=bedrock).exists()
    deepseek = Channel.objects.get(name="deepseek")
    assert (deepseek.type, deepseek.status, deepseek.base_url) == (
        "deepseek", "auto_disabled", "")
    assert not Channel.objects.filter(name="keyless").exists()


def assert_pricing():
    ratios = dict(Group.objects.values_list("name", "ratio"))
    assert ratios == {"default": Decimal("1"), "vip": Decimal("0.8"), "svip": Decimal("0.5")}
    mini = Price.objects.get(model="gpt-4o-mini")
    assert (mini.input_price, mini.output_price) == (Decimal("0.15"), Decimal("0.6"))
    big = Price.objects.get(model="gpt-4o")
    assert (big.input_price, big.output_price) == (Decimal("2.5"), Decimal("10"))
    assert Option.objects.get(key="retry_times").value == 3


def world_snapshot() -> dict:
    return {
        "users": list(User.objects.order_by("pk").values_list("username", "quota", "password")),
        "tokens": list(Token.objects.order_by("pk").values()),
        "channels": list(Channel.objects.order_by("pk").values()),
        "keys": sorted(Channel.objects.values_list("keys__key", "keys__status")),
        "groups": list(Group.objects.order_by("pk").values()),
        "prices": list(Price.objects.order_by("pk").values("model", "input_price",
                                                           "output_price")),
        "codes": list(Redemption.objects.order_by("pk").values()),
        "records": ImportedRecord.objects.count(),
    }


def test_the_report_names_skips_and_unverifiable_passwords(tmp_path):
    with oneapi_database("sqlite", tmp_path, seed(UPSTREAM)) as dsn:
        report = run_import(dsn)
    assert "1 × deleted in the source (e.g. id 4)" in report
    assert "hash format not verifiable: the user must reset the password (e.g. id bob)" in report
    assert "1 × its owner was not imported (e.g. id 3)" in report
    assert "1 × unreadable IP restriction (e.g. id 4)" in report
    assert "channels: 4 imported, 1 skipped" in report
    assert "AWS Claude (type 33) has no adaptor here yet" in report


def test_a_dry_run_saves_nothing(tmp_path):
    with oneapi_database("sqlite", tmp_path, seed(UPSTREAM)) as dsn:
        report = run_import(dsn, "--dry-run")
    assert report.startswith("DRY RUN")
    assert "users: 3 imported" in report
    assert not User.objects.filter(username="alice").exists()
    assert not Channel.objects.exists() and not ImportedRecord.objects.exists()


def test_quota_amounts_follow_quota_per_unit(tmp_path):
    rows = seed(UPSTREAM, quota_per_unit="1000000")  # the source's $1 = 1,000,000 units
    with oneapi_database("sqlite", tmp_path, rows) as dsn:
        run_import(dsn)
    alice = User.objects.get(username="alice")
    assert (alice.quota, alice.used_quota) == (500_000, 2500)
    assert Redemption.objects.get(name="welcome").quota == 50_000


def test_new_api_type_ids_and_columns_are_understood(tmp_path):
    with oneapi_database("sqlite", tmp_path, seed(UPSTREAM, "newapi"), "newapi") as dsn:
        report = run_import(dsn)
    assert "New API" in report
    assert Channel.objects.get(name="deepseek").type == "deepseek"  # New API's id 43
    openai = Channel.objects.get(name="openai")
    assert (openai.tag, openai.test_model) == ("primary", "gpt-4o-mini")
    assert openai.config == {"organization": "org-42", "setting": {"force_format": True}}
    main = Token.objects.get(key_hash=hash_key("sk-" + ALICE_KEY))
    assert main.allowed_models == ["gpt-4o-mini"]
    office = Token.objects.get(key_hash=hash_key("sk-" + ALICE_KEY2))
    assert office.subnets == ["192.168.1.1/32", "10.1.2.3/32"]
    assert not User.objects.filter(username="softdeleted").exists()


def test_one_api_type_36_is_deepseek_but_new_api_36_is_not(tmp_path):
    rows = seed(UPSTREAM, "newapi")
    rows["channels"][3]["type"] = 36  # SunoAPI in New API
    with oneapi_database("sqlite", tmp_path, rows, "newapi") as dsn:
        run_import(dsn)
    suno = Channel.objects.get(name="deepseek")
    assert (suno.type, suno.status) == ("openai", "disabled")


def test_a_local_user_with_the_same_name_is_left_alone(tmp_path):
    from conftest import make_user

    local = make_user("alice", quota=7)
    with oneapi_database("sqlite", tmp_path, seed(UPSTREAM)) as dsn:
        report = run_import(dsn)
    local.refresh_from_db()
    assert local.quota == 7
    assert "a user with this username already exists" in report
    assert not Token.objects.filter(key_hash=hash_key("sk-" + ALICE_KEY)).exists()


def test_a_bad_dsn_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="unsupported DSN scheme"):
        run_import("redis://localhost/0")
    with pytest.raises(CommandError, match="cannot open"):
        run_import(f"sqlite:///{tmp_path}/missing.db")


def test_one_apis_own_go_style_dsn_is_accepted():
    from oneproxy.importers.source import parse_dsn

    dsn = parse_dsn("oneapi:s3cret@tcp(db.internal:3307)/oneapi?parseTime=true")
    assert (dsn.engine, dsn.host, dsn.port, dsn.user, dsn.password, dsn.database) == (
        "mysql", "db.internal", 3307, "oneapi", "s3cret", "oneapi")
