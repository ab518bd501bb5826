"""AG-UI 1.0 over our runs: ``POST /api/ag-ui`` and ``GET /api/ag-ui/runs/<run_id>``.

The same door as ``POST /api/agent/stream`` (authentication, admission with
its limits and budgets, stream slots, 404s) and the same stream machinery
(``streams.event_stream``: stored frames, the bus, keep-alives); only the
frames are translated (``agui_events``). No second run engine.

``RunAgentInput`` maps onto our request: ``threadId`` is the session (one of
the user's session ids, or any other id, which starts a session bound to it:
the same thread id continues it); the last user message is the message;
``runId`` becomes the run's id when no run has it yet; ``forwardedProps`` may
carry ``context_type``, ``entity_id`` and ``multitask`` (as in our body).

``resume[]`` answers the interrupts of the thread's waiting run (their ids
are approval ids: ``resume_decision``) instead of sending a message; the
response streams the run on from the interrupt: a new ``RUN_STARTED`` of the
same run, the decision, the tool's call and result, and the rest.
"""

import uuid
from typing import Any

import pydantic
from ag_ui.core import ResumeEntry, RunAgentInput, TextPart, UserMessage
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from agents.http import streams
from agents.http.agui_stream import AgUiEncoder, parse_cursor
from agents.http.authentication import authenticate
from agents.http.protocol_approvals import answer_approvals
from agents.http.serializers import stream_request
from agents.http.threads import in_thread
from agents.runs import selectors
from agents.runtime import admission, worker
from agents_platform.errors import DomainError, InvalidInput, error_response
from sessions import selectors as session_selectors

FORWARDED_FIELDS = ("context_type", "entity_id", "multitask")


def _fields_of(error: pydantic.ValidationError) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for problem in error.errors():
        name = ".".join(str(part) for part in problem["loc"]) or "body"
        fields.setdefault(name, []).append(problem["msg"])
    return fields


def parse_input(payload: Any) -> RunAgentInput:
    """Validate a ``RunAgentInput`` body; raise InvalidInput naming the bad fields."""
    if not isinstance(payload, dict):
        raise InvalidInput("The body must be a JSON object (RunAgentInput).", code="invalid_body")
    try:
        return RunAgentInput.model_validate(payload)
    except pydantic.ValidationError as error:
        fields = _fields_of(error)
        first = next(iter(fields))
        raise InvalidInput(
            f"Invalid field '{first}': {fields[first][0]}", code="invalid_input", fields=fields
        ) from None


def last_user_text(run_input: RunAgentInput) -> str | None:
    """Return the text of the last user message (its text parts joined), or None when there is none."""
    for message in reversed(run_input.messages):
        if isinstance(message, UserMessage):
            if isinstance(message.content, str):
                return message.content
            return "".join(part.text for part in message.content if isinstance(part, TextPart))
    return None


def _accept(*, user: AbstractBaseUser, run_input: RunAgentInput, idempotency_key: str | None):
    """Map the input onto our request and admit it (sync: called in a thread)."""
    thread_id = run_input.thread_id
    if not thread_id or len(thread_id) > session_selectors.CLIENT_ID_MAX_CHARS:
        problem = f"Must be 1 to {session_selectors.CLIENT_ID_MAX_CHARS} characters."
        raise InvalidInput(
            f"Invalid field 'threadId': {problem}", code="invalid_thread_id", fields={"threadId": [problem]}
        )
    message = last_user_text(run_input)
    if message is None:
        problem = "The messages must end with the new user message."
        raise InvalidInput(problem, code="invalid_messages", fields={"messages": [problem]})
    session_id, new_session_id = session_selectors.session_for_client_id(user=user, client_id=thread_id)
    forwarded = run_input.forwarded_props if isinstance(run_input.forwarded_props, dict) else {}
    payload = {
        "message": message,
        "session_id": str(session_id) if session_id else None,
        **{name: forwarded[name] for name in FORWARDED_FIELDS if name in forwarded},
    }
    try:
        run_id = uuid.UUID(run_input.run_id)
    except (TypeError, ValueError):
        run_id = None
    run, _ = admission.run_accept(
        user=user,
        idempotency_key=idempotency_key,
        run_id=run_id,
        new_session_id=new_session_id,
        **stream_request(payload),
    )
    return run


def resume_decision(entry: ResumeEntry) -> dict[str, Any]:
    """Return our decision body of an AG-UI resume entry.

    ``status: cancelled`` rejects; ``resolved`` approves unless its payload
    says ``{"decision": "reject"}`` or ``{"approved": false}``; the payload may
    carry edited ``arguments`` and a ``reason``.
    """
    payload = entry.payload if isinstance(entry.payload, dict) else {}
    approve = entry.status == "resolved" and payload.get("decision", "approve") == "approve"
    approve = approve and payload.get("approved", True) is not False
    body: dict[str, Any] = {"decision": "approve" if approve else "reject"}
    if approve and payload.get("arguments") is not None:
        body["arguments"] = payload["arguments"]
    if isinstance(payload.get("reason"), str):
        body["reason"] = payload["reason"]
    return body


def _resume(*, user: AbstractBaseUser, run_input: RunAgentInput) -> tuple[str, int]:
    """Answer the interrupts of the thread's waiting run; return the run id and the seq to stream after."""
    decisions = [(entry.interrupt_id, resume_decision(entry)) for entry in run_input.resume or []]
    run, after_seq = answer_approvals(user=user, client_id=run_input.thread_id, decisions=decisions, field="resume")
    return str(run.pk), after_seq


def agui_response(*, run_id: str, thread_id: str, user_id: int, cursor=(0, 0), finished=False) -> HttpResponse:
    encode = AgUiEncoder(run_id=run_id, thread_id=thread_id, cursor=cursor)
    stream = streams.event_stream(run_id=run_id, after_seq=0, finished=finished, user_id=user_id, encode=encode)
    return streams.sse_response(stream)


@csrf_exempt  # CSRF is checked in _authenticate, for cookie requests only (as DRF does)
async def agui_run(request: HttpRequest) -> HttpResponse:
    """Run the agent for an AG-UI client: RunAgentInput in, AG-UI events out as SSE."""
    worker.ensure_maintenance()
    try:
        streams.require_method(request, "POST")
        user = await authenticate(request)
        run_input = parse_input(streams.json_body(request))
        if run_input.resume:
            run_id, after_seq = await in_thread(_resume, user=user, run_input=run_input)
            await in_thread(streams.streams_acquire, user_id=user.pk)
            return agui_response(run_id=run_id, thread_id=run_input.thread_id, user_id=user.pk, cursor=(after_seq, 0))
        await in_thread(streams.streams_acquire, user_id=user.pk)
        try:
            run = await in_thread(
                _accept, user=user, run_input=run_input, idempotency_key=request.headers.get("Idempotency-Key")
            )
        except BaseException:
            streams.streams_release(user_id=user.pk)
            raise
    except DomainError as error:
        return error_response(error)
    return agui_response(run_id=str(run.pk), thread_id=run_input.thread_id, user_id=user.pk)


def _cursor(request: HttpRequest) -> tuple[tuple[int, int], str]:
    for name, value in (
        ("Last-Event-ID", request.headers.get("Last-Event-ID")),
        ("last_event_id", request.GET.get("last_event_id")),
    ):
        if value is None:
            continue
        cursor = parse_cursor(value)
        if cursor is None:
            problem = "Must be an event id of this stream: <seq> or <seq>.<frame>."
            raise InvalidInput(
                f"{name} {problem[0].lower()}{problem[1:]}", code="invalid_last_event_id", fields={name: [problem]}
            )
        return cursor, name
    return (0, 0), "Last-Event-ID"


def _join(*, user: AbstractBaseUser, run_id: str, cursor: tuple[int, int], source: str) -> tuple[str, str, bool]:
    """Return the user's run id, its session id, and whether the client already has the run's end."""
    run = selectors.run_get(user=user, run_id=run_id)
    seq, frame = cursor
    if seq > run.last_event_seq:
        raise InvalidInput(
            f"{source} {seq} is beyond the run's last event ({run.last_event_seq}).",
            code="invalid_last_event_id",
            fields={source: ["Beyond the run's last event."]},
        )
    finished = frame == 0 and seq > 0 and selectors.run_event_is_done(run_id=run.pk, seq=seq)
    return str(run.pk), str(run.session_id), finished


@csrf_exempt  # a GET; token clients carry no CSRF token
async def agui_rejoin(request: HttpRequest, run_id: str) -> HttpResponse:
    """Re-attach to a run as AG-UI events, after ``Last-Event-ID``; tails it live until it ends or interrupts."""
    worker.ensure_maintenance()
    try:
        streams.require_method(request, "GET")
        user = await authenticate(request)
        cursor, source = _cursor(request)
        run_id, session_id, finished = await in_thread(_join, user=user, run_id=run_id, cursor=cursor, source=source)
        await in_thread(streams.streams_acquire, user_id=user.pk)
    except DomainError as error:
        return error_response(error)
    thread_id = request.GET.get("thread_id") or session_id
    return agui_response(run_id=run_id, thread_id=thread_id[:200], user_id=user.pk, cursor=cursor, finished=finished)
