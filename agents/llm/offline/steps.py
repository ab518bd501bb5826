"""What an offline executor answers to its step: research scores, pros, cons, a verdict, or an outline.

The scores are illustrative but deterministic: a hash of the subject and the aspect.
"""

import hashlib
import re

from agents.llm.offline.classify import DEFAULT_ASPECTS, step_kind, subject_of
from agents.llm.offline.phrases import capitalise, join_list, split_list

RATINGS = {2: "fair", 3: "good", 4: "strong", 5: "excellent"}

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
ASPECTS_RE = re.compile(r"\b(?:on|considering|in terms of|regarding)\s+(?P<aspects>[^.:;]+)", re.I)
SCORE_RE = re.compile(r"Overall score for (?P<name>.+?): (?P<score>\d+)/(?P<out_of>\d+)")


def step_paragraph(title: str, instructions: str, task_text: str) -> str:
    """Return an executor's deterministic, step-specific answer."""
    kind = step_kind(title)
    if kind == "recommend":
        return recommend(task_text)
    subject = subject_of(title)
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
            f"{capitalise(subject)}: {rated}. Overall score for {subject}: {total}/{5 * len(scores)}. "
            f"Its strongest point is {best} and its weakest is {worst}. (Illustrative scores from the offline model.)"
        )
    return _outline(subject, instructions)


def _score(subject: str, aspect: str) -> int:
    digest = hashlib.sha256(f"{subject.lower()}|{aspect.lower()}".encode()).hexdigest()
    return 2 + int(digest, 16) % 4


def _aspects(instructions: str) -> list[str]:
    match = ASPECTS_RE.search(instructions)
    aspects = [aspect for aspect in split_list(match.group("aspects")) if len(aspect) <= 40] if match else []
    return aspects[:6] or DEFAULT_ASPECTS


def recommend(task_text: str) -> str:
    """Return a verdict from the findings in a text: the best overall score, a tie, or pros against cons."""
    scores = [(m["name"], int(m["score"]), int(m["out_of"])) for m in SCORE_RE.finditer(task_text)]
    if len(scores) >= 2:
        ranked = sorted(scores, key=lambda item: -item[1] / max(item[2], 1))
        (best, score, out_of), others = ranked[0], ranked[1:]
        if others[0][1] * out_of == score * others[0][2]:
            return (
                f"Recommendation: {best} and {others[0][0]} tie at {score}/{out_of}; choose {best} if its "
                f"strongest point matters most to you, otherwise {others[0][0]}."
            )
        behind = join_list([f"{name} ({s}/{o})" for name, s, o in others])
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


def _outline(subject: str, instructions: str) -> str:
    """Return the outline an executor gives for a step it has no knowledge for: the points the step names."""
    known = {word.lower() for word in re.findall(r"\w+", subject)} | STOPWORDS
    keywords: dict[str, str] = {}
    for word in re.findall(r"[A-Za-z][\w'-]{3,}", instructions):
        if word.lower() not in known:
            keywords.setdefault(word.lower(), word)
    points = list(keywords.values())[:4]
    if not points:
        return f"{capitalise(subject)}: an outline only — the built-in offline model has no outside knowledge to add."
    return (
        f"{capitalise(subject)}: an outline — cover {join_list(points)}, how they connect, and what follows from them. "
        "(The built-in offline model has no outside knowledge.)"
    )
