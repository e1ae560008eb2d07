"""Request id middleware: every response carries X-Request-Id and every log line has it."""

import re
import uuid

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from .logging import request_id_var

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
        token = self._start(request)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-Id"] = request.request_id
        return response

    async def _acall(self, request):
        token = self._start(request)
        try:
            response = await self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-Id"] = request.request_id
        return response

    @staticmethod
    def _start(request):
        request.request_id = new_request_id(request.headers.get("X-Request-Id"))
        return request_id_var.set(request.request_id)
