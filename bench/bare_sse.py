"""The floor of the fan-out figure: a bare SSE stream, a raw ASGI app served by uvicorn like the platform.

Starlette is not installed with the platform, so this is the few lines a
Starlette ``StreamingResponse`` of an async generator boils down to: each
``GET /stream`` gets a queue and sends what lands in it as an SSE frame
(``id: n``, ``data: <one line of JSON>``), flushing each one. ``POST
/start?events=N&every=MS&chars=C`` starts the producer: N ``text`` events of
C characters, MS milliseconds apart, each JSON-encoded once with its ``ts``
(wall clock, ISO 8601, as the platform stamps events) and put in every
stream's queue; then ``done``, and every stream ends. Same frame shape and
size as the platform's, same client (``bench/client_streams.py``).

Serve: ``uvicorn bench.bare_sse:app --lifespan on --no-access-log``.
"""

import asyncio
import datetime
import json
import urllib.parse
import uuid

RUN_ID, SESSION_ID, AGENT_ID = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
_queues: set[asyncio.Queue] = set()


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")


def _frame(seq: int, event_type: str, **fields) -> bytes:
    data = {"type": event_type, "run_id": RUN_ID, "session_id": SESSION_ID, "seq": seq, "ts": _now(), **fields}
    return f"id: {seq}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


async def _produce(events: int, every: float, chars: int) -> None:
    piece = ("lorem ipsum " * (chars // 12 + 1))[: chars - 1] + " "
    loop = asyncio.get_running_loop()
    start = loop.time()
    for seq in range(1, events + 1):
        await asyncio.sleep(max(0.0, start + (seq - 1) * every - loop.time()))
        frame = _frame(seq, "text", delta=piece, agent_id=AGENT_ID)
        for queue in list(_queues):
            queue.put_nowait(frame)
    frame = _frame(events + 1, "done", status="completed")
    for queue in list(_queues):
        queue.put_nowait(frame)
        queue.put_nowait(None)


async def _stream(send) -> None:
    queue: asyncio.Queue = asyncio.Queue()
    _queues.add(queue)
    try:
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        await send({"type": "http.response.body", "body": b": open\n\n", "more_body": True})
        while (frame := await queue.get()) is not None:
            await send({"type": "http.response.body", "body": frame, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        _queues.discard(queue)


async def _plain(send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


_tasks: set[asyncio.Task] = set()


async def app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["path"] == "/stream":
        return await _stream(send)
    if scope["path"] == "/start" and scope["method"] == "POST":
        query = dict(urllib.parse.parse_qsl(scope["query_string"].decode()))
        task = asyncio.create_task(
            _produce(int(query["events"]), float(query["every"]) / 1000, int(query.get("chars", 20)))
        )
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)
        return await _plain(send, 202, f"{len(_queues)} streams".encode())
    if scope["path"] == "/healthz":
        return await _plain(send, 200, b"ok")
    return await _plain(send, 404, b"not found")
