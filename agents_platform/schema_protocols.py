"""The OpenAPI description of the other protocols' streams: AG-UI 1.0 and the Vercel AI UI message stream.

Their request bodies and frames are those protocols' own (``ag-ui-protocol``'s
``RunAgentInput`` and events, the ``ai`` package's ``UIMessageChunk``); the
schema names what we take and send, and links to their specifications,
rather than copying them. Errors before a stream are ours (docs/api.md#errors).
"""

from typing import Any

AGUI_DOCS = "https://docs.ag-ui.com/"
AISDK_DOCS = "https://ai-sdk.dev/docs/ai-sdk-ui/stream-protocol"

# <seq> for a stored event's last frame, <seq>.<n> for its earlier ones.
AGUI_EVENT_ID_PATTERN = r"^[0-9]{1,10}(\.[0-9]{1,4})?$"

AGUI_ERRORS: dict[int, tuple[str, ...]] = {
    400: (
        "invalid_json",
        "body_too_large",
        "invalid_body",
        "invalid_input",
        "invalid_thread_id",
        "invalid_messages",
        "invalid_message",
        "invalid_context_type",
        "invalid_entity_id",
        "invalid_multitask",
        "unknown_context_type",
        "invalid_idempotency_key",
        "invalid_resume",
        "invalid_decision",
        "invalid_arguments",
        "invalid_reason",
    ),
    401: ("not_authenticated",),
    403: ("permission_denied",),
    404: ("approval_not_found",),
    409: ("run_active",),
    422: ("idempotency_key_reused",),
    429: ("rate_limited", "token_budget_exceeded", "cost_budget_exceeded", "too_many_streams"),
    503: ("service_unavailable",),
}
AGUI_REJOIN_ERRORS: dict[int, tuple[str, ...]] = {
    400: ("invalid_last_event_id",),
    401: ("not_authenticated",),
    404: ("run_not_found",),
    429: ("too_many_streams",),
    503: ("service_unavailable",),
}
AISDK_ERRORS: dict[int, tuple[str, ...]] = {
    **AGUI_ERRORS,
    400: (
        *(code for code in AGUI_ERRORS[400] if code not in ("invalid_input", "invalid_thread_id", "invalid_resume")),
        "invalid_id",
        "invalid_trigger",
    ),
}
AISDK_RESUME_ERRORS: dict[int, tuple[str, ...]] = {
    400: ("invalid_id",),
    401: ("not_authenticated",),
    429: ("too_many_streams",),
    503: ("service_unavailable",),
}

RUN_AGENT_INPUT = {
    "type": "object",
    "description": f"AG-UI 1.0 `RunAgentInput` ({AGUI_DOCS}). `threadId`: one of your session ids, or any other "
    "id (up to 200 characters), which starts a session bound to it; the same id continues it. `runId`: the "
    "run's id when it is a UUID no run has yet. The last `user` message is the new message (its text parts "
    "joined). `forwardedProps` may carry `context_type`, `entity_id` and `multitask` (as in "
    "`AgentStreamRequest`). `state`, `tools` and `context` are accepted and ignored. `resume[]` answers the "
    "interrupts (approvals) of the thread's waiting run instead: `status: cancelled` rejects, `resolved` approves "
    "unless `payload` says `{decision: reject}` or `{approved: false}`; `payload.arguments` edits the call.",
    "required": ["threadId", "runId", "messages"],
    "properties": {
        "threadId": {"type": "string", "minLength": 1, "maxLength": 200},
        "runId": {"type": "string"},
        "messages": {"type": "array", "items": {"type": "object"}, "description": "AG-UI messages."},
        "resume": {"type": "array", "items": {"type": "object"}, "description": "AG-UI resume entries."},
        "forwardedProps": {"type": "object"},
        "state": {},
        "tools": {"type": "array", "items": {"type": "object"}},
        "context": {"type": "array", "items": {"type": "object"}},
    },
}
USE_CHAT_REQUEST = {
    "type": "object",
    "description": "The body of the AI SDK's `DefaultChatTransport` (`useChat`). `id` is the chat: one of your "
    "session ids, or any other id (up to 200 characters), which starts a session bound to it; the same id "
    "continues it. The last of `messages` is the user's new `UIMessage` (its text parts joined). Fields the "
    "transport's `body` adds may carry `context_type`, `entity_id` and `multitask`. When the last message is "
    "the assistant's with tool parts in state `approval-responded`, those decide the approvals of the chat's "
    "waiting run and the run streams on.",
    "required": ["id", "messages"],
    "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": 200},
        "messages": {"type": "array", "minItems": 1, "items": {"type": "object"}, "description": "UIMessage[]"},
        "trigger": {"type": "string", "enum": ["submit-message", "regenerate-message"]},
        "messageId": {"type": "string"},
    },
}


def _sse(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "description": description,
        "headers": headers or {},
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }


def protocol_paths(security: list[dict[str, list]], error_response) -> dict[str, dict[str, Any]]:
    """Return the path items of the AG-UI and AI SDK endpoints (``error_response(status, codes)`` builds errors)."""

    def errors(table: dict[int, tuple[str, ...]]) -> dict[str, Any]:
        return {str(status): error_response(status, codes) for status, codes in table.items()}

    last_event_id = {"type": "string", "pattern": AGUI_EVENT_ID_PATTERN}
    agui_frames = (
        "AG-UI 1.0 events as SSE frames `id: <id>\\ndata: <event JSON>\\n\\n` (`: keep-alive` comments between). "
        "`<id>` is our seq, `<seq>.<n>` on the earlier frames of a stored event that became several. The stream "
        "starts with `RUN_STARTED` and ends with `RUN_FINISHED` (outcome `success`, `cancelled`, or `interrupt` "
        "when the run waits for an approval: `resume[]` answers it) or `RUN_ERROR`. Mapping: README, "
        "'AG-UI and the AI SDK'."
    )
    return {
        "/api/ag-ui": {
            "post": {
                "operationId": "ag_ui_run",
                "summary": "Run the agent for an AG-UI client",
                "description": "AG-UI 1.0 over our runs, with the same authentication, limits and budgets as "
                "`POST /api/agent/stream`. Optional header `Idempotency-Key` as there.",
                "tags": ["protocols"],
                "security": security,
                "requestBody": {"required": True, "content": {"application/json": {"schema": RUN_AGENT_INPUT}}},
                "responses": {"200": _sse(agui_frames), **errors(AGUI_ERRORS)},
            }
        },
        "/api/ag-ui/runs/{run_id}": {
            "get": {
                "operationId": "ag_ui_runs_retrieve",
                "summary": "Re-attach to a run as AG-UI events",
                "description": "Replays after `Last-Event-ID` (from the start when absent): first `RUN_STARTED` "
                "and what was open at that point (steps, sub-agents, messages) reopened, then the rest, live "
                "until the run ends or interrupts. `?thread_id=` sets the `threadId` the events carry (default: "
                "the session's id).",
                "tags": ["protocols"],
                "security": security,
                "parameters": [
                    {"name": "run_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}},
                    {"name": "Last-Event-ID", "in": "header", "required": False, "schema": last_event_id},
                    {"name": "last_event_id", "in": "query", "required": False, "schema": last_event_id},
                    {"name": "thread_id", "in": "query", "required": False, "schema": {"type": "string"}},
                ],
                "responses": {"200": _sse(agui_frames), **errors(AGUI_REJOIN_ERRORS)},
            }
        },
        "/api/ai-sdk/chat": {
            "post": {
                "operationId": "ai_sdk_chat",
                "summary": "Send useChat's message: a run as a Vercel AI UI message stream",
                "description": f"The UI message stream protocol v1 ({AISDK_DOCS}): frames `data: <UIMessageChunk "
                "JSON>\\n\\n`, ending with `data: [DONE]`. `start`'s `messageMetadata.runId` is the run (stop it "
                "with `POST /api/agent/runs/{run_id}/cancel`). Same authentication, limits and budgets as "
                "`POST /api/agent/stream`.",
                "tags": ["protocols"],
                "security": security,
                "requestBody": {"required": True, "content": {"application/json": {"schema": USE_CHAT_REQUEST}}},
                "responses": {
                    "200": _sse(
                        "UI message stream parts, then `data: [DONE]`.",
                        {"x-vercel-ai-ui-message-stream": {"schema": {"type": "string", "enum": ["v1"]}}},
                    ),
                    **errors(AISDK_ERRORS),
                },
            }
        },
        "/api/ai-sdk/chat/{chat_id}/stream": {
            "get": {
                "operationId": "ai_sdk_chat_stream_retrieve",
                "summary": "Resume a chat's active run (useChat resume)",
                "description": "The chat's active run replayed from its start as a UI message stream; `204` when "
                "it has none (also for a chat id you have not used).",
                "tags": ["protocols"],
                "security": security,
                "parameters": [
                    {
                        "name": "chat_id",
                        "in": "path",
                        "required": True,
                        "description": "The chat's id: a session id of yours, or a chat id bound to one.",
                        "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                    }
                ],
                "responses": {
                    "200": _sse("UI message stream parts, then `data: [DONE]`."),
                    "204": {"description": "The chat has no active run."},
                    **errors(AISDK_RESUME_ERRORS),
                },
            }
        },
    }
