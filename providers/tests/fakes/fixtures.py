"""pytest fixtures for the fake upstreams. Import them into a conftest:

    from providers.tests.fakes.fixtures import *  # noqa: F403

`fake_openai` / `fake_anthropic` give a `FakeUpstream` (with `.url`, `.requests`,
`.variant`, `.delay`) reset for each test; the servers start once per session.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from providers.tests.fakes.anthropic_server import FakeAnthropic
from providers.tests.fakes.openai_server import FakeOpenAI
from providers.tests.fakes.server import FakeUpstream, ServerThread

__all__ = ["anthropic_server", "fake_anthropic", "fake_openai", "openai_server"]


def _serve(app: FakeUpstream) -> Iterator[ServerThread]:
    server = ServerThread(app).start()
    app.url = server.url
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def openai_server() -> Iterator[ServerThread]:
    yield from _serve(FakeOpenAI())


@pytest.fixture(scope="session")
def anthropic_server() -> Iterator[ServerThread]:
    yield from _serve(FakeAnthropic())


@pytest.fixture
def fake_openai(openai_server: ServerThread) -> FakeOpenAI:
    app = openai_server.app
    app.reset()
    return app  # type: ignore[return-value]


@pytest.fixture
def fake_anthropic(anthropic_server: ServerThread) -> FakeAnthropic:
    app = anthropic_server.app
    app.reset()
    return app  # type: ignore[return-value]
