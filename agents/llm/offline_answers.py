"""What the built-in offline model answers: deterministic, decided by the request's structure.

``respond(request)`` reads a Chat Completions request and returns a ``Say``
(text) or a ``Call`` (tool calls); ``agents.llm.offline`` puts it on the wire.
The request's structure decides the kind of answer (the team brief's
"offline model conversation conventions"), then plain patterns in the text:

- ``create_plan`` offered: the planner's routing call. Tool requests
  ("what is 17*23", "what time is it in Tokyo", "remember that ...") become
  tool calls, comparisons and multi-part requests a ``create_plan`` call,
  anything else a short text answer. After tool results it answers from them.
- other tools offered: an executor; the last user message is its step task
  (``agents.engine.prompts.executor_task``).
- no tools: synthesis of the step results in the last user message
  (``agents.engine.prompts.synthesis_request``), or small talk when there are none.
"""

import hashlib
import json
import re
from dataclasses import dataclass

from django.conf import settings

CITY_TIMEZONES = {
    "tokyo": "Asia/Tokyo",
    "osaka": "Asia/Tokyo",
    "seoul": "Asia/Seoul",
    "beijing": "Asia/Shanghai",
    "shanghai": "Asia/Shanghai",
    "hong kong": "Asia/Hong_Kong",
    "singapore": "Asia/Singapore",
    "mumbai": "Asia/Kolkata",
    "delhi": "Asia/Kolkata",
    "bangalore": "Asia/Kolkata",
    "dubai": "Asia/Dubai",
    "moscow": "Europe/Moscow",
    "istanbul": "Europe/Istanbul",
    "berlin": "Europe/Berlin",
    "paris": "Europe/Paris",
    "madrid": "Europe/Madrid",
    "rome": "Europe/Rome",
    "amsterdam": "Europe/Amsterdam",
    "london": "Europe/London",
    "dublin": "Europe/Dublin",
    "cairo": "Africa/Cairo",
    "johannesburg": "Africa/Johannesburg",
    "new york": "America/New_York",
    "nyc": "America/New_York",
    "toronto": "America/Toronto",
    "chicago": "America/Chicago",
    "denver": "America/Denver",
    "los angeles": "America/Los_Angeles",
    "san francisco": "America/Los_Angeles",
    "seattle": "America/Los_Angeles",
    "mexico city": "America/Mexico_City",
    "sao paulo": "America/Sao_Paulo",
    "são paulo": "America/Sao_Paulo",
    "buenos aires": "America/Argentina/Buenos_Aires",
    "sydney": "Australia/Sydney",
    "melbourne": "Australia/Melbourne",
    "auckland": "Pacific/Auckland",
    "utc": "UTC",
}
QUOTES = "\"'`\u201c\u201d\u2018\u2019"
DEFAULT_ASPECTS = ["quality", "ease of use", "cost", "long-term fit"]
RATINGS = {2: "fair", 3: "good", 4: "strong", 5: "excellent"}
STEP_IDS = ["x", "y", "z", "w", "v", "u", "t"]
# Words an outline does not list as points to cover.
STOPWORDS = frozenset(
    re.findall(
        r"\w+",
        "about also and are been before being between both but can could does each from have here into just like make "
        "more most much need only other over same should some such than that their them then there these they this "
        "those through under very want what when where which while will with would your please tell give explain "
        "answer step task instructions summarise summarize list name describe outline explain define identify note "
        "write find show three four five main several",
    )
)

RECALL_RE = re.compile(
    r"\bwhat (?:do|did) you (?:remember|recall|know about me)\b(?:\s+about\s+(?P<topic>[^?.!]+))?"
    r"|\brecall\b(?:\s+(?:anything\s+|what\s+)?(?:about|on)\s+(?P<topic2>[^?.!]+))?"
    r"|\bmy (?:saved )?memories\b|\bwhat have you (?:remembered|saved)\b",
    re.I,
)
REMEMBER_RE = re.compile(
    r"(?:^|[.!?]\s+|\b(?:please|can you|could you|would you)\s+)remember\s+(?:that\s+)?(?P<content>.+)", re.I | re.S
)
RENAME_RE = re.compile(
    r"\b(?:rename|retitle|call|name)\s+(?:this|the|our|my)\s+(?:chat|conversation|session|thread)\s+(?:to\s+|as\s+)?"
    r"(?P<title>.+)",
    re.I | re.S,
)
SEARCH_RE = re.compile(
    r"\bsearch\s+(?:through\s+)?(?:in\s+)?(?:my|our|the)?\s*(?:chat\s+|message\s+|conversation\s+)?history\s+"
    r"(?:for|about)\s+(?P<query>.+)|\b(?:did|have) i (?:ever )?(?:mention|say|talk about|ask about)\s+(?P<query2>.+)",
    re.I | re.S,
)
TIME_RE = re.compile(
    r"\bwhat(?:'s| is)? the (?:current |local )?time\b|\bwhat time\b|\bcurrent time\b|\blocal time\b"
    r"|\btime (?:is it |right now |now )?in\b|\btime (?:is it )?now\b",
    re.I,
)
IANA_RE = re.compile(r"\b[A-Z][a-z]+/[A-Z][A-Za-z_]+(?:/[A-Z][A-Za-z_]+)?\b")
CALC_INTENT_RE = re.compile(
    r"\b(?:what(?:'s| is)|calculate|compute|evaluate|how much is|work out|solve)\b|=\s*\??\s*$", re.I
)
EXPRESSION_RE = re.compile(r"[-(]*\d[\d\s.+\-*/()%^]*[\d)]")
OPERATOR_RE = re.compile(r"[\d)]\s*[-+*/%^]\s*[-(]*\d")
THOUSANDS_RE = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
PERCENT_OF_RE = re.compile(r"(?P<share>\d+(?:\.\d+)?)\s*(?:%|percent)\s+of\s+(?=[\d(])", re.I)
WORD_OPERATORS = (("multiplied by|times|x|\u00d7", "*"), ("divided by|over|\u00f7", "/"), ("plus", "+"), ("minus", "-"))
COMPARE_RE = re.compile(
    r"\b(?:compare|comparing|comparison (?:of|between)|differences? between|pros and cons of"
    r"|which is better[,:]?|should i (?:choose|pick|use)[,:]?)\s+(?P<body>.+)",
    re.I | re.S,
)
VERSUS_RE = re.compile(r"\s(?:vs\.?|versus)\s", re.I)
ASK_TAIL_RE = re.compile(
    r"[,;]?\s+(?:and\s+)?(?:then\s+)?"
    r"(?:recommend|tell me|suggest|pick|decide|explain which|say which|which (?:one )?(?:is|should))\b",
    re.I,
)
LEAD_IN_RE = re.compile(
    r"^(?:what(?:'s| is) better[,:]?|should i (?:use|choose|pick|learn)|is it better to (?:use|choose)"
    r"|help me (?:choose|decide) between)\s+",
    re.I,
)
TITLE_RE = re.compile(
    r"^\s*(?:#+\s*)?\**(?:your |the |current )?(?:step|title|task)\b[^:\n]*:\**\s*(?P<title>\S.*?)\s*$", re.I | re.M
)
INSTRUCTIONS_RE = re.compile(
    r"^\s*\**instructions?\**\s*:\s*(?P<text>.+?)(?=\n\s*\n|\n\s*\**[A-Z][\w ]{0,40}:|\Z)", re.I | re.M | re.S
)
ASPECTS_RE = re.compile(r"\b(?:on|considering|in terms of|regarding)\s+(?P<aspects>[^.:;]+)", re.I)
SCORE_RE = re.compile(r"Overall score for (?P<name>.+?): (?P<score>\d+)/(?P<out_of>\d+)")
RESULT_HEADING_RE = re.compile(
    r"^\s*(?:#{1,6}\s+(?P<heading>.+?)"
    r"|\**step\b(?P<step>[^:\n]*):\**(?P<step_rest>.*?)"
    r"|[-*]\s+\*\*(?P<bold>.+?)\*\*:?(?P<bold_rest>.*?)"
    r"|[-*]\s+(?P<id>[\w-]+)\s*\((?P<id_title>[^)\n]+)\)[^:\n]*:(?P<id_rest>.*?)"
    r"|[-*]\s+(?P<plain>[^\[\n:]+?)\s*\[\w+\]:(?P<plain_rest>.*?))\s*$",
    re.I | re.M,
)
OBJECTIVE_RE = re.compile(
    r"^\s*\**(?:objective|goal|original request|user request|request|question|the user asked)\**\s*:"
    r"\s*(?P<text>\S.*?)\s*$",
    re.I | re.M,
)
SYNTHESIS_RE = re.compile(  # agents.engine.prompts.synthesis_request
    r"User request: (?P<question>.*?)\nPlan objective: (?P<objective>.*?)\nStep results:(?:\n(?P<steps>.*))?\Z", re.S
)
STEP_LINE_RE = re.compile(
    r"- (?P<title>.+?) \[(?P<status>completed|failed|skipped|cancelled|pending|running)\]: (?P<result>.*)"
)
FINDINGS_RE = re.compile(  # the offline executor's research paragraph
    r"Overall score for .+?: (?P<score>\d+/\d+)\. "
    r"Its strongest point is (?P<best>.+?) and its weakest is (?P<worst>[^.]+)\."
)
DISCLAIMER_RE = re.compile(r"\s*\([^()]*\b(?:illustrative|offline model)\b[^()]*\)", re.I)
RECOMMENDATION_RE = re.compile(r"\b(?:Recommendation|Verdict)\b[^:\n]*:[^\n]+")
NOT_DONE_RE = re.compile(r"\b(?:failed|skipped|cancelled|did not complete)\b", re.I)


@dataclass
class Say:
    """Answer in text."""

    text: str


@dataclass
class Call:
    """Call tools: ``[(name, arguments), ...]``, after saying ``text`` (an executor's words are its thinking)."""

    calls: list[tuple[str, dict]]
    text: str = ""


# --- Deciding what to say ----------------------------------------------------------


def respond(request: dict) -> Say | Call:
    """Return what the offline model answers to a Chat Completions request."""
    messages = request.get("messages") or []
    offered = offered_tools(request)
    last_user = _last(messages, "user")
    user_text = message_text(last_user) if last_user else ""
    after_tools = bool(messages) and messages[-1].get("role") == "tool"

    from agents.llm import offline_replan  # it builds on this module

    if "revise_plan" in offered:
        if offline_replan.is_revision_request(user_text) and not after_tools:
            return offline_replan.revise(user_text)
        return Say("The results so far will do.")
    if offered and "create_plan" not in offered and offline_replan.needs_live_data(user_text):
        searches = sum(1 for message in messages if message.get("role") == "assistant")
        return offline_replan.search_in_vain(user_text, offered, searches)
    if "create_plan" in offered:
        if after_tools:
            return _continue_planner(messages, user_text)
        return _route(user_text, offered, max_steps=getattr(settings, "AGENT_MAX_PLAN_STEPS", 8))
    if offered:
        return _execute(user_text, offered, _tool_round(messages) if after_tools else [])
    if user_text.startswith(PLAN_REJECTED_PREFIX):
        return Say(_after_rejected_plan(messages))
    if (synthesis := synthesis_input(user_text)) is not None:
        question, results = synthesis
        return Say(synthesise(results, question=question))
    results = step_results(user_text)
    if results:
        return Say(synthesise(results, question=find_objective(messages, user_text)))
    return Say(small_talk(user_text))


# The planner's note when the user rejected its plan (agents.engine.prompts.PLAN_REJECTED).
PLAN_REJECTED_PREFIX = "The user rejected your plan"


def _after_rejected_plan(messages: list[dict]) -> str:
    """Answer the question whose plan the user rejected, briefly and without research."""
    users = [message_text(message) for message in messages if message.get("role") == "user"]
    question = users[-2] if len(users) > 1 else ""
    topic = _short(_clean(question), 120) if question else "your question"
    return (
        f"Understood, I won't run that plan. Without researching it step by step, I can only say this about "
        f"“{topic}”: ask me a narrower question, or send it again and approve a plan, and I'll go into detail."
    )


def _continue_planner(messages: list[dict], user_text: str) -> Say | Call:
    failures, error = _plan_failures(messages)
    round_ = _tool_round(messages)
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
    if found and _step_kind(title) == "outline":
        # The tool did the work (say, the arithmetic): report it rather than an outline.
        return Say(f"{_capital(_subject(title))}: {found}")
    return Say(" ".join(filter(None, [step_paragraph(title, instructions, task_text), found])))


def _tool_answers(round_: list[tuple[str, dict, str]]) -> str:
    """Return the sentences telling what a round of tool calls gave, one line each when one is a list."""
    answers = [describe_tool_result(name, arguments, result) for name, arguments, result in round_]
    return ("\n" if any("\n" in answer for answer in answers) else " ").join(answers)


# --- Reading requests ----------------------------------------------------------------


def message_text(message: dict) -> str:
    """Return everything a message says as text: content (string or text parts) and tool calls."""
    content = message.get("content")
    if isinstance(content, list):
        content = " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    pieces = [content or ""]
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        pieces += [function.get("name") or "", function.get("arguments") or ""]
    return " ".join(piece for piece in pieces if piece)


def offered_tools(request: dict) -> list[str]:
    """Return the names of the tools a request offers."""
    return [(tool.get("function") or {}).get("name", "") for tool in request.get("tools") or ()]


def _last(messages: list[dict], role: str) -> dict | None:
    return next((message for message in reversed(messages) if message.get("role") == role), None)


def _tool_round(messages: list[dict]) -> list[tuple[str, dict, str]]:
    """Return the last round of tool results as ``(tool name, arguments, result text)``."""
    for position in range(len(messages) - 1, -1, -1):
        message = messages[position]
        if message.get("role") == "assistant" and message.get("tool_calls"):
            calls = {call.get("id"): call.get("function") or {} for call in message["tool_calls"]}
            round_ = []
            for result in messages[position + 1 :]:
                if result.get("role") != "tool":
                    continue
                function = calls.get(result.get("tool_call_id"), {})
                try:
                    arguments = json.loads(function.get("arguments") or "{}")
                except ValueError:
                    arguments = {}
                arguments = arguments if isinstance(arguments, dict) else {}
                round_.append((function.get("name", "tool"), arguments, message_text(result)))
            return round_
    return []


def _plan_failures(messages: list[dict]) -> tuple[int, str]:
    """Return how many create_plan calls since the user's message came back as errors, and the last error."""
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    names: dict[str, str] = {}
    failures, last_error = 0, ""
    for message in messages[last_user + 1 :]:
        for call in message.get("tool_calls") or ():
            names[call.get("id")] = (call.get("function") or {}).get("name", "")
        if message.get("role") == "tool" and names.get(message.get("tool_call_id")) == "create_plan":
            error = tool_error(message_text(message))
            if error is not None:
                failures, last_error = failures + 1, error
    return failures, last_error


def _clean(value: str) -> str:
    """Strip quotes, spaces and closing punctuation from a phrase taken out of a message."""
    return value.strip().strip(QUOTES).strip().rstrip(".!?").strip().strip(QUOTES).strip()


def _short(value: str, limit: int) -> str:
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def _join(items: list[str], word: str = "and") -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {word} {items[-1]}"


def _split_list(value: str) -> list[str]:
    items = re.split(r"\s*,\s*(?:and\s+|or\s+)?|\s+(?:and|or|with|to|against|vs\.?|versus)\s+", value, flags=re.I)
    seen, result = set(), []
    for item in (_clean(item) for item in items):
        if item and len(item) <= 60 and item.lower() not in seen:
            seen.add(item.lower())
            result.append(item)
    return result


# --- Tool calls and their results ------------------------------------------------------


def tool_requests(user_text: str) -> list[tuple[str, dict]]:
    """Return the memory, rename and history tool calls a message asks for, most specific first."""
    requests = []
    if match := RECALL_RE.search(user_text):
        topic = match.group("topic") or match.group("topic2")
        requests.append(("recall", {"query": _clean(topic)} if topic and _clean(topic) else {}))
    if match := REMEMBER_RE.search(user_text):
        requests.append(("remember", {"content": _clean(match.group("content"))}))
    if match := RENAME_RE.search(user_text):
        requests.append(("rename_session", {"title": _short(_clean(match.group("title")), 200)}))
    if match := SEARCH_RE.search(user_text):
        requests.append(("search_history", {"query": _clean(match.group("query") or match.group("query2"))}))
    return [(tool, arguments) for tool, arguments in requests if all(arguments.values())]


def time_requests(user_text: str) -> list[dict]:
    """Return get_current_time arguments for each place a time question names (one call without a place)."""
    if not TIME_RE.search(user_text):
        return []
    found: list[tuple[int, str]] = [(match.start(), match.group(0)) for match in IANA_RE.finditer(user_text)]
    lowered = user_text.lower()
    taken: list[range] = []
    for city in sorted(CITY_TIMEZONES, key=len, reverse=True):
        for match in re.finditer(rf"\b{re.escape(city)}\b", lowered):
            if not any(match.start() in span for span in taken):
                taken.append(range(match.start(), match.end()))
                found.append((match.start(), CITY_TIMEZONES[city]))
    zones = list(dict.fromkeys(zone for _, zone in sorted(found)))
    return [{"timezone": zone} for zone in zones] or [{}]


def calc_request(value: str, *, require_intent: bool = True) -> list[dict]:
    """Return the calculate arguments for the arithmetic in a text, if it has any."""
    value = THOUSANDS_RE.sub("", value)  # "2,340" is one number
    value = PERCENT_OF_RE.sub(r"\g<share>/100*", value)  # "17% of 2340" is 17/100*2340, not a remainder
    for words, operator in WORD_OPERATORS:
        value = re.sub(rf"(?<=[\d)])\s*(?:{words})\s*(?=[\d(])", operator, value, flags=re.I)
    candidates = [match.strip() for match in EXPRESSION_RE.findall(value) if OPERATOR_RE.search(match)]
    candidates = [c for c in candidates if c.count("(") == c.count(")")]
    if not require_intent:  # without an explicit ask, "2024-2025" or "2024-01-05" is a range or a date
        candidates = [c for c in candidates if not re.fullmatch(r"\d+(?:-\d+)+", c)]
    if not candidates:
        return []
    expression = max(candidates, key=len)
    mostly_math = len(expression.replace(" ", "")) >= 0.6 * len(re.sub(r"\W", "", value) or "x")
    if require_intent and not (CALC_INTENT_RE.search(value) or mostly_math):
        return []
    return [{"expression": expression}]


def tool_error(result_text: str) -> str | None:
    """Return the error message of a tool result, or None when the tool succeeded."""
    try:
        data = json.loads(result_text)
    except ValueError:
        return result_text.split(":", 1)[-1].strip() or result_text if result_text.lower().startswith("error") else None
    if isinstance(data, dict) and (data.get("ok") is False or data.get("error")):
        error = data.get("error")
        if isinstance(error, dict):
            return str(error.get("message") or error.get("code") or "unknown error")
        return str(error or "unknown error")
    return None


_WRITE_VERBS = {"remember": "save that", "forget": "forget that memory", "rename_session": "rename this chat"}


def _error_code(result_text: str) -> str | None:
    try:
        data = json.loads(result_text)
    except ValueError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    return error.get("code") if isinstance(error, dict) else None


def _tool_value(result_text: str):
    try:
        data = json.loads(result_text)
    except ValueError:
        return result_text
    return data["result"] if isinstance(data, dict) and "result" in data else data


def _describe(value) -> str:
    if isinstance(value, dict):
        return _short(", ".join(f"{key}: {_describe(item)}" for key, item in value.items()), 200)
    if isinstance(value, list):
        return _short("; ".join(_describe(item) for item in value[:5]), 200)
    return str(value)


def _pick(value, *keys: str) -> str:
    if isinstance(value, dict):
        for key in keys:
            if value.get(key) not in (None, ""):
                return _describe(value[key])
    return _describe(value)


def _items(value) -> list:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return next((item for item in value.values() if isinstance(item, list)), [])
    return []


def describe_tool_result(name: str, arguments: dict, result_text: str) -> str:
    """Return a sentence telling the user what a tool call gave."""
    error = tool_error(result_text)
    if error is not None and _error_code(result_text) == "rejected":
        return f"All right, I did not {_WRITE_VERBS.get(name, 'run ' + name.replace('_', ' '))}: {error.rstrip('.')}."
    if error is not None:
        return f"I couldn't complete {name.replace('_', ' ')}: {error}."
    value = _tool_value(result_text)
    if name == "calculate":
        return f"{arguments.get('expression', 'The result')} = {_pick(value, 'result', 'value', 'answer')}."
    if name == "get_current_time":
        zone = arguments.get("timezone") or (value.get("timezone") if isinstance(value, dict) else None) or "UTC"
        when = _pick(value, "time", "iso", "datetime")
        if isinstance(value, dict) and value.get("time") and value.get("date"):
            when = f"{value['time']} on {value.get('weekday', '')} {value['date']}".replace("  ", " ")
        return f"The current time in {zone} is {when}."
    if name == "remember":
        # The result's content: what was saved, also when the user edited the call before approving it.
        saved = value.get("content") if isinstance(value, dict) else None
        return f"Saved to memory: “{saved or arguments.get('content') or _describe(value)}”."
    if name == "forget":
        return "Done — that memory is forgotten."
    if name == "rename_session":
        return f"Done — this chat is now called “{arguments.get('title') or _pick(value, 'title')}”."
    if name == "recall":
        texts = [_short(_pick(item, "content", "text"), 120) for item in _items(value)]
        about = f" about “{arguments['query']}”" if arguments.get("query") else ""
        if len(texts) == 1:
            return f"Here is what I remember{about}: “{texts[0]}”."
        listed = "".join(f"\n- {text}" for text in texts)
        return f"Here is what I remember{about}:{listed}" if texts else f"I don't have any saved memories{about} yet."
    if name == "search_history":
        query = arguments.get("query", "that")
        found = [_found_message(item) for item in _items(value)]
        if not found:
            return f"I found no earlier messages mentioning “{query}”."
        count = f"{len(found)} earlier message{'s' * (len(found) != 1)}"
        return f"I found {count} mentioning “{query}”:" + "".join(f"\n- {line}" for line in found[:5])
    return f"{name} returned {_describe(value)}."


def _found_message(item) -> str:
    """Return one search_history hit as "snippet (who, date)"."""
    text = _short(_pick(item, "snippet", "content", "text"), 100)
    if not isinstance(item, dict):
        return text
    who = {"user": "you", "assistant": "me"}.get(item.get("role"), item.get("role"))
    when = str(item.get("created_at") or "")[:10]
    source = ", ".join(part for part in (who, when) if part)
    return f"{text} ({source})" if source else text


# --- Plans -----------------------------------------------------------------------------


def _comparison(user_text: str) -> tuple[list[str], str, list[str], bool] | None:
    """Return (items, purpose, aspects, pros_and_cons) of a comparison request, or None."""
    request = ASK_TAIL_RE.split(" ".join(user_text.split()), maxsplit=1)[0].strip().rstrip("?.!")
    pros_and_cons = bool(re.search(r"\bpros and cons\b", request, re.I))
    if match := COMPARE_RE.search(request):
        body = match.group("body")
    elif VERSUS_RE.search(request):
        body = LEAD_IN_RE.sub("", request.split(":")[-1].strip())
    else:
        return None
    body, *rest = re.split(
        r"\s+(?:in terms of|regarding|with respect to|when it comes to)\s+", body, maxsplit=1, flags=re.I
    )
    aspects = _split_list(rest[0]) if rest else []
    body, *rest = re.split(r"\s+for\s+", body, maxsplit=1, flags=re.I)
    purpose = f" for {_clean(rest[0])}" if rest else ""
    items = _split_list(body)
    if len(items) >= 2 or (pros_and_cons and items):
        return items, purpose, aspects or DEFAULT_ASPECTS, pros_and_cons and len(items) == 1
    return None


def _parts(user_text: str) -> list[str]:
    listed = re.findall(r"(?m)^\s*(?:\d+[.)]|[-*•])\s+(.+?)\s*$", user_text)
    if len(listed) >= 2:
        return listed
    questions = [q.strip() for q in re.findall(r"[^?]*\?", user_text) if len(q.split()) >= 3]
    if len(questions) >= 2 and len(user_text.split()) >= 12:
        return questions
    sentences = re.split(r"(?<=[.!?])\s+", user_text.strip())
    if len(user_text.split()) >= 60 and len(sentences) >= 2:
        size = -(-len(sentences) // 3)
        return [" ".join(sentences[start : start + size]) for start in range(0, len(sentences), size)]
    return []


def _step(step_id: str, title: str, instructions: str, depends_on: list[str] | None = None) -> dict:
    return {"id": step_id, "title": title, "instructions": instructions, "depends_on": depends_on or []}


def plan_for(user_text: str, *, max_steps: int) -> dict | None:
    """Return create_plan arguments for a comparison or multi-part request, or None for anything else."""
    objective = _short(user_text, 200)
    comparison = _comparison(user_text)
    if comparison is not None:
        items, purpose, aspects, pros_and_cons = comparison
        if pros_and_cons:
            subject, considering = items[0], f"{purpose}, considering {_join(aspects)}."
            steps = [
                _step("pros", f"List the pros of {subject}", f"List the main advantages of {subject}{considering}"),
                _step("cons", f"List the cons of {subject}", f"List the main drawbacks of {subject}{considering}"),
                _step(
                    "verdict",
                    f"Weigh the pros and cons of {subject}",
                    f"Weigh the pros against the cons of {subject}{purpose} and give a verdict.",
                    ["pros", "cons"],
                ),
            ]
            return {"objective": objective, "steps": steps[:max_steps]}
        items = items[: max(max_steps - 1, 1)]
        steps = [
            _step(
                step_id,
                f"Research {item}",
                f"Assess {item}{purpose} on {_join(aspects)}. Note strengths and weaknesses.",
            )
            for step_id, item in zip(STEP_IDS, items, strict=False)
        ]
        if len(steps) >= 2:
            weigh = f"Weigh the findings on {_join(items)}{purpose} and recommend one, saying why."
            steps.append(_step("recommend", f"Recommend between {_join(items)}", weigh, [s["id"] for s in steps]))
        return {"objective": objective, "steps": steps}
    parts = _parts(user_text)[:max_steps]
    if len(parts) < 2:
        return None
    steps = [_step(f"part{n}", _short(_clean(part), 80) or f"Part {n}", part) for n, part in enumerate(parts, start=1)]
    return {"objective": objective, "steps": steps}


def minimal_plan(user_text: str) -> dict:
    """Return the smallest valid plan: one step that answers the whole request."""
    instructions = user_text or "Answer the request."
    return {
        "objective": _short(user_text, 200) or "Answer the request",
        "steps": [_step("answer", "Answer the request", instructions)],
    }


# --- Executors ---------------------------------------------------------------------------


def step_task(task_text: str) -> tuple[str, str]:
    """Return (title, instructions) of an executor's step task."""
    match = TITLE_RE.search(task_text)
    lines = [line.strip("#* \t") for line in task_text.splitlines() if line.strip("#* \t")]
    title = _clean(match.group("title")) if match else (lines[0] if lines else "the task")
    found = INSTRUCTIONS_RE.search(task_text)
    instructions = " ".join(found.group("text").split()) if found else " ".join(task_text.split())
    return title, instructions


def _score(subject: str, aspect: str) -> int:
    digest = hashlib.sha256(f"{subject.lower()}|{aspect.lower()}".encode()).hexdigest()
    return 2 + int(digest, 16) % 4


def _subject(title: str) -> str:
    """Return what a step title is about: the title without its leading verb ("Research tea" -> "tea")."""
    pattern = (
        r"^(?:research|assess|evaluate|analy[sz]e|investigate|look into|study|review|examine|explore|describe"
        r"|list|weigh|summari[sz]e|name|outline|explain|define|identify)\s+(?:the\s+)?"
        r"(?:(?:pros|cons|advantages|drawbacks)(?: and cons)?\s+of\s+)?"
    )
    return _clean(re.sub(pattern, "", title, flags=re.I)) or title


def _capital(value: str) -> str:
    return value[:1].upper() + value[1:]


def _step_kind(title: str) -> str:
    """Return which answer a step title calls for: recommend, pros, cons, research or outline."""
    lowered = title.lower()
    if re.match(r"(?:recommend|weigh|decide|choose|pick|conclude|verdict)\b", lowered):
        return "recommend"
    if re.search(r"\b(?:pros|advantages|benefits)\b", lowered):
        return "pros"
    if re.search(r"\b(?:cons|drawbacks)\b", lowered):
        return "cons"
    if re.match(r"(?:research|assess|evaluate|analy[sz]e|investigate|look into|study|review|examine)\b", lowered):
        return "research"
    return "outline"


def _aspects(instructions: str) -> list[str]:
    match = ASPECTS_RE.search(instructions)
    aspects = [aspect for aspect in _split_list(match.group("aspects")) if len(aspect) <= 40] if match else []
    return aspects[:6] or DEFAULT_ASPECTS


def _recommend(task_text: str) -> str:
    scores = [(m["name"], int(m["score"]), int(m["out_of"])) for m in SCORE_RE.finditer(task_text)]
    if len(scores) >= 2:
        ranked = sorted(scores, key=lambda item: -item[1] / max(item[2], 1))
        (best, score, out_of), others = ranked[0], ranked[1:]
        if others[0][1] * out_of == score * others[0][2]:
            return (
                f"Recommendation: {best} and {others[0][0]} tie at {score}/{out_of}; choose {best} if its "
                f"strongest point matters most to you, otherwise {others[0][0]}."
            )
        behind = _join([f"{name} ({s}/{o})" for name, s, o in others])
        return f"Recommendation: {best}. It scores {score}/{out_of}, ahead of {behind}."
    if len(scores) == 1:
        name, score, out_of = scores[0]
        return f"Recommendation: {name}, the only option with findings ({score}/{out_of}); the rest went unassessed."
    pros = re.search(r"Pros of (?P<subject>.+?): (?P<items>[^\n]+?)\. ", task_text)
    cons = re.search(r"Cons of .+?: (?P<items>[^\n]+?)\. ", task_text)
    if pros and cons:
        pro_count, con_count = pros["items"].count("/5"), cons["items"].count("/5")
        leaning = "the pros outweigh the cons" if pro_count >= con_count else "the cons outweigh the pros"
        counts = f"{pro_count} pro{'s' * (pro_count != 1)}, {con_count} con{'s' * (con_count != 1)}"
        return f"Verdict on {pros['subject']}: {leaning} ({counts})."
    return (
        "Recommendation: weigh the findings above against what matters most to you; "
        "the built-in offline model has nothing more to tip the balance."
    )


def step_paragraph(title: str, instructions: str, task_text: str) -> str:
    """Return an executor's deterministic, step-specific answer."""
    kind = _step_kind(title)
    if kind == "recommend":
        return _recommend(task_text)
    subject = _subject(title)
    scores = [(aspect, _score(subject, aspect)) for aspect in _aspects(instructions)]
    if kind in ("pros", "cons"):
        positive = kind == "pros"
        ranked = sorted(scores, key=lambda pair: -pair[1] if positive else pair[1])
        chosen = [(a, s) for a, s in ranked if (s >= 4) == positive] or ranked[:1]
        words = RATINGS if positive else {2: "weak", 3: "only average", 4: "strong", 5: "excellent"}
        listed = ", ".join(f"{aspect} ({words[score]}, {score}/5)" for aspect, score in chosen)
        head = "Pros" if positive else "Cons"
        closing = f"{subject} shines on {chosen[0][0]}" if positive else f"the main drawback is {chosen[0][0]}"
        return f"{head} of {subject}: {listed}. In short, {closing}. (Illustrative, from the built-in offline model.)"
    if kind == "research":
        total = sum(score for _, score in scores)
        rated = "; ".join(f"{aspect} is {RATINGS[score]} ({score}/5)" for aspect, score in scores)
        best = max(scores, key=lambda pair: pair[1])[0]
        worst = min(scores, key=lambda pair: pair[1])[0]
        return (
            f"{_capital(subject)}: {rated}. Overall score for {subject}: {total}/{5 * len(scores)}. "
            f"Its strongest point is {best} and its weakest is {worst}. (Illustrative scores from the offline model.)"
        )
    return _outline(subject, instructions)


def _outline(subject: str, instructions: str) -> str:
    """Return the outline an executor gives for a step it has no knowledge for: the points the step names."""
    known = {word.lower() for word in re.findall(r"\w+", subject)} | STOPWORDS
    keywords: dict[str, str] = {}
    for word in re.findall(r"[A-Za-z][\w'-]{3,}", instructions):
        if word.lower() not in known:
            keywords.setdefault(word.lower(), word)
    points = list(keywords.values())[:4]
    if not points:
        return f"{_capital(subject)}: an outline only — the built-in offline model has no outside knowledge to add."
    return (
        f"{_capital(subject)}: an outline — cover {_join(points)}, how they connect, and what follows from them. "
        "(The built-in offline model has no outside knowledge.)"
    )


# --- Synthesis and small talk -------------------------------------------------------------


def synthesis_input(message: str) -> tuple[str, list[tuple[str, str, str]]] | None:
    """Return (question, [(title, status, result)]) of a ``synthesis_request`` message, or None for other text."""
    match = SYNTHESIS_RE.match(message)
    if match is None:
        return None
    results: list[tuple[str, str, list[str]]] = []
    for line in (match["steps"] or "").splitlines():
        if step := STEP_LINE_RE.fullmatch(line):
            result = step["result"].strip()
            results.append((step["title"].strip(), step["status"], [] if result == "(no result)" else [result]))
        elif results:  # a result of several lines
            results[-1][2].append(line)
    return match["question"], [(title, status, "\n".join(lines).strip()) for title, status, lines in results]


def step_results(message: str) -> list[tuple[str, str, str]]:
    """Return the step results of a message in another common layout, as (title, status, result)."""
    blocks: list[tuple[str, str, list[str]]] = []  # (title, heading line, body lines)
    for line in message.splitlines():
        match = RESULT_HEADING_RE.match(line)
        if match:
            title = match["heading"] or match["bold"] or match["id_title"] or match["plain"] or ""
            rest = match["step_rest"] or match["bold_rest"] or match["id_rest"] or match["plain_rest"] or ""
            if match["step"] is not None:
                inner = re.search(r"\(([^)]+)\)", match["step"])
                title = inner.group(1) if inner else match["step"].strip(" -—") or rest
                rest = rest if inner or match["step"].strip(" -—") else ""
            blocks.append((_clean(title), line, [rest.strip()]))
        elif blocks:
            blocks[-1][2].append(line.strip())
    results = []
    for title, heading, lines in blocks:
        body = " ".join(line for line in lines if line)
        if title and body and not OBJECTIVE_RE.match(f"{title}: x"):
            not_done = NOT_DONE_RE.search(f"{heading} {body[:80]}")
            status = "completed" if not not_done else not_done[0].lower().replace("did not complete", "failed")
            results.append((title, status, body))
    return results


def find_objective(messages: list[dict], user_text: str) -> str:
    """Return the run's objective as the synthesis call states it, if it does."""
    for candidate in [user_text, *(message_text(m) for m in messages if m.get("role") in ("system", "user"))]:
        if match := OBJECTIVE_RE.search(candidate):
            return _clean(match["text"])
    return ""


def synthesise(results: list[tuple[str, str, str]], *, question: str) -> str:
    """Return the final answer: an intro, one line per step, and a recommendation when the user must choose."""
    bodies = "\n".join(body for _, status, body in results if status == "completed")
    note = " (the scores are illustrative)" if re.search(r"\billustrative\b", bodies, re.I) else ""
    topic = _short(_clean(question), 120)
    lines = [f"Here is what I found for “{topic}”{note}:" if topic else f"Here is what I found{note}:"]
    for title, status, body in results:
        lines.append(f"- {title}: {_gist(title, body) if status == 'completed' else _not_done(status, body)}")
    if not results:
        lines.append("- No step produced a result.")
    wants_choice = COMPARE_RE.search(question) or VERSUS_RE.search(f" {question} ") or "recommend" in question.lower()
    if recommendation := RECOMMENDATION_RE.search(bodies):
        lines.append(recommendation[0].strip())
    elif wants_choice and not bodies.strip():
        lines.append("Recommendation: none — no step produced findings to compare.")
    elif wants_choice or len(SCORE_RE.findall(bodies)) >= 2:
        lines.append(_recommend(bodies))
    return "\n".join(lines)


def _gist(title: str, body: str, limit: int = 160) -> str:
    """Return the short form of a step's result: its first sentence, or the scores and verdict it gives."""
    text = re.sub(r"(?m)^\s*#{1,6}\s.*$", "", body).strip() or body  # headings say what the title says
    text = re.sub(r"(?m)^\s*(?:[-*•]|\d+[.)])\s+", "", text).replace("**", "")
    text = DISCLAIMER_RE.sub("", " ".join(text.split())).strip()
    if match := FINDINGS_RE.search(text):
        return f"{match['score']} overall; strongest on {match['best']}, weakest on {match['worst']}."
    if match := RECOMMENDATION_RE.match(text):
        clause = re.split(r";\s+|\s+—\s+|(?<=[.!?])\s+", match[0].split(":", 1)[1].strip())[0].rstrip(".")
        return f"{clause} comes out ahead." if len(clause.split()) <= 3 else f"{clause}."
    label, colon, rest = text.partition(": ")  # "Tea: ...", "Pros of tea: ..." repeat what the title says
    if colon and (
        label.lower() in (title.lower(), _subject(title).lower()) or re.match(r"(?:pros|cons) of ", label, re.I)
    ):
        text = rest
    first = _short(re.split(r"(?<=[.!?])\s+", text)[0], limit)
    if not first:
        return "no result."
    return first if first.endswith((".", "!", "?", "…")) else f"{first}."


def _not_done(status: str, body: str) -> str:
    """Return the line of a step that did not complete: its status, then why when that adds anything."""
    label = status if status in ("failed", "skipped", "cancelled") else "did not run"
    reason = re.sub(rf"^{status}\s*:\s*", "", " ".join(body.split()), flags=re.I)
    if re.fullmatch(rf"(?:the run|this step|it) was {status}\.?", reason, re.I):
        reason = ""
    reason = _short(reason, 160)
    return f"{label}. {reason if reason.endswith(('.', '!', '?', '…')) else reason + '.'}" if reason else f"{label}."


def small_talk(user_text: str) -> str:
    """Return a short, friendly answer to a plain message."""
    lowered = user_text.lower()
    skills = (
        "I can do arithmetic (“what is 17*23”), tell the time in a city, remember notes for you, search your "
        "chat history, rename this chat, or compare options step by step (“compare Python and Go”)."
    )
    if re.match(r"^\W*(?:hi|hello|hey|hiya|howdy|greetings|good (?:morning|afternoon|evening))\b", lowered):
        return f"Hello! I'm the built-in offline assistant. {skills} What would you like to do?"
    if re.search(r"\b(?:thanks|thank you|thx|cheers)\b", lowered):
        return "You're welcome! Anything else I can help with?"
    if re.search(r"\bhow are you\b", lowered):
        return "I'm doing well, thanks for asking! How can I help you today?"
    if re.search(r"\b(?:bye|goodbye|see you)\b", lowered):
        return "Goodbye! Come back any time."
    if re.search(r"\b(?:help|what can you do|who are you|what are you)\b", lowered):
        return f"I'm the built-in offline assistant: I run without a network, so my answers are simple. {skills}"
    if not user_text.strip():
        return f"How can I help? {skills}"
    return f"You asked about “{_short(_clean(user_text), 80)}”. I'm the offline model and can't look that up. {skills}"
