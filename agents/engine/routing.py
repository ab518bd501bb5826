"""Routing: the planner's one call that answers, calls tools or plans, and the tool loop that follows.

Routing is one call (docs/architecture.md#routing): the planner is offered every
tool the user may use and ``create_plan``. A plain answer routes the message
``simple``; calls of other tools route it ``tool`` (the tool loop runs until
the planner answers in text); a ``create_plan`` call routes it ``complex``
and the plan runs (``scheduling``).
"""

from django.conf import settings

from agents import events
from agents.engine import approvals, context
from agents.engine.conversation import Conversation, parse_arguments
from agents.events import catalogue
from agents.exceptions import RunLimitExceeded
from agents.llm.gateway import ToolCall
from agents.llm.tokens import estimate_tokens
from agents.models import Run
from agents.runs import selectors, services
from agents.runs.plans import PlanInvalid, create_plan_tool, parse_plan
from agents.tools import schemas
from sessions.models import Message

HISTORY_MESSAGES = 50
UNFINISHED_CALLS = ("error", "cancelled")


def planner_history(*, run: Run) -> list[dict[str, str]]:
    """Return the session's earlier messages, newest kept first, within AGENT_HISTORY_TOKENS."""
    earlier = selectors.run_history(run=run, limit=HISTORY_MESSAGES)
    kept: list[Message] = []
    used = 0
    for message in reversed(earlier):
        cost = estimate_tokens(message.content)
        if used + cost > settings.AGENT_HISTORY_TOKENS:
            break
        kept.append(message)
        used += cost
    return [{"role": message.role, "content": message.content} for message in reversed(kept)]


class Routing:
    """The planner's route and tool loop (a part of ``RunExecution``)."""

    def plan_or_answer(self) -> None:
        run = self.run
        conversation = self.planner_conversation()
        stored = selectors.agent_conversation(agent=self.planner) if run.attempt > 1 else []
        # A call cut by the lost attempt is stored (and charged) but is no reply to continue from.
        stored = [row for row in stored if row.finish_reason not in UNFINISHED_CALLS]
        if stored:
            conversation.load(stored)
        else:
            session = run.session
            conversation.add(
                "system",
                context.planner_system(user=run.user, context_type=session.context_type, entity_id=session.entity_id),
            )
            for message in planner_history(run=run):
                conversation.add(message["role"], message["content"])
            conversation.add("user", run.user_message.content)
        tools = [*schemas(permission=self.planner.permission), create_plan_tool()]

        last = stored[-1] if stored else None
        if last is not None and last.role == "assistant" and not last.tool_calls:
            # The earlier attempt had the whole answer: send it again, no model call.
            self.on_answer_text(last.content)
            return
        unanswered = conversation.unanswered_calls()
        if unanswered and self.handle_calls(conversation, unanswered):
            return
        calls_made = sum(1 for row in stored if row.role == "assistant")
        for _ in range(max(0, settings.AGENT_MAX_ITERATIONS - calls_made)):
            reply = conversation.call(tools=tools, on_text=self.on_answer_text)
            if not reply.tool_calls:
                if not self.route:
                    self.announce(Run.Route.SIMPLE, "The planner answered directly.")
                return
            if self.handle_calls(conversation, reply.tool_calls):
                return
            self.cancel.check()
        raise RunLimitExceeded(
            f"The planner made {settings.AGENT_MAX_ITERATIONS} model calls without finishing its answer.",
            code="iteration_limit",
        )

    def handle_calls(self, conversation: Conversation, calls: list[ToolCall]) -> bool:
        """Run the planner's tool calls, or its plan; True once a plan ran (the answer is then written)."""
        plan_calls = [call for call in calls if call.name == "create_plan"]
        tool_calls = [call for call in calls if call.name != "create_plan"]
        if tool_calls and not plan_calls:
            names = ", ".join(dict.fromkeys(call.name for call in tool_calls))
            self.announce(Run.Route.TOOL, f"The planner called {names}.")
        approvals.run_tool_calls(conversation, tool_calls)
        return bool(plan_calls) and self.try_plan(conversation, plan_calls)

    def try_plan(self, conversation: Conversation, plan_calls: list[ToolCall]) -> bool:
        """Validate and run the first plan; an invalid one goes back to the planner. True once a plan ran."""
        call, *extra = plan_calls
        for duplicate in extra:
            conversation.add_tool_result(
                call_id=duplicate.id,
                name="create_plan",
                content={
                    "error": {"code": "invalid_plan", "message": "Only one plan per answer; this one was ignored."}
                },
            )
        arguments = parse_arguments(call.arguments)
        objective = arguments.get("objective") if isinstance(arguments, dict) else None
        self.announce(
            Run.Route.COMPLEX,
            f"The request needs a plan: {objective}"
            if isinstance(objective, str) and objective
            else "The request needs a plan.",
        )
        try:
            spec = parse_plan(call.arguments)
        except PlanInvalid as exc:
            message = f"The plan is invalid: {exc}. Fix it and call create_plan again."
            conversation.add_tool_result(
                call_id=call.id,
                name="create_plan",
                content={"error": {"code": "invalid_plan", "message": message, "problems": exc.problems}},
            )
            events.emit(self.run, catalogue.ErrorEvent(code="invalid_plan", message=message, fatal=False))
            return False
        plan = services.plan_create(run=self.run, agent=self.planner, spec=spec)
        conversation.add_tool_result(
            call_id=call.id, name="create_plan", content={"ok": True, "plan_id": str(plan.pk), "steps": len(spec.steps)}
        )
        self.run_plan(plan, spec=spec)
        return True
