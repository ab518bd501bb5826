"""The async views' threads (``agents/http/threads.py``): a request's own thread can be let go of."""

import asyncio
import threading

from asgiref.sync import ThreadSensitiveContext, sync_to_async

from agents.http.threads import RequestThread, RequestThreads, release_request_thread


def test_a_request_thread_runs_calls_on_one_thread_and_ends_it_when_released():
    thread = RequestThread()
    worker = thread.submit(threading.current_thread).result(5)
    assert thread.submit(threading.current_thread).result(5) is worker
    thread.release()
    worker.join(5)
    assert not worker.is_alive()
    assert thread.submit(lambda: 42).result(5) == 42  # a later call gets a thread again
    thread.shutdown()


def test_the_middleware_runs_thread_sensitive_calls_on_the_request_thread_and_a_view_lets_it_go():
    seen: dict[str, object] = {}

    async def app(scope, receive, send):
        seen["before"] = worker = await sync_to_async(threading.current_thread)()
        await release_request_thread()
        await asyncio.to_thread(worker.join, 5)
        seen["ended"] = not worker.is_alive()
        seen["after"] = await sync_to_async(threading.current_thread)()

    async def serve():
        await RequestThreads(app)({"type": "http"}, None, None)

    asyncio.run(serve())
    assert seen["ended"] and seen["after"] is not seen["before"]


def test_django_s_own_context_inside_the_middleware_changes_nothing():
    async def app(scope, receive, send):
        outer = await sync_to_async(threading.get_ident)()
        async with ThreadSensitiveContext():  # what Django's ASGI handler enters for each request
            assert await sync_to_async(threading.get_ident)() == outer

    asyncio.run(RequestThreads(app)({"type": "http"}, None, None))
