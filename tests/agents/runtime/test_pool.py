"""No thread holds a PostgreSQL connection while it waits: slow plans share a small pool and all complete.

Runs in both CI passes against a PostgreSQL database of its own (the pool is
PostgreSQL's), served by a real ``make run`` process: 3 runs at once, each
with 3 parallel steps whose model calls take 3 s, on a pool of 4 connections
that gives up after 2 s. An engine holding its connection across a model
call would need 12 and fail steps with PoolTimeout; this one needs a
connection only while it writes.
"""

import re
import threading
import uuid

import psycopg
import pytest

from tests.support.live_server import LiveClient
from tests.support.processes import Web, platform_env
from tests.support.stub_model import Text, is_executor, is_routing, plan

pytestmark = pytest.mark.timeout(180)

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def postgres_database():
    """Create a PostgreSQL database for this test and drop it after; fails loudly without PostgreSQL."""
    name = f"agents_pool_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield f"postgres://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(ADMIN_DSN, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_concurrent_slow_plans_complete_on_a_small_pool(postgres_database, stub_model, tmp_path):
    def reply(request):
        if is_routing(request):
            return plan("Three at once", [("a", "Find A"), ("b", "Find B"), ("c", "Find C")])
        if is_executor(request):
            return Text("slow result " * 30, chunks=30, chunk_delay=0.1)
        return Text("All three found.")

    stub_model.responder = reply
    env = platform_env(
        redis_db=None,
        DATABASE_URL=postgres_database,
        DATABASE_POOL_MIN="1",
        DATABASE_POOL_MAX="4",
        DATABASE_POOL_TIMEOUT="2",
        AGENT_RUNNER="thread",
        AGENT_RUNNER_WORKERS="3",
        AGENT_MAX_PARALLEL_EXECUTORS="3",
        LLM_PROVIDER="openai",
        OPENAI_BASE_URL=stub_model.base_url,
        OPENAI_API_KEY="test",
    )
    web = Web(env, tmp_path, use_make=True).start()
    try:
        web.wait_healthy(timeout=60)
        token = re.search(r"API token: (\w+)", web.log())[1]
        client = LiveClient(web.url, headers={"Authorization": f"Token {token}"})
        done: dict[int, dict] = {}

        def send(n: int) -> None:
            with client.send(f"find A, B and C, take {n}") as stream:
                assert stream.status_code == 200, stream.json()
                events = stream.events()
            done[n] = {"done": events[-1], "types": [event["type"] for event in events]}

        threads = [threading.Thread(target=send, args=(n,)) for n in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert len(done) == 3, f"streams that ended: {sorted(done)}\n{web.log()}"
        for result in done.values():
            assert result["done"]["status"] == "completed", (result, web.log())
            assert result["types"].count("executor_result") == 3
        with psycopg.connect(postgres_database.replace("postgres://", "postgresql://")) as db:
            statuses = db.execute("SELECT status, count(*) FROM agents_planstep GROUP BY status").fetchall()
        assert statuses == [("completed", 9)], statuses
        assert "PoolTimeout" not in web.log() and "couldn't get a connection" not in web.log()
    finally:
        web.stop()
