"""Liveness and readiness probes for load balancers and orchestrators."""

from asgiref.sync import sync_to_async
from django.db import connection
from django.http import JsonResponse

from core.backend import uses_redis
from core.redis import sync_client


async def healthz(request):
    """The process is up and serving."""
    return JsonResponse({"status": "ok"})


def _database_ok() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _redis_ok() -> None:
    client = sync_client(socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    finally:
        client.close()


@sync_to_async
def _readiness_failures() -> dict:
    failures = {}
    checks = {"database": _database_ok}
    if uses_redis():
        checks["redis"] = _redis_ok
    for name, check in checks.items():
        try:
            check()
        except Exception as exc:  # any failure means "not ready"; the reason goes out
            failures[name] = f"{type(exc).__name__}: {exc}"[:300]
    return failures


async def readyz(request):
    """The database (and Redis, when configured) answer: 200, else 503 with the reasons."""
    failures = await _readiness_failures()
    if failures:
        return JsonResponse({"status": "unavailable", "failures": failures}, status=503)
    return JsonResponse({"status": "ok"})
