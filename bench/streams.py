"""Open-streams benchmark client (run by bench/streams.sh): N streaming chat requests at
once through OneProxy, each held open by the slow fake upstream, while the server
process's threads, memory and CPU and its `oneproxy_open_streams` gauge are sampled.

Prints one line: how many streams finished with `[DONE]` and their usage, time to first
byte and total time percentiles, the peak number of streams open at once, and what the
server process used.

    python bench/streams.py --url http://127.0.0.1:3300 --key sk-... --streams 2000 \
        --server-pid 1234
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import time

import aiohttp
import orjson

BODY = orjson.dumps({"model": "gpt-4o-mini", "stream": True, "max_tokens": 16,
                     "stream_options": {"include_usage": True},
                     "messages": [{"role": "user", "content": "Say hello"}]})
OPEN_STREAMS = re.compile(r"^oneproxy_open_streams(?:\{[^}]*\})? ([0-9.e+]+)$", re.M)
TICKS = os.sysconf("SC_CLK_TCK")


def process_state(pid: int) -> dict:
    """Threads, resident memory (MB) and CPU seconds of `pid`, from /proc."""
    with open(f"/proc/{pid}/status") as status:
        fields = dict(line.split(":", 1) for line in status if ":" in line)
    with open(f"/proc/{pid}/stat") as stat:
        parts = stat.read().rsplit(")", 1)[1].split()
    return {"threads": int(fields["Threads"]),
            "rss_mb": int(fields["VmRSS"].split()[0]) / 1024,
            "cpu_s": (int(parts[11]) + int(parts[12])) / TICKS}


async def one_stream(session: aiohttp.ClientSession, url: str, key: str) -> dict:
    started = time.perf_counter()
    ttfb = None
    body = b""
    async with session.post(url + "/v1/chat/completions", data=BODY, headers={
            "Authorization": f"Bearer {key}", "Content-Type": "application/json"}) as response:
        async for chunk in response.content.iter_any():
            if ttfb is None:
                ttfb = time.perf_counter() - started
            body += chunk
        status = response.status
    done = body.rstrip().endswith(b"data: [DONE]")
    usage = b'"completion_tokens"' in body
    return {"ok": status == 200 and done and usage, "ttfb": ttfb or 0.0,
            "total": time.perf_counter() - started}


async def sample(url: str, pid: int, samples: list, stop: asyncio.Event) -> None:
    async with aiohttp.ClientSession() as session:
        while not stop.is_set():
            async with session.get(url + "/metrics") as response:
                text = await response.text()
            open_now = sum(float(v) for v in OPEN_STREAMS.findall(text))
            samples.append({**process_state(pid), "open": open_now})
            await asyncio.sleep(0.5)


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


async def run(url: str, key: str, streams: int, pid: int) -> str:
    before = process_state(pid)
    samples: list[dict] = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample(url, pid, samples, stop))
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=600)) as session:
        started = time.perf_counter()
        tasks = []
        for i in range(streams):  # open them within about a second, not in one burst
            tasks.append(asyncio.create_task(one_stream(session, url, key)))
            if i % 100 == 99:
                await asyncio.sleep(0.05)
        results = await asyncio.gather(*tasks, return_exceptions=True)
        wall = time.perf_counter() - started
    stop.set()
    await sampler
    after = process_state(pid)
    good = [r for r in results if isinstance(r, dict) and r["ok"]]
    errors = [r for r in results if not (isinstance(r, dict) and r["ok"])]
    if errors:
        print("first failure:", repr(errors[0]))
    ttfb = [r["ttfb"] * 1000 for r in good] or [0.0]
    total = [r["total"] for r in good] or [0.0]
    return (f"streams={streams} ok={len(good)} failed={len(errors)} wall_s={wall:.1f} "
            f"ttfb_ms_p50={pct(ttfb, 50):.1f} ttfb_ms_p99={pct(ttfb, 99):.1f} "
            f"total_s_p50={pct(total, 50):.2f} total_s_max={max(total):.2f} "
            f"peak_open={max((s['open'] for s in samples), default=0):.0f} "
            f"threads={before['threads']}->{max(s['threads'] for s in samples or [after])} "
            f"rss_mb={before['rss_mb']:.0f}->{max(s['rss_mb'] for s in samples or [after]):.0f} "
            f"cpu_s={after['cpu_s'] - before['cpu_s']:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--server-pid", type=int, required=True)
    args = parser.parse_args()
    print(asyncio.run(run(args.url, args.key, args.streams, args.server_pid)))


if __name__ == "__main__":
    main()
