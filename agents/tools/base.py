"""What a tool is: its context, its outcome, its expected errors, and the ``Tool`` the registry holds."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from .arguments import load_json_object, validate_arguments

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from agents.models import Agent, Run
    from sessions.models import ChatSession

READ = "read"
WRITE = "write"
# Agent.Permission values; kept as strings so this package never imports models.
READ_WRITE = "read_write"
READ_ONLY = "read_only"


@dataclass
class ToolContext:
    """Who is calling a tool: the run's user, the run, its session and the calling agent."""

    user: AbstractBaseUser
    run: Run
    session: ChatSession
    agent: Agent

    @classmethod
    def for_agent(cls, agent: Agent) -> ToolContext:
        """Return the context of an agent's tool calls: its run's user and session."""
        run = agent.run
        return cls(user=run.user, run=run, session=run.session, agent=agent)


@dataclass
class ToolOutcome:
    """What one tool call produced: a JSON result, or an error ``{"code", "message"}``."""

    ok: bool
    result: Any = None
    error: dict | None = None
    duration_ms: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Return the outcome as the model and the ``tool_result`` event see it (without timing)."""
        if self.ok:
            return {"ok": True, "result": self.result}
        return {"ok": False, "error": self.error}


class ToolError(Exception):
    """An expected failure of a tool, shown to the model as ``{"code", "message"}``."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Tool:
    """A registered tool: its function, kind, description, and the pydantic model of its arguments."""

    name: str
    kind: str
    function: Callable[..., Any]
    description: str
    # Built from the function's signature (``function_schema.build_tool``); checks the model's arguments.
    arguments: type[BaseModel] | None = None
    # The JSON schema of ``arguments``, written once when the tool is built.
    parameters: dict[str, Any] = field(default_factory=dict)
    # Parameters typed ``T | None`` without a default: the function gets None when the model leaves them out.
    always_passed: frozenset[str] = frozenset()
    # False for a tool that acts outside this database (an MCP server): no transaction is held while it waits.
    transactional: bool = True

    def unavailable(self) -> ToolError | None:
        """Return why the tool cannot be called now (it is then neither offered nor run), or None."""
        return None

    @property
    def schema(self) -> dict[str, Any]:
        """Return the tool in the OpenAI ``tools`` format (a fresh copy each time)."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": copy.deepcopy(self.parameters),
            },
        }

    def parse_arguments(self, arguments: str) -> dict[str, Any]:
        """Return the keyword arguments of a call from the model's raw JSON text; InvalidArguments if they are bad."""
        values = load_json_object(arguments)
        return validate_arguments(self.arguments, values, always_passed=self.always_passed)
