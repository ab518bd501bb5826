"""The offline synthesis: an intro, one line per step result, and a recommendation when the user must choose.

The step results come from ``agents.engine.prompts.synthesis_request`` or, for
other callers, from a message in another common layout (``step_results``).
"""

import re

from agents.llm.offline.classify import subject_of, wants_choice
from agents.llm.offline.phrases import clean, shorten
from agents.llm.offline.steps import SCORE_RE, recommend
from agents.llm.tokens import message_text

SYNTHESIS_RE = re.compile(  # agents.engine.prompts.synthesis_request
    r"User request: (?P<question>.*?)\nPlan objective: (?P<objective>.*?)\nStep results:(?:\n(?P<steps>.*))?\Z", re.S
)
STEP_LINE_RE = re.compile(
    r"- (?P<title>.+?) \[(?P<status>completed|failed|skipped|cancelled|pending|running)\]: (?P<result>.*)"
)
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
FINDINGS_RE = re.compile(  # the offline executor's research paragraph
    r"Overall score for .+?: (?P<score>\d+/\d+)\. "
    r"Its strongest point is (?P<best>.+?) and its weakest is (?P<worst>[^.]+)\."
)
DISCLAIMER_RE = re.compile(r"\s*\([^()]*\b(?:illustrative|offline model)\b[^()]*\)", re.I)
RECOMMENDATION_RE = re.compile(r"\b(?:Recommendation|Verdict)\b[^:\n]*:[^\n]+")
NOT_DONE_RE = re.compile(r"\b(?:failed|skipped|cancelled|did not complete)\b", re.I)


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
            blocks.append((clean(title), line, [rest.strip()]))
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
            return clean(match["text"])
    return ""


def synthesise(results: list[tuple[str, str, str]], *, question: str) -> str:
    """Return the final answer: an intro, one line per step, and a recommendation when the user must choose."""
    bodies = "\n".join(body for _, status, body in results if status == "completed")
    note = " (the scores are illustrative)" if re.search(r"\billustrative\b", bodies, re.I) else ""
    topic = shorten(clean(question), 120)
    lines = [f"Here is what I found for “{topic}”{note}:" if topic else f"Here is what I found{note}:"]
    for title, status, body in results:
        lines.append(f"- {title}: {_gist(title, body) if status == 'completed' else _not_done(status, body)}")
    if not results:
        lines.append("- No step produced a result.")
    if recommendation := RECOMMENDATION_RE.search(bodies):
        lines.append(recommendation[0].strip())
    elif wants_choice(question) and not bodies.strip():
        lines.append("Recommendation: none — no step produced findings to compare.")
    elif wants_choice(question) or len(SCORE_RE.findall(bodies)) >= 2:
        lines.append(recommend(bodies))
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
        label.lower() in (title.lower(), subject_of(title).lower()) or re.match(r"(?:pros|cons) of ", label, re.I)
    ):
        text = rest
    first = shorten(re.split(r"(?<=[.!?])\s+", text)[0], limit)
    if not first:
        return "no result."
    return first if first.endswith((".", "!", "?", "…")) else f"{first}."


def _not_done(status: str, body: str) -> str:
    """Return the line of a step that did not complete: its status, then why when that adds anything."""
    label = status if status in ("failed", "skipped", "cancelled") else "did not run"
    reason = re.sub(rf"^{status}\s*:\s*", "", " ".join(body.split()), flags=re.I)
    if re.fullmatch(rf"(?:the run|this step|it) was {status}\.?", reason, re.I):
        reason = ""
    reason = shorten(reason, 160)
    return f"{label}. {reason if reason.endswith(('.', '!', '?', '…')) else reason + '.'}" if reason else f"{label}."
