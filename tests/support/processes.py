"""Real processes of the platform for multi-process tests and the bench: web servers and Celery workers.

Each process starts in a process group of its own, logs to a file, and is
stopped by its own pid or group (never by name). ``platform_env`` builds the
environment that points children at the test's own database (the one
pytest-django made), Redis databases and stub model::

    env = platform_env(redis_db=13, broker_url=..., AGENT_RUNNER="celery", OPENAI_BASE_URL=stub.base_url)
    web = Web(env, tmp_path).start()          # uvicorn, lifespan on (drains on SIGTERM)
    worker = Worker(env, tmp_path).start()    # `make worker`
    web.wait_healthy(workers=1)
    worker.kill()                             # SIGKILL the Celery worker itself (make's child)
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import redis
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
# A ceiling, not a wait: `make run` (migrate, demo user, uvicorn) on a loaded 2-core machine took over 30 s once.
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """Return a DATABASE_URL for the database this test process uses (the test database)."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def redis_url(db: int) -> str:
    return f"redis://127.0.0.1:6379/{db}"


def check_redis() -> None:
    """Fail loudly when Redis is unreachable (children get their own queue and key prefix, never a flush)."""
    redis.Redis.from_url(redis_url(0), socket_connect_timeout=2).ping()


def platform_env(*, redis_db: int | None, broker_url: str | None = None, **extra: str) -> dict[str, str]:
    """Return the environment of a child process of the platform, on the test database."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AGENT_", "CELERY_", "OPENAI_", "LLM_", "DATABASE_", "REDIS_", "PYTEST"))
    }
    env.update(
        DATABASE_URL=database_url(),
        DJANGO_SETTINGS_MODULE="agents_platform.settings",
        AGENT_RATE_LIMIT="1000/m",
        AGENT_TOKEN_BUDGET="10000000",
        PYTHONUNBUFFERED="1",
    )
    if redis_db is not None:
        env["REDIS_URL"] = redis_url(redis_db)
    if broker_url:
        env["CELERY_BROKER_URL"] = broker_url
    env.update({key: str(value) for key, value in extra.items()})
    return env


class Process:
    """A child process in its own process group, logging to a file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path):
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.popen: subprocess.Popen | None = None

    def start(self) -> "Process":
        self._log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            self.argv, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def main_pid(self) -> int:
        """Return the pid of the platform's own process (a direct child of ``make``, else this one)."""
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        if self.argv[0] == "make":
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline:
                pids = children.read_text().split() if children.exists() else []
                if pids:
                    return int(pids[0])
                time.sleep(0.05)
            raise AssertionError(f"{self.name}: make started no child\n{self.log()}")
        return self.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, sig: int) -> None:
        """Send a signal to the platform's own process."""
        os.kill(self.main_pid(), sig)

    def wait_exit(self, timeout: float) -> int | None:
        """Wait until the whole process group has exited; return make's (or the process's) exit code."""
        assert self.popen is not None
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        """Stop the whole group: SIGTERM, then SIGKILL after a few seconds."""
        if self.popen is None:
            return
        for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.popen.wait(grace)
                break
            except subprocess.TimeoutExpired:
                continue
        # make may exit before its child: make sure the group is gone.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:] if self.log_path.exists() else ""


class Web(Process):
    """A web process: uvicorn serving the ASGI app with the lifespan on (``make run``'s server)."""

    def __init__(self, env: dict[str, str], log_dir: Path, *, name: str = "web", use_make: bool = False):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        if use_make:
            argv = ["make", "--no-print-directory", "run", f"PORT={self.port}", "HOST=127.0.0.1"]
        else:
            argv = [
                str(Path(PYTHON).with_name("uvicorn")),
                "agents_platform.asgi:application",
                "--host=127.0.0.1",
                f"--port={self.port}",
                "--lifespan=on",
                "--no-access-log",
                "--timeout-graceful-shutdown=2",
            ]
        super().__init__(f"{name}-{self.port}", argv, env, log_dir)

    def health(self) -> dict | None:
        try:
            response = httpx.get(f"{self.url}/healthz", timeout=2)
        except httpx.HTTPError:
            return None
        return response.json() if response.status_code == 200 else None

    def wait_healthy(self, *, workers: int | None = None, timeout: float = START_TIMEOUT) -> dict:
        """Wait until /healthz answers 200 (and, if given, reports at least ``workers`` live workers)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.alive(), f"{self.name} exited:\n{self.log()}"
            body = self.health()
            if body is not None and (workers is None or body["workers"]["live"] >= workers):
                return body
            time.sleep(0.1)
        raise AssertionError(f"{self.name} not healthy in {timeout} s (workers={workers}):\n{self.log()}")


def wait_workers_ready(web: Web, workers: list["Worker"], timeout: float = START_TIMEOUT) -> None:
    """Wait until /healthz lists each of these workers by its own pid (a dead one's row may linger a lease)."""
    deadline = time.monotonic() + timeout
    while True:
        body = web.health() or {"workers": {"names": []}}
        pids = {name.rsplit(":", 2)[1] for name in body["workers"].get("names", [])}
        if all(str(worker.main_pid()) in pids for worker in workers):
            return
        assert time.monotonic() < deadline, f"workers not ready: {[w.name for w in workers]}\n{web.log()}"
        time.sleep(0.1)


class Worker(Process):
    """A Celery worker started as a deployment would: ``make worker``."""

    def __init__(self, env: dict[str, str], log_dir: Path, *, name: str = "worker"):
        super().__init__(f"{name}-{free_port()}", ["make", "--no-print-directory", "worker"], env, log_dir)
