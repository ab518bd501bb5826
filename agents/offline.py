"""The built-in offline model: deterministic, no network, same code path as a real one.

``OfflineTransport`` is an in-process ``httpx2`` transport that answers
``POST /v1/chat/completions`` in the Chat Completions wire format (SSE
``chat.completion.chunk`` objects, tool calls split into fragments, a usage
chunk, ``data: [DONE]``), so ``agents.llm`` drives it through the very
``openai`` client it uses for a real server.

What it says is decided by the request's structure (the team brief's
"offline model conversation conventions"), then by plain patterns in the text:

- ``create_plan`` offered: the planner's routing call. Tool requests
  ("what is 17*23", "what time is it in Tokyo", "remember that ...") become
  tool calls, comparisons and multi-part requests a ``create_plan`` call,
  anything else a short text answer. After tool results it answers from them.
- other tools offered: an executor; the last user message is its step task.
- no tools: synthesis of the step results in the last user message (or small
  talk when there are none).

Token counts are real counts of ``count_tokens`` (words and punctuation).
"""

import hashlib
import json
import re
import time
from dataclasses import dataclass

import httpx2
from django.conf import settings

TOKEN_RE = re.compile(r"\w+|[^\w\s]")
CREATED = 1_700_000_000  # a fixed timestamp keeps the output byte-for-byte deterministic
WORDS_PER_CHUNK = 3
ARGUMENT_FRAGMENTS = 4


def count_tokens(value: str) -> int:
    """Return the offline model's token count of a text: its words and punctuation marks."""
    return len(TOKEN_RE.findall(value or ""))


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


def count_prompt_tokens(messages: list[dict]) -> int:
    """Return the prompt tokens of a request: the tokens of every message's text."""
    return sum(count_tokens(message_text(message)) for message in messages)


@dataclass
class Say:
    """Answer in text."""

    text: str


@dataclass
class Call:
    """Call tools: ``[(name, arguments), ...]``."""

    calls: list[tuple[str, dict]]


# --- Reading requests and writing answers ---------------------------------------------

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
STOPWORDS = frozenset(
    re.findall(
        r"\w+",
        "about also and are been before being between both but can could does each from have here into just like make "
        "more most much need only other over same should some such than that their them then there these they this "
        "those through under very want what when where which while will with would your please tell give explain "
        "answer step task instructions",
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
RECOMMENDATION_RE = re.compile(r"\b(?:Recommendation|Verdict)\b[^:\n]*:[^\n]+")
NOT_DONE_RE = re.compile(r"\b(?:failed|skipped|cancelled|did not complete)\b", re.I)


def _clean(value: str) -> str:
    """Strip quotes, spaces and closing punctuation from a phrase taken out of a message."""
    return value.strip().strip(QUOTES).strip().rstrip(".!?").strip().strip(QUOTES).strip()


def _short(value: str, limit: int) -> str:
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def _sentences(value: str, count: int, limit: int = 240) -> str:
    parts = re.split(r"(?<=[.!?])\s+", " ".join(value.split()))
    return _short(" ".join(parts[:count]), limit)


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
        return f"Saved to memory: “{arguments.get('content') or _describe(value)}”."
    if name == "forget":
        return "Done — that memory is forgotten."
    if name == "rename_session":
        return f"Done — this chat is now called “{arguments.get('title') or _pick(value, 'title')}”."
    if name in ("recall", "search_history"):
        texts = [_short(_pick(item, "content", "text", "snippet"), 80) for item in _items(value)]
        if name == "recall":
            quoted = "; ".join(f"“{text}”" for text in texts)
            return f"Here is what I remember: {quoted}." if texts else "I don't have any saved memories yet."
        query = arguments.get("query", "that")
        if not texts:
            return f"I found no earlier messages mentioning “{query}”."
        return f"I found {len(texts)} earlier message(s) mentioning “{query}”: {'; '.join(texts[:5])}."
    return f"{name} returned {_describe(value)}."


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
    pattern = (
        r"^(?:research|assess|evaluate|analy[sz]e|investigate|look into|study|review|examine|explore|describe"
        r"|list|weigh|summari[sz]e)\s+(?:the\s+)?(?:(?:pros|cons|advantages|drawbacks)(?: and cons)?\s+of\s+)?"
    )
    return _clean(re.sub(pattern, "", title, flags=re.I)) or title


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
    lowered = title.lower()
    if re.match(r"(?:recommend|weigh|decide|choose|pick|conclude|verdict)\b", lowered):
        return _recommend(task_text)
    subject = _subject(title)
    scores = [(aspect, _score(subject, aspect)) for aspect in _aspects(instructions)]
    positive = re.search(r"\b(?:pros|advantages|benefits)\b", lowered) is not None
    if positive or re.search(r"\b(?:cons|drawbacks)\b", lowered):
        ranked = sorted(scores, key=lambda pair: -pair[1] if positive else pair[1])
        chosen = [(a, s) for a, s in ranked if (s >= 4) == positive] or ranked[:1]
        words = RATINGS if positive else {2: "weak", 3: "only average", 4: "strong", 5: "excellent"}
        listed = ", ".join(f"{aspect} ({words[score]}, {score}/5)" for aspect, score in chosen)
        head = "Pros" if positive else "Cons"
        closing = f"{subject} shines on {chosen[0][0]}" if positive else f"the main drawback is {chosen[0][0]}"
        return f"{head} of {subject}: {listed}. In short, {closing}. (Illustrative, from the built-in offline model.)"
    if re.match(r"(?:research|assess|evaluate|analy[sz]e|investigate|look into|study|review|examine)\b", lowered):
        total = sum(score for _, score in scores)
        rated = "; ".join(f"{aspect} is {RATINGS[score]} ({score}/5)" for aspect, score in scores)
        best = max(scores, key=lambda pair: pair[1])[0]
        worst = min(scores, key=lambda pair: pair[1])[0]
        return (
            f"{subject[:1].upper()}{subject[1:]}: {rated}. Overall score for {subject}: {total}/{5 * len(scores)}. "
            f"Its strongest point is {best} and its weakest is {worst}. (Illustrative scores from the offline model.)"
        )
    words = [w for w in re.findall(r"[A-Za-z][\w'-]{3,}", f"{title} {instructions}") if w.lower() not in STOPWORDS]
    keywords = list(dict.fromkeys(word.lower() for word in words))[:4] or ["the request"]
    return (
        f"{title}: the built-in offline model has no outside knowledge, so here is an outline. "
        f"It comes down to {_join(keywords)}: what each means here, how they interact, and the next concrete step. "
        f"Task as given: {_sentences(instructions, 2, 200)}"
    )


def step_results(message: str) -> list[tuple[str, str, bool]]:
    """Return the step results a synthesis message lists, as (title, result, completed)."""
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
            results.append((title, body, not NOT_DONE_RE.search(f"{heading} {body[:80]}")))
    return results


def find_objective(messages: list[dict], user_text: str) -> str:
    """Return the run's objective as the synthesis call states it, if it does."""
    for candidate in [user_text, *(message_text(m) for m in messages if m.get("role") in ("system", "user"))]:
        if match := OBJECTIVE_RE.search(candidate):
            return _clean(match["text"])
    return ""


def synthesise(results: list[tuple[str, str, bool]], *, objective: str) -> str:
    """Return the final answer built from each step's result, ending with a recommendation for comparisons."""
    lines = [f"Here is what I found for “{_short(objective, 160)}”:" if objective else "Here is what I found:"]
    for title, body, completed in results:
        if not completed:
            summary = "this step did not complete, so this part is missing."
        elif RECOMMENDATION_RE.match(body):
            summary = "weighed the findings; the recommendation closes this answer."
        else:
            summary = _sentences(body, 2)
        lines.append(f"- {title}: {summary}")
    bodies = "\n".join(body for _, body, completed in results if completed)
    recommendation = RECOMMENDATION_RE.search(bodies)
    wants_choice = bool(
        COMPARE_RE.search(objective) or VERSUS_RE.search(f" {objective} ") or "recommend" in objective.lower()
    )
    if recommendation:
        lines.append(recommendation.group(0).strip())
    elif len(SCORE_RE.findall(bodies)) >= 2 or wants_choice:
        lines.append(_recommend(bodies))
    else:
        lines.append("That covers every part of the request.")
    return "\n".join(lines)


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


# --- Deciding what to say ----------------------------------------------------------


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


def respond(request: dict) -> Say | Call:
    """Return what the offline model answers to a Chat Completions request."""
    messages = request.get("messages") or []
    offered = offered_tools(request)
    last_user = _last(messages, "user")
    user_text = message_text(last_user) if last_user else ""
    after_tools = bool(messages) and messages[-1].get("role") == "tool"

    if "create_plan" in offered:
        if after_tools:
            return _continue_planner(messages, user_text)
        return _route(user_text, offered, max_steps=getattr(settings, "AGENT_MAX_PLAN_STEPS", 8))
    if offered:
        return _execute(user_text, offered, _tool_round(messages) if after_tools else [])
    results = step_results(user_text)
    if results:
        return Say(synthesise(results, objective=find_objective(messages, user_text)))
    return Say(small_talk(user_text))


def _continue_planner(messages: list[dict], user_text: str) -> Say | Call:
    failures, error = _plan_failures(messages)
    round_ = _tool_round(messages)
    if failures and any(name == "create_plan" for name, _, _ in round_):
        if failures == 1:
            return Call([("create_plan", minimal_plan(user_text))])
        return Say(
            f"I could not put together a valid plan ({error}), so here is a direct answer. " + small_talk(user_text)
        )
    answers = [describe_tool_result(name, arguments, result) for name, arguments, result in round_]
    return Say(" ".join(answers) or "Done.")


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
    paragraph = step_paragraph(title, instructions, task_text)
    found = [describe_tool_result(name, arguments, result) for name, arguments, result in round_]
    return Say(" ".join([paragraph, *found]))


# --- The wire format ------------------------------------------------------------------


def _completion_id(body: bytes) -> str:
    return "chatcmpl-offline-" + hashlib.sha256(body).hexdigest()[:24]


def _call_id(completion_id: str, index: int) -> str:
    return "call_" + hashlib.sha256(f"{completion_id}:{index}".encode()).hexdigest()[:24]


def _pieces(value: str, size: int) -> list[str]:
    return [value[start : start + size] for start in range(0, len(value), size)] or [""]


def reply_chunks(reply: Say | Call, *, completion_id: str, model: str) -> tuple[list[dict], int]:
    """Return the ``chat.completion.chunk`` objects of a reply and its completion tokens."""

    def chunk(delta: dict, finish_reason: str | None = None) -> dict:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "choices": [choice],
        }

    chunks = [chunk({"role": "assistant", "content": ""})]
    if isinstance(reply, Say):
        words = re.findall(r"\S+\s*", reply.text)
        for start in range(0, len(words), WORDS_PER_CHUNK):
            chunks.append(chunk({"content": "".join(words[start : start + WORDS_PER_CHUNK])}))
        chunks.append(chunk({}, "stop"))
        return chunks, count_tokens(reply.text)

    completion_tokens = 0
    for index, (name, arguments) in enumerate(reply.calls):
        raw = json.dumps(arguments, ensure_ascii=False)
        completion_tokens += count_tokens(name) + count_tokens(raw)
        head = {"index": index, "id": _call_id(completion_id, index), "type": "function"}
        chunks.append(chunk({"tool_calls": [{**head, "function": {"name": name, "arguments": ""}}]}))
        for fragment in _pieces(raw, -(-len(raw) // ARGUMENT_FRAGMENTS)):
            chunks.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}))
    chunks.append(chunk({}, "tool_calls"))
    return chunks, completion_tokens


def _completion(reply: Say | Call, *, completion_id: str, model: str, usage: dict) -> dict:
    """Return the non-streamed ``chat.completion`` of a reply."""
    message: dict = {"role": "assistant", "content": reply.text if isinstance(reply, Say) else None}
    if isinstance(reply, Call):
        message["tool_calls"] = [
            {
                "id": _call_id(completion_id, index),
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments, ensure_ascii=False)},
            }
            for index, (name, arguments) in enumerate(reply.calls)
        ]
    finish_reason = "stop" if isinstance(reply, Say) else "tool_calls"
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}],
        "usage": usage,
    }


class _EventStream(httpx2.SyncByteStream):
    """Yield SSE frames, pausing ``delay`` seconds before each content frame."""

    def __init__(self, frames: list[bytes], delay: float):
        self.frames = frames
        self.delay = delay

    def __iter__(self):
        for position, frame in enumerate(self.frames):
            if self.delay and 0 < position < len(self.frames) - 2:
                time.sleep(self.delay)
            yield frame


def _sse(payload: dict | str) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return f"data: {data}\n\n".encode()


def _error(status: int, message: str, error_type: str = "invalid_request_error") -> httpx2.Response:
    return httpx2.Response(status, json={"error": {"message": message, "type": error_type, "code": None}})


class OfflineTransport(httpx2.BaseTransport):
    """An in-process Chat Completions server for ``httpx2.Client(transport=...)``."""

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        """Answer one request the way an OpenAI-compatible server would."""
        if not request.url.path.endswith("/chat/completions"):
            return _error(404, f"The offline model only serves /v1/chat/completions, not {request.url.path}.")
        if request.method != "POST":
            return _error(405, "Use POST.")
        raw = request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            return _error(400, "The request body is not valid JSON.")
        if not isinstance(body, dict) or not body.get("model") or not isinstance(body.get("messages"), list):
            return _error(400, "A request needs 'model' and a list of 'messages'.")
        if not body["messages"]:
            return _error(400, "'messages' must not be empty.")

        reply = respond(body)
        completion_id = _completion_id(raw)
        chunks, completion_tokens = reply_chunks(reply, completion_id=completion_id, model=body["model"])
        prompt_tokens = count_prompt_tokens(body["messages"])
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        if not body.get("stream"):
            return httpx2.Response(
                200, json=_completion(reply, completion_id=completion_id, model=body["model"], usage=usage)
            )

        frames = [_sse(chunk) for chunk in chunks]
        if (body.get("stream_options") or {}).get("include_usage"):
            frames.append(_sse({**chunks[-1], "choices": [], "usage": usage}))
        frames.append(_sse("[DONE]"))
        delay = float(getattr(settings, "OFFLINE_MODEL_DELAY", 0) or 0)
        return httpx2.Response(
            200,
            headers={"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"},
            stream=_EventStream(frames, delay),
        )
