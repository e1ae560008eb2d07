"""Request id middleware: every response carries X-Request-Id and every log line has it."""

import re
import time
import uuid
from datetime import UTC, datetime

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings

from .logging import access_log, request_id_var

# Accept a caller's id (a load balancer's, say) only if it is short and plain, so it can
# never inject anything into logs.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


def new_request_id(incoming: str | None) -> str:
    """Return the caller's X-Request-Id when it is safe, else a fresh random one."""
    if incoming and _SAFE_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex


class RequestIdMiddleware:
    async_capable = True
    sync_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self._acall(request)
        token, started = self._start(request)
        try:
            response = self.get_response(request)
            self._finish(request, response, started)
        finally:
            request_id_var.reset(token)
        return response

    async def _acall(self, request):
        token, started = self._start(request)
        try:
            response = await self.get_response(request)
            self._finish(request, response, started)
        finally:
            request_id_var.reset(token)
        return response

    @staticmethod
    def _start(request):
        request.request_id = new_request_id(request.headers.get("X-Request-Id"))
        return request_id_var.set(request.request_id), time.perf_counter()

    @staticmethod
    def _finish(request, response, started) -> None:
        """Tag the response and write one access line (for a stream: when headers go out)."""
        response["X-Request-Id"] = request.request_id
        write_access_line(request.request_id, request.method, request.path,
                          response.status_code, started)


def write_access_line(request_id: str, method: str, path: str, status: int,
                      started: float) -> None:
    """One JSON access line (if ACCESS_LOG) for a request begun at perf_counter `started`."""
    if settings.ACCESS_LOG:
        access_log.write(
            {
                "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "level": "INFO",
                "logger": "oneproxy.access",
                "request_id": request_id,
                "message": f"{method} {path} {status}",
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            }
        )
