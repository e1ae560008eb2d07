"""Shared fixtures and helpers for the quota, flush and exactness tests (the factories
are the root conftest's)."""

import os
import signal
import subprocess
import sys
from urllib.parse import quote

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.db import connection

from billing import quota
from conftest import make_token, make_user


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request, settings):
    """Run the test once on the in-process backend and, in Redis passes, once on Redis."""
    if request.param == "memory":
        settings.REDIS_URL = ""
    quota.reset_memory_backend()
    yield request.param
    quota.reset_memory_backend()


def funded(username="alice", *, user_quota=1000, token_quota=1000, unlimited=False):
    user = make_user(username, quota=user_quota)
    token, _key = make_token(user, name=username + "-key", remain_quota=token_quota,
                             unlimited_quota=unlimited)
    return user, token


def use(token, user, *, reserve=100, actual=60, channel_id=None, fail=False, unlimited=False):
    """One request through the quota API, from sync test code."""

    async def run():
        res = await quota.reserve(token.pk, user.pk, reserve, unlimited_token=unlimited)
        if fail:
            await quota.refund(res, log={"model": "gpt", "error": "boom", "status_code": 500})
            return 0
        log = {"model": "gpt", "prompt_tokens": 3}
        return await quota.settle(res, actual, channel_id=channel_id, log=log)

    return async_to_sync(run)()


def totals(token, user):
    token.refresh_from_db()
    user.refresh_from_db()
    return (token.remain_quota, token.used_quota, user.quota, user.used_quota, user.request_count)


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def database_url() -> str:
    """DATABASE_URL of the test database this test runs on, for a child process."""
    db = connection.settings_dict
    scheme = {"postgresql": "postgres", "mysql": "mysql"}[connection.vendor]
    auth = quote(db["USER"] or "") + (":" + quote(db["PASSWORD"]) if db["PASSWORD"] else "")
    return f"{scheme}://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or ''}/{db['NAME']}"


def spawn(args: list[str], **env) -> subprocess.Popen:
    """Start a child process (own session) on this test's database and Redis."""
    full_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "oneproxy.settings",
        "DATABASE_URL": database_url(),
        "REDIS_URL": django_settings.REDIS_URL,
        "SECRET_KEY": django_settings.SECRET_KEY,
        "RUN_EMBEDDED_JOBS": "false",
        "LOG_LEVEL": "WARNING",
        **env,
    }
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=full_env, start_new_session=True)


def stop(proc: subprocess.Popen, sig=signal.SIGTERM) -> None:
    """Stop a child started by spawn(), by its own process group id."""
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
