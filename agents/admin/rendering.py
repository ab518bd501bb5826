"""The HTML fragments and values the admin pages show: plan graphs, timelines, conversations, costs.

Everything here renders what the models wrote, which is untrusted: it goes
through ``format_html``, which escapes it. The layout is agents/admin.css.
"""

import json
from datetime import datetime
from typing import Any

from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import Truncator

from agents.events import RESERVED_FIELDS
from agents.models import AgentMessage, Plan, PlanStep, Run, RunEvent
from agents.runs.plans import dependency_waves

SUMMARY_CHARS = 160
RESULT_CHARS = 300


# --- Values -------------------------------------------------------------------


def elapsed_ms(origin: datetime | None, moment: datetime | None) -> int | None:
    """Return the milliseconds from ``origin`` to ``moment``, or None when either is unknown."""
    if origin is None or moment is None:
        return None
    return int((moment - origin).total_seconds() * 1000)


def run_origin(run: Run) -> datetime:
    """Return the instant a run's timings count from: when it started, else when it was queued."""
    return run.started_at or run.created_at


def seconds(ms: int | None) -> str:
    """Return milliseconds as seconds with one decimal ("4.3"), or "—" when unknown."""
    return "—" if ms is None else f"{ms / 1000:.1f}"


def usd(value: Any) -> str:
    """Return dollars as people read them: "$0.0123" under a dollar, "$12.50" above; "—" when unknown."""
    if value is None:
        return "—"
    return f"${value:.2f}" if value >= 1 else f"${value:.4f}"


def pretty_json(value: Any) -> str:
    """Return a value as indented JSON; a string holding JSON (tool arguments) is parsed first."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def admin_link(obj: Any, text: Any = None) -> SafeString:
    """Return a link to an object's admin page."""
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, text if text is not None else obj)


# --- Plan graphs --------------------------------------------------------------


def plan_waves(steps: list[PlanStep]) -> tuple[list[list[PlanStep]], list[PlanStep]]:
    """Group steps (their dependencies loaded) into waves by dependency depth; also return steps caught in a cycle.

    A cycle cannot come from the planner, which validates against it; but stored data is shown, not trusted.
    """
    by_pk = {step.pk: step for step in steps}
    waves, cyclic = dependency_waves({step.pk: [dep.pk for dep in step.depends_on.all()] for step in steps})
    return [[by_pk[pk] for pk in wave] for wave in waves], [by_pk[pk] for pk in cyclic]


def depends_keys(step: PlanStep) -> str:
    """Return the keys of the steps a step waits for, or "—"."""
    return ", ".join(dep.key for dep in step.depends_on.all()) or "—"


def _timing(step: PlanStep, origin: datetime | None) -> str:
    start = elapsed_ms(origin, step.started_at)
    took = elapsed_ms(step.started_at, step.finished_at)
    if start is None:
        return "not started"
    return f"+{start} ms, took {took} ms" if took is not None else f"+{start} ms, unfinished"


def _step_item(step: PlanStep, origin: datetime | None) -> SafeString:
    outcome = step.error or step.result
    return format_html(
        '<li class="plan-step status-{}"><strong>{}</strong> {} <span class="step-status">{}</span>'
        '<div class="step-meta">depends on: {} · {}</div><div class="step-result">{}</div></li>',
        step.status,
        step.key,
        step.title,
        step.get_status_display(),
        depends_keys(step),
        _timing(step, origin),
        Truncator(outcome).chars(RESULT_CHARS) or "—",
    )


def plan_graph_html(steps: list[PlanStep], origin: datetime | None) -> SafeString | str:
    """Render a plan as waves of steps, each with its dependencies, status, timings and result."""
    if not steps:
        return "—"
    waves, cyclic = plan_waves(steps)
    sections = [(f"Wave {number}", wave) for number, wave in enumerate(waves, start=1)]
    if cyclic:
        sections.append(("Unordered (dependency cycle)", cyclic))
    return format_html(
        '<div class="plan-graph">{}</div>',
        format_html_join(
            "",
            '<section class="plan-wave"><h4>{}</h4><ol class="plan-steps">{}</ol></section>',
            (
                (label, format_html_join("", "{}", ((_step_item(step, origin),) for step in members)))
                for label, members in sections
            ),
        ),
    )


def plan_steps_html(steps: list[PlanStep], origin: datetime | None) -> SafeString | str:
    """Render a plan's steps in written order as a table."""
    if not steps:
        return "—"
    rows = format_html_join(
        "",
        '<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="step-result">{}</td></tr>',
        (
            (
                step.position,
                step.key,
                step.title,
                step.get_status_display(),
                depends_keys(step),
                _timing(step, origin),
                step.error or step.result or "—",
            )
            for step in steps
        ),
    )
    return format_html(
        '<table class="plan-steps-table"><thead><tr><th>#</th><th>Key</th><th>Title</th><th>Status</th>'
        "<th>Depends on</th><th>Timing</th><th>Result</th></tr></thead><tbody>{}</tbody></table>",
        rows,
    )


def plan_versions_html(versions: list[Plan]) -> SafeString | str:
    """Render links to every version of a plan, oldest first, with why each revision was made."""
    if not versions:
        return "—"
    return format_html_join(
        "",
        "<div>{} {}</div>",
        (
            (admin_link(plan, f"Version {plan.version}"), f"— {plan.revision_reason}" * bool(plan.revision_reason))
            for plan in versions
        ),
    )


# --- Timelines ----------------------------------------------------------------


def event_summary(data: Any) -> str:
    """Return a one-line ``key=value`` summary of an event's own fields (envelope fields left out)."""
    if not isinstance(data, dict):
        return Truncator(str(data)).chars(SUMMARY_CHARS)
    parts = []
    for key, value in data.items():
        if key in RESERVED_FIELDS:
            continue
        shown = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), default=str)
        parts.append(f"{key}={shown}")
    return Truncator(" ".join(parts)).chars(SUMMARY_CHARS)


def event_data_html(event: RunEvent) -> SafeString:
    """Render an event as its one-line summary that unfolds to its whole data."""
    return format_html(
        '<details class="event-data"><summary>{}</summary><pre>{}</pre></details>',
        event_summary(event.data) or "—",
        pretty_json(event.data),
    )


def text_stretch_html(texts: list[RunEvent]) -> SafeString:
    """Render a stretch of consecutive ``text`` events as one row that unfolds to the text they carried."""
    whole = "".join(str(t.data.get("delta", "")) if isinstance(t.data, dict) else "" for t in texts)
    label = f"{len(texts)} text events, seq {texts[0].seq} to {texts[-1].seq}" if len(texts) > 1 else "1 text event"
    return format_html(
        '<details class="event-data event-text"><summary>{}: “{}”</summary><pre>{}</pre></details>',
        label,
        Truncator(whole).chars(SUMMARY_CHARS // 2),
        whole,
    )


# --- Conversations ------------------------------------------------------------


def message_content_html(message: AgentMessage) -> SafeString | str:
    """Render a conversation message's content, a tool's result as indented JSON."""
    if not message.content:
        return "—"
    shown = pretty_json(message.content) if message.role == AgentMessage.Role.TOOL else message.content
    return format_html('<div class="agent-content">{}</div>', shown)


def tool_calls_html(calls: Any) -> SafeString | str:
    """Render the tool calls a model made: each one's name, id and arguments as indented JSON."""
    if not calls:
        return "—"
    if not isinstance(calls, list):
        return format_html('<pre class="tool-calls">{}</pre>', pretty_json(calls))
    return format_html_join(
        "",
        '<div class="tool-call"><strong>{}</strong> <span class="tool-call-id">[{}]</span>'
        '<pre class="tool-calls">{}</pre></div>',
        (
            (call.get("name", "?"), call.get("id", ""), pretty_json(call.get("arguments", "")))
            if isinstance(call, dict)
            else ("?", "", str(call))
            for call in calls
        ),
    )
