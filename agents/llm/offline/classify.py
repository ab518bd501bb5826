"""Which kind of message or step the offline model has before it, by plain patterns in its text.

A user's message asks for a tool (``tool_requests``, ``time_requests``,
``calc_request``), is complex (a comparison, ``comparison_of``, or several
parts, ``request_parts``: the planner makes a plan), or is simple (small talk).
An executor's step title calls for a kind of answer (``step_kind``).
``agents.llm.offline.respond`` decides from these what the model does.
"""

import re

from agents.llm.offline.phrases import clean, shorten, split_list

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
DEFAULT_ASPECTS = ["quality", "ease of use", "cost", "long-term fit"]
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


def wants_choice(question: str) -> bool:
    """Return whether a question asks to compare or to be recommended something."""
    return bool(COMPARE_RE.search(question) or VERSUS_RE.search(f" {question} ") or "recommend" in question.lower())


def tool_requests(user_text: str) -> list[tuple[str, dict]]:
    """Return the memory, rename and history tool calls a message asks for, most specific first."""
    requests = []
    if match := RECALL_RE.search(user_text):
        topic = match.group("topic") or match.group("topic2")
        requests.append(("recall", {"query": clean(topic)} if topic and clean(topic) else {}))
    if match := REMEMBER_RE.search(user_text):
        requests.append(("remember", {"content": clean(match.group("content"))}))
    if match := RENAME_RE.search(user_text):
        requests.append(("rename_session", {"title": shorten(clean(match.group("title")), 200)}))
    if match := SEARCH_RE.search(user_text):
        requests.append(("search_history", {"query": clean(match.group("query") or match.group("query2"))}))
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


def comparison_of(user_text: str) -> tuple[list[str], str, list[str], bool] | None:
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
    aspects = split_list(rest[0]) if rest else []
    body, *rest = re.split(r"\s+for\s+", body, maxsplit=1, flags=re.I)
    purpose = f" for {clean(rest[0])}" if rest else ""
    items = split_list(body)
    if len(items) >= 2 or (pros_and_cons and items):
        return items, purpose, aspects or DEFAULT_ASPECTS, pros_and_cons and len(items) == 1
    return None


def request_parts(user_text: str) -> list[str]:
    """Return the parts of a request of several: its listed items, its questions, or thirds of a long text."""
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


def step_kind(title: str) -> str:
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


def subject_of(title: str) -> str:
    """Return what a step title is about: the title without its leading verb ("Research tea" -> "tea")."""
    pattern = (
        r"^(?:research|assess|evaluate|analy[sz]e|investigate|look into|study|review|examine|explore|describe"
        r"|list|weigh|summari[sz]e|name|outline|explain|define|identify)\s+(?:the\s+)?"
        r"(?:(?:pros|cons|advantages|drawbacks)(?: and cons)?\s+of\s+)?"
    )
    return clean(re.sub(pattern, "", title, flags=re.I)) or title
