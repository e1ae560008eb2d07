"""The real server: SIGTERM lets in-flight requests finish and flushes quota on the way out.

Runs `manage.py serve` as a subprocess on its own SQLite file (embedded mode), in front of
the fake OpenAI upstream answering slowly.
"""

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request

from oneproxy.tests.served import ROOT, free_port, run, seed, server_env, wait_until_up


def _chat(port: int, key: str, result: dict) -> None:
    body = json.dumps({"model": "slow-model", "messages": [{"role": "user", "content": "hi"}]})
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/chat/completions", data=body.encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            result["status"] = response.status
            result["body"] = json.loads(response.read())
    except OSError as exc:
        result["error"] = repr(exc)


def test_sigterm_finishes_the_request_in_flight_and_flushes_its_usage(tmp_path, fake_openai):
    env = server_env(tmp_path, GRACEFUL_TIMEOUT="20")
    run(["manage.py", "migrate", "-v0"], env)
    key = seed(env, fake_openai.url, model="slow-model")
    fake_openai.variant, fake_openai.delay = "slow_first_byte", 2.0
    port = free_port()
    proc = subprocess.Popen([sys.executable, "manage.py", "serve", "--port", str(port),
                             "--host", "127.0.0.1"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until_up(port, proc)
        result: dict = {}
        client = threading.Thread(target=_chat, args=(port, key, result))
        client.start()
        time.sleep(0.7)  # the request is now waiting on the slow upstream
        proc.send_signal(signal.SIGTERM)
        client.join(30)
        # uvicorn re-raises the signal once it has shut down cleanly.
        assert proc.wait(30) in (0, -signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert result.get("status") == 200, (result, proc.stdout.read())
    assert result["body"]["object"] == "chat.completion"
    database = sqlite3.connect(tmp_path / "oneproxy.sqlite3")
    (rows,) = database.execute("SELECT count(*) FROM billing_log WHERE type='consume'").fetchone()
    (used,) = database.execute(
        "SELECT used_quota FROM billing_user WHERE username='served'").fetchone()
    assert rows == 1 and used > 0  # the shutdown flush wrote the usage held in memory
