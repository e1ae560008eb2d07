"""Process start-up and shutdown hooks, run by the ASGI lifespan protocol.

Apps register async or sync callables with `on_startup` / `on_shutdown` from their
AppConfig.ready(); hooks run in registration order, shutdown hooks in reverse.
"""

import inspect
import logging

logger = logging.getLogger(__name__)

_startup = []
_shutdown = []


def on_startup(hook):
    """Register `hook` to run once when the server process starts serving."""
    if hook not in _startup:
        _startup.append(hook)
    return hook


def on_shutdown(hook):
    """Register `hook` to run once after the server stopped taking requests."""
    if hook not in _shutdown:
        _shutdown.append(hook)
    return hook


async def _run(hooks):
    for hook in hooks:
        try:
            result = hook()
            if inspect.isawaitable(result):
                await result
        except Exception:
            logger.exception("lifecycle hook %s failed", getattr(hook, "__qualname__", hook))


async def run_startup():
    await _run(list(_startup))


async def run_shutdown():
    await _run(list(reversed(_shutdown)))


async def serve_lifespan(receive, send):
    """Answer the ASGI lifespan messages, running the hooks in between."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await run_startup()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await run_shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return
