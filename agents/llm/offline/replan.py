"""The offline model's side of replanning, so ``make run`` shows it without a key.

- An executor whose step asks for live data (its title says "latest",
  "online", "news", "real-time", …) has no way to get it offline: it keeps
  searching the user's history, saying so (its words are `thinking`), and
  never answers, so its iterations run out and the step stalls.
- The planner, offered ``revise_plan`` (``agents.engine.prompts.revision_request``),
  replaces each failed step by research from general knowledge (key
  ``<id>_general``) and runs the steps that were skipped behind it again,
  without the live-data words. When nothing is left to replace (the failed
  steps already were replacements), it declines in one sentence.
"""

import re

from agents.llm.offline.classify import step_kind, subject_of
from agents.llm.offline.messages import Call, Say, step_task
from agents.llm.offline.phrases import clean

LIVE_DATA_RE = re.compile(
    r"\b(?:the\s+)?(?:latest|real-time|up-to-date|online|news|today's|live (?:data|prices?|scores?|feeds?))\b", re.I
)
REVISION_RE = re.compile(  # agents.engine.prompts.revision_request
    r"User request: (?P<question>.*?)\nPlan objective: (?P<objective>.*?)\nStep results:\n(?P<steps>.*?)"
    r"\nRevisions left after this one: \d+\.\Z",
    re.S,
)
REVISION_LINE_RE = re.compile(
    r"- (?P<key>[^\s(]+) \((?P<title>.+?)\)(?: after (?P<after>[^\[]+?))? "
    r"\[(?P<status>completed|failed|skipped|cancelled|pending|running)\]: (?P<result>.*)"
)
GENERAL = "_general"  # the key suffix of a step that replaces a failed one


def needs_live_data(task_text: str) -> bool:
    """Return whether an executor's step asks for data the offline model cannot reach (and is not a verdict)."""
    title, _ = step_task(task_text)
    return step_kind(title) != "recommend" and bool(LIVE_DATA_RE.search(title))


def search_in_vain(task_text: str, offered: list[str], searches: int) -> Say | Call:
    """Return an executor's next fruitless search for live data (it never answers: the step stalls)."""
    title, _ = step_task(task_text)
    subject = without_live_words(subject_of(title))
    if "search_history" not in offered:
        return Say(f"{subject}: live data is out of reach offline.")
    words = (
        f"I need live data on {subject}, which the offline model cannot reach; I will look in your history first."
        if not searches
        else f"Nothing about {subject} yet; searching again."
    )
    return Call([("search_history", {"query": subject})], text=words)


def is_revision_request(text: str) -> bool:
    """Return whether a text is the planner's replanning request (``agents.engine.prompts.revision_request``)."""
    return REVISION_RE.match(text) is not None


def without_live_words(text: str) -> str:
    """Return a phrase without the words that ask for live data."""
    return " ".join(LIVE_DATA_RE.sub(" ", text).split()) or text


def revise(text: str) -> Say | Call:
    """Return the offline planner's answer to a replanning request: revise_plan, or a short decline."""
    match = REVISION_RE.match(text)
    steps = [found.groupdict() for line in match["steps"].splitlines() if (found := REVISION_LINE_RE.fullmatch(line))]
    replaced: dict[str, str] = {}
    new_steps: list[dict] = []
    for step in steps:
        if step["status"] != "failed" or step["key"].endswith(GENERAL):
            continue
        key = f"{step['key'][: 64 - len(GENERAL)]}{GENERAL}"
        replaced[step["key"]] = key
        subject = clean(without_live_words(subject_of(step["title"])))
        new_steps.append(
            {
                "id": key,
                "title": f"Research {subject}",
                "instructions": f"Assess {subject} from general knowledge, without live data.",
                "depends_on": [],
            }
        )
    if not new_steps:
        return Say("Nothing better can be tried offline; the answer is written from the steps that completed.")
    skipped = [step for step in steps if step["status"] == "skipped"]
    replaced.update({step["key"]: f"{step['key']}_again"[:64] for step in skipped})
    for step in skipped:
        after = [dep.strip() for dep in (step["after"] or "").split(",") if dep.strip()]
        new_steps.append(
            {
                "id": replaced[step["key"]],
                "title": without_live_words(step["title"]),
                "instructions": without_live_words(step["title"]) + ".",
                "depends_on": [replaced.get(dep, dep) for dep in after],
            }
        )
    return Call([("revise_plan", {"objective": without_live_words(match["objective"]), "steps": new_steps})])
