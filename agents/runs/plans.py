"""The ``create_plan`` tool: its schema, and validation of what the model sends.

Model output is untrusted: a plan becomes rows only after it is a well-formed
object with unique step ids, dependencies on known steps, no cycle, and
1..AGENT_MAX_PLAN_STEPS steps. Anything else goes back to the planner as a
tool error naming every problem, so it can fix the plan.
"""

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from django.conf import settings

from agents.storable import load_json

STEP_ID_MAX_CHARS = 64
TITLE_MAX_CHARS = 300
INSTRUCTIONS_MAX_CHARS = 4000

Step = TypeVar("Step", bound=Hashable)  # a step's key or its primary key


@dataclass
class StepSpec:
    key: str
    title: str
    instructions: str
    depends_on: list[str] = field(default_factory=list)


@dataclass
class PlanSpec:
    objective: str
    steps: list[StepSpec]


class PlanInvalid(Exception):
    """The plan the model sent cannot be run; ``problems`` says why, one line each."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


CREATE_PLAN_DESCRIPTION = (
    "Break a request that needs research or analysis into steps run by read-only executor agents. "
    "Steps with no dependency between them run at the same time; depends_on lists the ids of the "
    "steps whose results a step needs."
)
REVISE_PLAN_DESCRIPTION = (
    "Revise the plan after a step failed or stalled: give the new steps to run. Completed steps are kept with "
    "their results and are not run again; a new step may name them in depends_on. Answer without calling this "
    "tool to keep the results as they are."
)


def create_plan_tool() -> dict:
    """Return the OpenAI tool definition of create_plan, with the configured step limit."""
    return _plan_tool("create_plan", CREATE_PLAN_DESCRIPTION)


def revise_plan_tool() -> dict:
    """Return the OpenAI tool definition of revise_plan (the shape of create_plan)."""
    return _plan_tool("revise_plan", REVISE_PLAN_DESCRIPTION)


def _plan_tool(name: str, description: str) -> dict:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": {
                    "objective": {"type": "string", "description": "What the plan achieves, in one sentence."},
                    "steps": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": settings.AGENT_MAX_PLAN_STEPS,
                        "items": {
                            "type": "object",
                            "properties": {
                                "id": {"type": "string", "description": "Short unique id, e.g. 'research_tea'."},
                                "title": {"type": "string"},
                                "instructions": {"type": "string", "description": "What the executor must do."},
                                "depends_on": {"type": "array", "items": {"type": "string"}},
                            },
                            "required": ["id", "title", "instructions", "depends_on"],
                        },
                    },
                },
                "required": ["objective", "steps"],
            },
        },
    }


def _text(value, name: str, limit: int, problems: list[str]) -> str:
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{name} must be a non-empty string")
        return ""
    if len(value) > limit:
        problems.append(f"{name} must be at most {limit} characters")
    return value.strip()


def dependency_waves(depends_on: Mapping[Step, Iterable[Step]]) -> tuple[list[list[Step]], list[Step]]:
    """Group a plan's steps into waves by dependency depth; also return the steps caught in a cycle.

    ``depends_on`` maps each step, in the plan's order, to the steps it waits for (one outside the
    mapping is ignored). A step with no dependency is in the first wave, any other one wave after its
    deepest dependency, so a wave is what could run at the same time. A step in a dependency cycle, or
    waiting on one, is in no wave. Each list keeps the plan's order.
    """
    known = {step: [dep for dep in deps if dep in depends_on] for step, deps in depends_on.items()}
    depth: dict[Step, int] = {}
    remaining = list(known)
    while remaining:
        ready = [step for step in remaining if all(dep in depth for dep in known[step])]
        if not ready:
            break
        for step in ready:
            depth[step] = 1 + max((depth[dep] for dep in known[step]), default=-1)
        remaining = [step for step in remaining if step not in depth]
    waves: list[list[Step]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for step in known:
        if step in depth:
            waves[depth[step]].append(step)
    return waves, remaining


def _find_cycle(steps: list[StepSpec]) -> list[str] | None:
    """Return the ids of steps caught in a dependency cycle, or None."""
    _waves, stuck = dependency_waves({step.key: step.depends_on for step in steps})
    return sorted(stuck) or None


def parse_plan(arguments: str, *, kept: frozenset[str] = frozenset()) -> PlanSpec:
    """Return the plan in a create_plan call's arguments, or raise PlanInvalid with every problem found.

    For a revise_plan call, ``kept`` holds the ids of the completed steps the
    revision keeps: new steps may depend on them, and an entry that repeats
    one is dropped (the step stays as it is, with its result).
    """
    try:
        data = load_json(arguments)
    except (TypeError, ValueError, RecursionError) as exc:
        raise PlanInvalid([f"arguments are not valid JSON ({exc})"]) from None
    if not isinstance(data, dict):
        raise PlanInvalid(["arguments must be a JSON object with objective and steps"])
    problems: list[str] = []
    objective = _text(data.get("objective"), "objective", INSTRUCTIONS_MAX_CHARS, problems)
    raw_steps = data.get("steps")
    limit = settings.AGENT_MAX_PLAN_STEPS
    if not isinstance(raw_steps, list) or not raw_steps:
        raise PlanInvalid([*problems, "steps must be a non-empty list"])
    if len(raw_steps) > limit:
        raise PlanInvalid([*problems, f"a plan may have at most {limit} steps, this one has {len(raw_steps)}"])

    steps: list[StepSpec] = []
    for index, raw in enumerate(raw_steps):
        where = f"steps[{index}]"
        if not isinstance(raw, dict):
            problems.append(f"{where} must be an object")
            continue
        key = _text(raw.get("id"), f"{where}.id", STEP_ID_MAX_CHARS, problems)
        title = _text(raw.get("title"), f"{where}.title", TITLE_MAX_CHARS, problems)
        instructions = _text(raw.get("instructions"), f"{where}.instructions", INSTRUCTIONS_MAX_CHARS, problems)
        depends_on = raw.get("depends_on", [])
        if not isinstance(depends_on, list) or not all(isinstance(dep, str) for dep in depends_on):
            problems.append(f"{where}.depends_on must be a list of step ids")
            depends_on = []
        steps.append(
            StepSpec(key=key, title=title, instructions=instructions, depends_on=list(dict.fromkeys(depends_on)))
        )

    if kept:
        steps = [step for step in steps if step.key not in kept]
        if not steps and not problems:
            raise PlanInvalid(["a revision needs at least one new step (answer in text to keep the plan as it is)"])
    keys = [step.key for step in steps if step.key]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        problems.append(f"step ids must be unique; repeated: {', '.join(duplicates)}")
    known = set(keys) | kept
    for step in steps:
        for dep in step.depends_on:
            if dep == step.key:
                problems.append(f"step {step.key!r} depends on itself")
            elif dep not in known:
                problems.append(f"step {step.key!r} depends on unknown step {dep!r}")
    if not problems:
        cycle = _find_cycle(steps)
        if cycle:
            problems.append(f"dependencies form a cycle among: {', '.join(cycle)}")
    if problems:
        raise PlanInvalid(problems)
    return PlanSpec(objective=objective, steps=steps)
