"""Take the admin screenshots in this folder with headless Chromium (Debian's `chromium`).

    .venv/bin/python docs/screenshots/take.py

Builds a throw-away demo database under /tmp, serves it with `runserver`, logs Chromium
in by setting a session cookie over the DevTools protocol, and saves one PNG per page.
Nothing touches the real data directory.
"""

import base64
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent
PORT = 8765
BALANCES = [Decimal("118.2"), Decimal("42.5"), None, Decimal("9.3"), None]
DEVTOOLS_PORT = 9333
WORK = Path(tempfile.mkdtemp(prefix="oneproxy-shots-"))
ENV = {
    **os.environ,
    "DATA_DIR": str(WORK),
    "DATABASE_URL": f"sqlite:///{WORK / 'demo.sqlite3'}",
    "DEBUG": "1",
    "RUN_EMBEDDED_JOBS": "0",
    "REDIS_URL": "",
    "SECRET_KEY": "screenshots-only-0123456789abcdefghijklmnopqrstuvwxyz",
}
PAGES = [
    ("dashboard", "/admin/dashboard/", "en"),
    ("dashboard-zh", "/admin/dashboard/", "zh-hans"),
    ("channels", "/admin/channels_app/channel/", "en"),
    ("channel-edit", "/admin/channels_app/channel/1/change/", "en"),
    ("tokens", "/admin/billing/token/", "en"),
    ("users", "/admin/billing/user/", "en"),
    ("logs", "/admin/billing/log/", "en"),
    ("prices", "/admin/billing/price/", "en"),
    ("options", "/admin/billing/option/", "en"),
    ("redemptions", "/admin/billing/redemption/", "en"),
    ("routing", "/admin/channels_app/ability/", "en"),
    ("channels-zh", "/admin/channels_app/channel/", "zh-hans"),
]


def setup_django():
    os.environ.update(ENV)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oneproxy.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed_demo() -> str:
    """Demo rows; returns the session key of a logged-in root user."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils import timezone

    from billing.models import DailyUsage, Group, Log, LogType, User, UserRole
    from billing.services import create_token, generate_redemptions
    from channels_app.models import Channel, ChannelKey, ChannelStatus

    rng = random.Random(7)
    default = Group.objects.get(name="default")
    vip = Group.objects.create(name="vip", ratio="0.8", description="20% off")
    root = User.objects.create_user("root", password="demo-root-password-0", role=UserRole.ROOT,
                                    quota=500_000_000)  # fmt: skip
    users = [root] + [
        User.objects.create_user(
            name,
            password=f"demo-{name}-password",
            quota=q,
            used_quota=q // 3,
            request_count=q // 900,
            group=vip if i % 2 else default,
        )  # fmt: skip
        for i, (name, q) in enumerate(
            [("alice", 12_500_000), ("bob", 3_200_000), ("carol", 880_000), ("dave", 45_000_000)]
        )
    ]
    specs = [
        ("openai-main", "openai", ["gpt-4o", "gpt-4o-mini", "gpt-4.1"], 10, ChannelStatus.ENABLED),
        ("openai-backup", "openai", ["gpt-4o", "gpt-4o-mini"], 5, ChannelStatus.ENABLED),
        ("claude", "anthropic", ["claude-sonnet-4-5", "claude-haiku-4-5"], 10,
         ChannelStatus.ENABLED),
        ("deepseek", "deepseek", ["deepseek-chat", "deepseek-reasoner"], 8,
         ChannelStatus.AUTO_DISABLED),
        ("qwen", "qwen", ["qwen-plus", "qwen-turbo"], 3, ChannelStatus.DISABLED),
    ]  # fmt: skip
    channels = []
    for index, (name, provider, models, priority, status) in enumerate(specs):
        channel = Channel.objects.create(
            name=name, type=provider, model_names=models, priority=priority, status=status,
            response_ms=rng.randint(300, 1800), tested_at=timezone.now(),
            balance=BALANCES[index], used_quota=rng.randint(10**6, 10**8),
            tag="prod" if index < 3 else "", status_reason="401 invalid key"
            if status == ChannelStatus.AUTO_DISABLED else "",
        )  # fmt: skip
        for k in range(index % 3 + 1):
            ChannelKey.objects.create(channel=channel, key=f"sk-demo-{name}-{k}-xxxxxxxxxxxx")
        channel.groups.set([default, vip] if index % 2 == 0 else [default])
        channels.append(channel)
    tokens = [create_token(u, f"{u.username}-{n}", remain_quota=rng.randint(0, 9_000_000),
                           unlimited_quota=n == "ci")[0]
              for u in users for n in ("laptop", "ci")]  # fmt: skip
    today = timezone.localdate()
    models = ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "deepseek-chat", "gpt-4.1"]
    for offset in range(30):
        for user in users:
            for model in rng.sample(models, 3):
                requests = rng.randint(5, 80) * (1 + offset % 7)
                DailyUsage.objects.create(
                    day=today - timedelta(days=offset), user_id=user.pk, model=model,
                    channel_id=rng.choice(channels).pk, requests=requests,
                    errors=rng.randint(0, requests // 8), prompt_tokens=requests * 900,
                    completion_tokens=requests * 250, quota=requests * rng.randint(300, 2500),
                )  # fmt: skip
    for i in range(60):
        token = rng.choice(tokens)
        channel = rng.choice(channels[:3])
        prompt, completion = rng.randint(20, 4000), rng.randint(5, 1500)
        Log.objects.create(
            type=LogType.CONSUME if i % 9 else LogType.TOPUP, user=token.user,
            username=token.user.username, token=token, token_name=token.name, channel=channel,
            model=rng.choice(channel.model_names), prompt_tokens=prompt,
            completion_tokens=completion, quota=prompt + completion * 4,
            elapsed_ms=rng.randint(200, 9000), is_stream=bool(i % 2),
            created_at=timezone.now() - timedelta(minutes=7 * i),
            status_code=200 if i % 13 else 429,
        )  # fmt: skip
    generate_redemptions(6, 1_000_000, name="launch promo", by=root)
    session = SessionStore()
    session[SESSION_KEY] = str(root.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = root.get_session_auth_hash()
    session.create()
    return session.session_key


def wait_for(url: str, seconds: float = 30) -> str:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def capture(session_key: str) -> None:
    from websockets.sync.client import connect

    profile = WORK / "chromium-profile"
    browser = subprocess.Popen([
        "chromium", "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", f"--user-data-dir={profile}", "--window-size=1600,1000",
        "--hide-scrollbars", f"--remote-debugging-port={DEVTOOLS_PORT}", "about:blank",
    ], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        targets = json.loads(wait_for(f"http://127.0.0.1:{DEVTOOLS_PORT}/json"))
        page = next(t for t in targets if t["type"] == "page")
        with connect(page["webSocketDebuggerUrl"], max_size=2**26) as ws:
            cdp = _Cdp(ws)
            cdp("Network.enable")
            cdp("Page.enable")
            # Collapse the admin's model sidebar so wide changelists fit the screenshot.
            collapse = "localStorage.setItem('django.admin.navSidebarIsOpen', 'false')"
            cdp("Page.addScriptToEvaluateOnNewDocument", source=collapse)
            for name, path, language in PAGES:
                for cookie, value in (("sessionid", session_key), ("django_language", language)):
                    cdp("Network.setCookie", name=cookie, value=value, domain="127.0.0.1",
                        path="/")  # fmt: skip
                cdp("Page.navigate", url=f"http://127.0.0.1:{PORT}{path}")
                time.sleep(1.5)
                shot = cdp("Page.captureScreenshot", format="png", captureBeyondViewport=True)
                (OUT / f"{name}.png").write_bytes(base64.b64decode(shot["data"]))
                print("saved", name)
    finally:
        browser.terminate()
        browser.wait(10)


class _Cdp:
    def __init__(self, ws):
        self.ws, self.next_id = ws, 0

    def __call__(self, method: str, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                return message.get("result", {})


def main() -> None:
    setup_django()
    session_key = seed_demo()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{PORT}", "--noreload"],
        cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(f"http://127.0.0.1:{PORT}/healthz")
        capture(session_key)
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
