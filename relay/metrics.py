"""Prometheus metrics of the relay, correct with several server worker processes.

prometheus-client's multiprocess mode keeps each process's values in memory-mapped files
under one directory and sums them at scrape time. The directory must be known before
prometheus_client is imported, so it is set here, first: METRICS_MULTIPROC_DIR, else
DATA_DIR/metrics/<process group id> (uvicorn's workers share their parent's group).
`GET /metrics` is allowed with `Authorization: Bearer $METRICS_TOKEN` or from an address
in METRICS_ALLOWED_IPS.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import shutil
from pathlib import Path

from django.conf import settings


def _multiproc_dir() -> Path:
    configured = settings.METRICS_MULTIPROC_DIR or os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    path = Path(configured or settings.DATA_DIR / "metrics" / str(os.getpgrp()))
    path.mkdir(parents=True, exist_ok=True)
    return path


MULTIPROC_DIR = _multiproc_dir()
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(MULTIPROC_DIR)

from django.http import HttpRequest, HttpResponse  # noqa: E402
from prometheus_client import (  # noqa: E402
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
                   30, 60, 120)

REQUESTS = Counter("oneproxy_requests_total", "Relay requests answered.",
                   ["endpoint", "model", "status"])
LATENCY = Histogram("oneproxy_request_duration_seconds",
                    "Time to the full response (streams: until the response object is "
                    "returned; see TTFB and the stream end).", ["endpoint"],
                    buckets=LATENCY_BUCKETS)
TTFB = Histogram("oneproxy_upstream_ttfb_seconds", "Time from request start to the "
                 "upstream's first byte.", ["endpoint"], buckets=LATENCY_BUCKETS)
UPSTREAM_ERRORS = Counter("oneproxy_upstream_errors_total", "Failed upstream attempts.",
                          ["channel", "model", "code"])
RETRIES = Counter("oneproxy_retries_total", "Attempts moved to another channel.",
                  ["channel", "model"])
OPEN_STREAMS = Gauge("oneproxy_open_streams", "Streams being relayed now.",
                     multiprocess_mode="livesum")
QUOTA_CHARGED = Counter("oneproxy_quota_charged_total", "Quota units charged.", ["model"])

_children: dict[tuple, object] = {}
MAX_CHILDREN = 10_000  # label values are bounded (endpoints, routed models, statuses)


def child(metric, *labels: str):
    """`metric.labels(*labels)`, memoised: prometheus-client validates and locks on every
    `labels()` call, which the hot path would pay four times per request."""
    key = (metric, labels)
    found = _children.get(key)
    if found is None:
        if len(_children) >= MAX_CHILDREN:
            _children.clear()
        found = _children[key] = metric.labels(*labels)
    return found


def render() -> bytes:
    """The exposition text of every worker's metrics together."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(MULTIPROC_DIR))
    return generate_latest(registry)


def allowed(request: HttpRequest) -> bool:
    """Bearer METRICS_TOKEN, or a client address inside METRICS_ALLOWED_IPS."""
    token = settings.METRICS_TOKEN
    sent = request.META.get("HTTP_AUTHORIZATION", "").removeprefix("Bearer ").strip()
    if token and sent and hmac.compare_digest(sent.encode(), token.encode()):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net.strip(), strict=False)
               for net in settings.METRICS_ALLOWED_IPS if net.strip())


def metrics_view(request: HttpRequest) -> HttpResponse:
    """`GET /metrics` (sync on purpose: reading the files is blocking, off the hot path)."""
    if not allowed(request):
        return HttpResponse(b"forbidden\n", status=403, content_type="text/plain")
    return HttpResponse(render(), content_type=CONTENT_TYPE_LATEST)


def mark_process_dead() -> None:
    """Lifespan shutdown: drop this worker's live gauges (open streams)."""
    multiprocess.mark_process_dead(os.getpid(), path=str(MULTIPROC_DIR))


def remove_stale_dirs() -> None:
    """Start-up: delete metric directories of process groups that no longer exist."""
    if settings.METRICS_MULTIPROC_DIR:
        return
    for path in MULTIPROC_DIR.parent.iterdir():
        if path == MULTIPROC_DIR or not path.name.isdigit():
            continue
        try:
            os.killpg(int(path.name), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:
            continue
