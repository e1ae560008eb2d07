"""Helpers for tests against the real server: `manage.py serve` as a subprocess on its own
SQLite file (embedded mode), raw HTTP/1.1 over sockets, and the server's memory and open
files read from /proc."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(data_dir, **extra: str) -> dict:
    """The environment of an embedded-mode server keeping its data under `data_dir`."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DATA_DIR=str(data_dir), PYTHONPATH=str(ROOT),
               DJANGO_SETTINGS_MODULE="oneproxy.settings", BILLING_FLUSH_INTERVAL="3600",
               **extra)
    return env


def run(args, env, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True, **kwargs)


def wait_until_up(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited"
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("server did not start")


def rss_bytes(pid: int) -> int:
    """The resident memory of process `pid` (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def largest_open_file(pid: int) -> int:
    """The size of the largest regular file `pid` holds open (temporary files included:
    they have no name on disk, but their descriptors show their size)."""
    largest = 0
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in os.listdir(fd_dir):
        try:
            info = os.stat(fd_dir / fd)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode):
            largest = max(largest, info.st_size)
    return largest


class Peaks:
    """Samples a process's RSS and largest open file every few ms while in its block."""

    def __init__(self, pid: int) -> None:
        self.pid, self.rss, self.file = pid, 0, 0
        self.baseline = rss_bytes(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.rss = max(self.rss, rss_bytes(self.pid))
            self.file = max(self.file, largest_open_file(self.pid))

    @property
    def rss_growth(self) -> int:
        return self.rss - self.baseline

    def __enter__(self) -> Peaks:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(2)


def connect(port: int, timeout: float = 5.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def request_head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1",
             *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes] | None:
    """(status, lower-cased headers, body) of one response, or None when the server
    closed or reset the connection before a whole head arrived."""
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
        if headers.get("transfer-encoding") == "chunked":
            body = _read_chunked(sock, body)
        else:
            body = _read_more(sock, body, int(headers.get("content-length", "0")))
    except ConnectionResetError:
        return None
    return int(status_line.split()[1]), headers, body


def _read_more(sock: socket.socket, data: bytes, size: int) -> bytes:
    while len(data) < size:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _read_chunked(sock: socket.socket, data: bytes) -> bytes:
    while not data.endswith(b"0\r\n\r\n"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    body = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        body, data = body + data[:size], data[size + 2:]
    return body


def closed_by_peer(sock: socket.socket) -> bool:
    """Whether the server has closed the connection (waits up to the socket's timeout)."""
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


class Sender(threading.Thread):
    """Sends `chunks` (an iterable of bytes) on `sock` until done or the server stops
    reading; `.sent` is the number of bytes the kernel accepted."""

    def __init__(self, sock: socket.socket, chunks) -> None:
        super().__init__(daemon=True)
        self.sock, self.chunks, self.sent = sock, chunks, 0

    def run(self) -> None:
        try:
            for chunk in self.chunks:
                self.sock.sendall(chunk)
                self.sent += len(chunk)
        except OSError:
            pass  # reset, broken pipe or timeout: the server stopped reading


def chunked(total: int, size: int = 1 << 20):
    """`total` bytes of a chunked body in chunks of `size`, then the last chunk."""
    piece = b"x" * size
    left = total
    while left > 0:
        part = piece[:min(size, left)]
        left -= len(part)
        yield b"%x\r\n%s\r\n" % (len(part), part)
    yield b"0\r\n\r\n"


SETUP = """
import django; django.setup()
from decimal import Decimal
from billing.models import Group, Price, User
from billing.services import create_token
from channels_app.models import Channel, ChannelKey
group = Group.objects.get_or_create(name="default")[0]
Price.objects.update_or_create(model="{model}", defaults={"input_price": Decimal("1")})
channel = Channel.objects.create(type="openai", name="fake", base_url="{upstream}",
                                 model_names=["{model}"])
ChannelKey.objects.create(channel=channel, key="sk-upstream-test-key")
channel.groups.set([group])
user = User.objects.create_user("served", password="x" * 20, quota=10**9, group=group)
print(create_token(user, "t", unlimited_quota=True)[1])
"""


def seed(env: dict, upstream: str, model: str = "gpt-4o-mini") -> str:
    """Seed the server's database with a priced `model` on one channel at `upstream` and a
    user with quota; returns that user's new key."""
    script = SETUP.replace("{upstream}", upstream).replace("{model}", model)
    return run(["-c", script], env).stdout.strip().splitlines()[-1]


class Served:
    """`manage.py serve` on a fresh embedded database with one user whose key is `.key`,
    relaying gpt-4o-mini to `upstream`. Use as a context manager."""

    def __init__(self, data_dir: Path, upstream: str, **env: str) -> None:
        self.env = server_env(data_dir, ACCESS_LOG="false", RUN_EMBEDDED_JOBS="false",
                              PYTHONUNBUFFERED="1",
                              **env)
        self.data_dir, self.upstream, self.port = data_dir, upstream, free_port()
        self.key, self.proc = "", None

    def __enter__(self) -> Served:
        run(["manage.py", "migrate", "-v0"], self.env)
        self.key = seed(self.env, self.upstream)
        log = open(self.data_dir / "server.log", "wb")  # noqa: SIM115 (the server's)
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(self.port), "--host",
             "127.0.0.1"], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_until_up(self.port, self.proc)
        return self

    def __exit__(self, *exc) -> None:
        self.proc.kill()
        self.proc.wait(10)

    @property
    def pid(self) -> int:
        return self.proc.pid
