"""The bench's processes and databases: pinned children, a fresh database per backend, server probes.

Every child runs under ``taskset -c CORE`` (the server alone on core 0; stub
model, clients and this orchestrator on core 1), in a process group of its
own, and is stopped by that group (never by name). The orchestrator imports
no Django: each backend's settings live in its children's environment.
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SERVER_CORE, CLIENT_CORE = 0, 1
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
PG_DATABASE = os.environ.get("BENCH_PG_DATABASE", "agents_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")
TICKS = os.sysconf("SC_CLK_TCK")


def pin_self() -> None:
    """Pin this orchestrator to the client core (it mostly waits)."""
    with contextlib.suppress(OSError):
        os.sched_setaffinity(0, {CLIENT_CORE})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Child:
    """A pinned child process in its own process group."""

    def __init__(self, argv: list[str], *, core: int, env: dict[str, str] | None = None, log: Path | None = None):
        self.argv = ["taskset", "-c", str(core), *argv]
        self.env = env or dict(os.environ)
        self.log = log
        self.popen: subprocess.Popen | None = None

    def start(self, *, pipes: bool = False) -> "Child":
        output = self.log.open("ab") if self.log else subprocess.DEVNULL
        self.popen = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.PIPE if pipes else subprocess.DEVNULL,
            stdout=subprocess.PIPE if pipes else output,
            stderr=output,
            text=True,
            start_new_session=True,
        )
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid  # taskset execs: this is the program's own pid

    def readline(self, timeout: float = 120.0) -> str:
        """Read one line of the child's stdout (fails if it exits first)."""
        assert self.popen is not None and self.popen.stdout is not None
        line = self.popen.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.argv[3:5]} exited: {self.tail_log()}")
        return line.strip()

    def result(self, timeout: float = 300.0) -> dict:
        """Wait for the child to end; return the JSON of its last line."""
        assert self.popen is not None and self.popen.stdout is not None
        output, _ = self.popen.communicate(timeout=timeout)
        lines = [line for line in output.splitlines() if line.strip()]
        if self.popen.returncode != 0 or not lines:
            raise RuntimeError(f"{self.argv[3:6]} failed ({self.popen.returncode}): {self.tail_log()}")
        return json.loads(lines[-1])

    def tail_log(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log and self.log.exists() else ""

    def stop(self) -> None:
        if self.popen is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.popen.wait(8)
                break
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)


def run_json(argv: list[str], *, env: dict[str, str], log: Path, timeout: float = 300.0) -> dict:
    """Run a client on the client core to its end; return its JSON."""
    return Child(argv, core=CLIENT_CORE, env=env, log=log).start(pipes=True).result(timeout)


# --- Backends ---------------------------------------------------------------------


class Backend:
    """A fresh database (and, for PostgreSQL, a flushed Redis database) and the settings pointing at it."""

    def __init__(self, name: str, workdir: Path):
        self.name = name
        self.workdir = workdir
        self.sqlite_path: Path | None = None
        if name == "sqlite":
            self.sqlite_path = workdir / "bench.sqlite3"
            self.database_url = f"sqlite:///{self.sqlite_path}"
            self.redis_url = None
        else:
            self.database_url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{PG_DATABASE}"
            self.redis_url = REDIS_URL

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a platform process on this backend (production-like: DEBUG off)."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AGENT_", "CELERY_", "OPENAI_", "LLM_", "DATABASE_", "REDIS_", "DJANGO_"))
        }
        env.update(
            DATABASE_URL=self.database_url,
            DJANGO_SETTINGS_MODULE="agents_platform.settings",
            DJANGO_DEBUG="0",
            DJANGO_SECRET_KEY="bench-" + "k" * 50,
            DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
            DJANGO_SECURE_SSL_REDIRECT="0",
            AGENT_RUNNER="thread",
            AGENT_RATE_LIMIT="1000000/m",
            AGENT_TOKEN_BUDGET=str(10**12),
            AGENT_MAX_STREAMS_PER_USER="1000000",
            CACHE_KEY_PREFIX=f"agents-bench-{os.getpid()}",
            LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
        )
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        env.update(extra)
        return env

    def prepare(self) -> str:
        """Create the database afresh, migrate it, make the bench user; return the user's API token."""
        if self.name == "postgres":
            import psycopg
            import redis

            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
                connection.execute(f'CREATE DATABASE "{PG_DATABASE}"')
            redis.Redis.from_url(REDIS_URL).flushdb()  # the bench's own Redis database
        env = self.env()
        manage = [PYTHON, "manage.py"]
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        script = (
            "from django.contrib.auth import get_user_model; from rest_framework.authtoken.models import Token; "
            "user = get_user_model().objects.create_user(username='bench'); "
            "print(Token.objects.create(user=user).key)"
        )
        output = subprocess.run(
            [*manage, "shell", "-c", script], cwd=ROOT, env=env, check=True, capture_output=True, text=True
        )
        return output.stdout.strip().splitlines()[-1]

    def connections(self, pid: int) -> int:
        """Return the database connections the server process holds now."""
        if self.sqlite_path is not None:
            count = 0
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    count += os.readlink(fd) == str(self.sqlite_path)
            return count
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
            query = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'"
            return connection.execute(query, (PG_DATABASE,)).fetchone()[0]


# --- Servers and the stub ----------------------------------------------------------


class Server(Child):
    """uvicorn as ``make run`` starts it (uvloop and httptools when installed), on the server core."""

    def __init__(self, app: str, env: dict[str, str], log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        uvicorn = str(Path(PYTHON).with_name("uvicorn"))
        argv = [uvicorn, app, "--host=127.0.0.1", f"--port={self.port}", "--no-access-log", "--lifespan=on"]
        super().__init__([*argv, "--timeout-graceful-shutdown=2"], core=SERVER_CORE, env=env, log=log)

    def start(self, *, pipes: bool = False) -> "Server":
        super().start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.popen is not None
            if self.popen.poll() is not None:
                raise RuntimeError(f"the server exited: {self.tail_log()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            time.sleep(0.1)
        raise RuntimeError(f"the server did not answer /healthz in 60 s: {self.tail_log()}")

    def status(self) -> dict[str, float]:
        """Resident memory (KB), OS threads and CPU seconds of the server process now."""
        fields = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in {"VmRSS", "Threads"}:
                fields[name] = int(value.split()[0])
        stat = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        cpu = (int(stat[11]) + int(stat[12])) / TICKS
        return {"rss_kb": fields["VmRSS"], "threads": fields["Threads"], "cpu_s": cpu}


class Stub(Child):
    """The stub model process (``bench/stub.py``), driven through its stdin."""

    def __init__(self, log: Path):
        super().__init__([PYTHON, str(ROOT / "bench" / "stub.py")], core=CLIENT_CORE, log=log)
        self.base_url = ""

    def start(self, *, pipes: bool = True) -> "Stub":
        super().start(pipes=True)
        self.base_url = json.loads(self.readline())["base_url"]
        return self

    def command(self, line: str) -> str:
        assert self.popen is not None and self.popen.stdin is not None
        self.popen.stdin.write(line + "\n")
        self.popen.stdin.flush()
        return self.readline()

    def open_gate(self, name: str) -> None:
        assert self.command(f"open {name}") == "ok"

    def requests(self) -> list[dict]:
        return json.loads(self.command("requests"))


def workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="agents-bench-"))
