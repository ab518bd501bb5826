"""Run one tool call of the model: permission, availability, arguments, the call itself, a JSON outcome.

Nothing the model or the tool does makes ``run_call`` raise: every failure
becomes an ``ok: false`` outcome with a code the model can act on.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from agents_platform.errors import DomainError

from .arguments import InvalidArguments, shorten
from .base import READ_WRITE, WRITE, Tool, ToolContext, ToolError, ToolOutcome

# The name the registry's log lines have always had (dispatch was the registry's own method).
logger = logging.getLogger("agents.tools.registry")


def run_call(ctx: ToolContext, spec: Tool | None, name: str, arguments: str) -> ToolOutcome:
    """Run the call of ``name`` (registered as ``spec``, None if it is not) as ``ctx.agent``; never raises."""
    started = time.perf_counter()

    def finish(*, result: Any = None, error: dict[str, str] | None = None) -> ToolOutcome:
        elapsed = int((time.perf_counter() - started) * 1000)
        return ToolOutcome(ok=error is None, result=result, error=error, duration_ms=elapsed)

    if spec is None:
        return finish(error=_error("unknown_tool", f"There is no tool named '{shorten(str(name))}'."))
    # The permission is checked here, not only by what was offered: the model may name any tool.
    if spec.kind == WRITE and getattr(ctx.agent, "permission", None) != READ_WRITE:
        return finish(
            error=_error("tool_not_allowed", f"Tool '{name}' changes data; this agent may only use read tools.")
        )
    reason = spec.unavailable()
    if reason is not None:
        return finish(error=_error(reason.code, reason.message))
    try:
        kwargs = spec.parse_arguments(arguments)
    except InvalidArguments as exc:
        return finish(error=_error("invalid_arguments", str(exc)))

    try:
        if spec.kind == WRITE and spec.transactional:
            # All or nothing: a write tool that fails half-way leaves no trace.
            with transaction.atomic():
                result = spec.function(ctx, **kwargs)
        else:
            result = spec.function(ctx, **kwargs)
    except ToolError as exc:
        return finish(error=_error(exc.code, exc.message))
    except DomainError as exc:
        return finish(error=_error(exc.code, exc.message))
    except Exception:
        logger.exception("Tool %s failed (run %s, agent %s)", name, _pk(ctx, "run"), _pk(ctx, "agent"))
        return finish(error=_error("tool_failed", f"Tool '{name}' failed unexpectedly."))

    try:
        return finish(result=_to_json(result))
    except (TypeError, ValueError):
        logger.exception("Tool %s returned a result that is not JSON", name)
        return finish(error=_error("tool_failed", f"Tool '{name}' returned a result that is not JSON."))


def _to_json(result: Any) -> Any:
    """Return the result as plain JSON values; TypeError/ValueError if it is not JSON."""
    return json.loads(json.dumps(result, cls=DjangoJSONEncoder, allow_nan=False))


def _error(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


def _pk(ctx: ToolContext, attribute: str) -> Any:
    return getattr(getattr(ctx, attribute, None), "pk", None)
