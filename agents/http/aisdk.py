"""The Vercel AI SDK's ``useChat`` over our runs: ``POST /api/ai-sdk/chat``, ``GET /api/ai-sdk/chat/<id>/stream``.

The same door as ``POST /api/agent/stream`` (authentication, admission with
its limits and budgets, stream slots) and the same stream machinery; the
frames are translated into UI message stream parts (``aisdk_parts``).

The body is what ``DefaultChatTransport`` sends: ``id`` (the chat: one of the
user's session ids, or any other id, which starts a session bound to it; the
same id continues it), ``messages`` (``UIMessage[]``; the last one is the
user's new message, its text parts joined), ``trigger``
(``submit-message`` or ``regenerate-message``: either starts a run for that
message). Fields the transport's ``body`` adds may carry ``context_type``,
``entity_id`` and ``multitask``. Stopping is our cancel endpoint, with the
run id that ``start``'s ``messageMetadata.runId`` gives.

A write tool's approval ends the stream with ``tool-approval-request``; the
next request (``addToolApprovalResponse``, then ``sendMessage`` or
``sendAutomaticallyWhen``) ends with the assistant message whose tool part
is ``approval-responded``: that decides the approval (our approvals service)
and streams the run on from the interrupt.
"""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from agents.http import streams
from agents.http.aisdk_parts import DONE_FRAME, HEADERS, AiSdkEncoder
from agents.http.authentication import authenticate
from agents.http.protocol_approvals import answer_approvals
from agents.http.serializers import stream_request
from agents.http.threads import in_thread
from agents.runs import selectors
from agents.runtime import admission, worker
from agents_platform.errors import DomainError, InvalidInput, error_response
from sessions import selectors as session_selectors

FORWARDED_FIELDS = ("context_type", "entity_id", "multitask")
TRIGGERS = ("submit-message", "regenerate-message")


def _invalid(field: str, problem: str, code: str | None = None) -> InvalidInput:
    return InvalidInput(
        f"Invalid field '{field}': {problem}", code=code or f"invalid_{field}", fields={field: [problem]}
    )


def chat_id_of(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > session_selectors.CLIENT_ID_MAX_CHARS:
        raise _invalid("id", f"Must be a string of 1 to {session_selectors.CLIENT_ID_MAX_CHARS} characters.")
    return value


def user_text(message: Any) -> str | None:
    """Return the text of a user ``UIMessage`` (its text parts joined), or None when it is not one."""
    if not isinstance(message, dict) or message.get("role") != "user" or not isinstance(message.get("parts"), list):
        return None
    texts = [part.get("text") for part in message["parts"] if isinstance(part, dict) and part.get("type") == "text"]
    if not all(isinstance(text, str) for text in texts):
        return None
    return "".join(texts)


def approval_responses(message: Any) -> list[tuple[str, dict[str, Any]]]:
    """Return (approval id, our decision body) of each tool part of an assistant message the user answered."""
    if (
        not isinstance(message, dict)
        or message.get("role") != "assistant"
        or not isinstance(message.get("parts"), list)
    ):
        return []
    decisions = []
    for part in message["parts"]:
        approval = part.get("approval") if isinstance(part, dict) else None
        if part.get("state") != "approval-responded" or not isinstance(approval, dict):
            continue
        if not isinstance(approval.get("id"), str) or not isinstance(approval.get("approved"), bool):
            continue
        body: dict[str, Any] = {"decision": "approve" if approval["approved"] else "reject"}
        if isinstance(approval.get("reason"), str):
            body["reason"] = approval["reason"]
        decisions.append((approval["id"], body))
    return decisions


def parse_chat(payload: Any) -> tuple[str, str, dict[str, Any]]:
    """Return (chat id, the new message, forwarded fields) of a useChat body; raise InvalidInput."""
    if not isinstance(payload, dict):
        raise InvalidInput("The body must be a JSON object.", code="invalid_body")
    chat_id = chat_id_of(payload.get("id"))
    trigger = payload.get("trigger", "submit-message")
    if trigger not in TRIGGERS:
        raise _invalid("trigger", f"Must be one of {', '.join(TRIGGERS)}.")
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _invalid("messages", "Must be a non-empty list of UI messages.")
    text = user_text(messages[-1])
    if text is None:
        raise _invalid("messages", "The last message must be the user's, with text parts.")
    return chat_id, text, {name: payload[name] for name in FORWARDED_FIELDS if name in payload}


def _accept(*, user: AbstractBaseUser, payload: Any, idempotency_key: str | None) -> tuple[str, int]:
    """Start a run for the new message, or answer the approvals of the last message; return what to stream."""
    messages = payload.get("messages") if isinstance(payload, dict) else None
    decisions = approval_responses(messages[-1]) if isinstance(messages, list) and messages else []
    if decisions:
        chat_id = chat_id_of(payload.get("id"))
        run, after_seq = answer_approvals(user=user, client_id=chat_id, decisions=decisions, field="messages")
        return str(run.pk), after_seq
    chat_id, message, forwarded = parse_chat(payload)
    session_id, new_session_id = session_selectors.session_for_client_id(user=user, client_id=chat_id)
    body = {"message": message, "session_id": str(session_id) if session_id else None, **forwarded}
    run, _ = admission.run_accept(
        user=user, idempotency_key=idempotency_key, new_session_id=new_session_id, **stream_request(body)
    )
    return str(run.pk), 0


def ui_message_stream(*, run_id: str, user_id: int, after_seq: int = 0) -> HttpResponse:
    encode = AiSdkEncoder(run_id=run_id, after_seq=after_seq)
    stream = streams.event_stream(
        run_id=run_id, after_seq=0, finished=False, user_id=user_id, encode=encode, closing=DONE_FRAME
    )
    response = streams.sse_response(stream)
    for name, value in HEADERS.items():
        response[name] = value
    return response


@csrf_exempt  # CSRF is checked in _authenticate, for cookie requests only (as DRF does)
async def chat(request: HttpRequest) -> HttpResponse:
    """Send useChat's new message: start a run and stream it as UI message parts."""
    worker.ensure_maintenance()
    try:
        streams.require_method(request, "POST")
        user = await authenticate(request)
        payload = streams.json_body(request)
        await in_thread(streams.streams_acquire, user_id=user.pk)
        try:
            run_id, after_seq = await in_thread(
                _accept, user=user, payload=payload, idempotency_key=request.headers.get("Idempotency-Key")
            )
        except BaseException:
            streams.streams_release(user_id=user.pk)
            raise
    except DomainError as error:
        return error_response(error)
    return ui_message_stream(run_id=run_id, user_id=user.pk, after_seq=after_seq)


def _active_run(*, user: AbstractBaseUser, chat_id: str) -> str | None:
    session_id, _ = session_selectors.session_for_client_id(user=user, client_id=chat_id)
    if session_id is None:
        return None  # a chat the user has not started: nothing to resume
    session = session_selectors.session_get(user=user, session_id=session_id)
    run = selectors.session_active_run(session=session)
    return str(run.pk) if run is not None else None


@csrf_exempt  # a GET; token clients carry no CSRF token
async def chat_stream(request: HttpRequest, chat_id: str) -> HttpResponse:
    """Replay the chat's active run from its start for ``useChat({resume: true})``; 204 when there is none."""
    worker.ensure_maintenance()
    try:
        streams.require_method(request, "GET")
        user = await authenticate(request)
        chat_id = chat_id_of(chat_id)
        run_id = await in_thread(_active_run, user=user, chat_id=chat_id)
        if run_id is None:
            return HttpResponse(status=204)
        await in_thread(streams.streams_acquire, user_id=user.pk)
    except DomainError as error:
        return error_response(error)
    return ui_message_stream(run_id=run_id, user_id=user.pk)
