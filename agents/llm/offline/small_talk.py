"""The offline model's plain answers in text: small talk, and the answer after the user rejected a plan."""

import re

from agents.llm.offline.phrases import clean, shorten
from agents.llm.tokens import message_text


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
    return f"You asked about “{shorten(clean(user_text), 80)}”. I'm the offline model and can't look that up. {skills}"


def after_rejected_plan(messages: list[dict]) -> str:
    """Return the answer to a question whose plan the user rejected: brief, without research."""
    users = [message_text(message) for message in messages if message.get("role") == "user"]
    question = users[-2] if len(users) > 1 else ""
    topic = shorten(clean(question), 120) if question else "your question"
    return (
        f"Understood, I won't run that plan. Without researching it step by step, I can only say this about "
        f"“{topic}”: ask me a narrower question, or send it again and approve a plan, and I'll go into detail."
    )
