"""What the built-in offline model answers: deterministic, decided by the request's structure.

``respond(request)`` reads a Chat Completions request and returns a ``Say``
(text) or a ``Call`` (tool calls); ``agents.llm.offline.transport`` puts it on
the wire. The request's structure decides the kind of answer (the team brief's
"offline model conversation conventions"), then the kind of message
(``agents.llm.offline.classify``):

- ``create_plan`` offered: the planner's routing call. Tool requests
  ("what is 17*23", "what time is it in Tokyo", "remember that ...") become
  tool calls, comparisons and multi-part requests a ``create_plan`` call,
  anything else a short text answer. After tool results it answers from them.
- other tools offered: an executor; the last user message is its step task
  (``agents.engine.prompts.executor_task``).
- no tools: synthesis of the step results in the last user message
  (``agents.engine.prompts.synthesis_request``), or small talk when there are none.
- ``revise_plan`` offered, or a step that asks for live data: replanning
  (``agents.llm.offline.replan``).
"""

from django.conf import settings

from agents.llm.offline import replan
from agents.llm.offline.classify import calc_request, step_kind, subject_of, time_requests, tool_requests
from agents.llm.offline.messages import Call, Say, offered_tools, plan_failures, step_task, tool_round
from agents.llm.offline.phrases import capitalise
from agents.llm.offline.plans import minimal_plan, plan_for
from agents.llm.offline.small_talk import after_rejected_plan, small_talk
from agents.llm.offline.steps import step_paragraph
from agents.llm.offline.synthesis import find_objective, step_results, synthesis_input, synthesise
from agents.llm.offline.tool_results import describe_tool_result
from agents.llm.tokens import message_text


def respond(request: dict) -> Say | Call:
    """Return what the offline model answers to a Chat Completions request."""
    messages = request.get("messages") or []
    offered = offered_tools(request)
    last_user = _last(messages, "user")
    user_text = message_text(last_user) if last_user else ""
    after_tools = bool(messages) and messages[-1].get("role") == "tool"

    if "revise_plan" in offered:
        if replan.is_revision_request(user_text) and not after_tools:
            return replan.revise(user_text)
        return Say("The results so far will do.")
    if offered and "create_plan" not in offered and replan.needs_live_data(user_text):
        searches = sum(1 for message in messages if message.get("role") == "assistant")
        return replan.search_in_vain(user_text, offered, searches)
    if "create_plan" in offered:
        if after_tools:
            return _continue_planner(messages, user_text)
        return _route(user_text, offered, max_steps=getattr(settings, "AGENT_MAX_PLAN_STEPS", 8))
    if offered:
        return _execute(user_text, offered, tool_round(messages) if after_tools else [])
    if user_text.startswith(PLAN_REJECTED_PREFIX):
        return Say(after_rejected_plan(messages))
    if (synthesis := synthesis_input(user_text)) is not None:
        question, results = synthesis
        return Say(synthesise(results, question=question))
    results = step_results(user_text)
    if results:
        return Say(synthesise(results, question=find_objective(messages, user_text)))
    return Say(small_talk(user_text))


# The planner's note when the user rejected its plan (agents.engine.prompts.PLAN_REJECTED).
PLAN_REJECTED_PREFIX = "The user rejected your plan"


def _continue_planner(messages: list[dict], user_text: str) -> Say | Call:
    failures, error = plan_failures(messages)
    round_ = tool_round(messages)
    if failures and any(name == "create_plan" for name, _, _ in round_):
        if failures == 1:
            return Call([("create_plan", minimal_plan(user_text))])
        return Say(
            f"I could not put together a valid plan ({error}), so here is a direct answer. " + small_talk(user_text)
        )
    return Say(_tool_answers(round_) or "Done.")


def _route(user_text: str, offered: list[str], *, max_steps: int) -> Say | Call:
    """Return the routing decision for a user's message: text, tool calls or a plan."""
    for tool, arguments in tool_requests(user_text):
        if tool in offered:
            return Call([(tool, arguments)])
    plan = plan_for(user_text, max_steps=max_steps)
    if plan is not None:
        return Call([("create_plan", plan)])
    for tool, calls in (("get_current_time", time_requests(user_text)), ("calculate", calc_request(user_text))):
        if calls and tool in offered:
            return Call([(tool, arguments) for arguments in calls])
    return Say(small_talk(user_text))


def _execute(task_text: str, offered: list[str], round_: list[tuple[str, dict, str]]) -> Say | Call:
    """Return an executor's answer to its step task, using a tool first when the task needs one."""
    title, instructions = step_task(task_text)
    if not round_ and "calculate" in offered:
        calls = calc_request(f"{title}\n{instructions}", require_intent=False)
        if calls:
            return Call([("calculate", calls[0])])
    found = _tool_answers(round_)
    if found and step_kind(title) == "outline":
        # The tool did the work (say, the arithmetic): report it rather than an outline.
        return Say(f"{capitalise(subject_of(title))}: {found}")
    return Say(" ".join(filter(None, [step_paragraph(title, instructions, task_text), found])))


def _tool_answers(round_: list[tuple[str, dict, str]]) -> str:
    """Return the sentences telling what a round of tool calls gave, one line each when one is a list."""
    answers = [describe_tool_result(name, arguments, result) for name, arguments, result in round_]
    return ("\n" if any("\n" in answer for answer in answers) else " ").join(answers)


def _last(messages: list[dict], role: str) -> dict | None:
    return next((message for message in reversed(messages) if message.get("role") == role), None)
