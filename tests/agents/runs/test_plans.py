"""create_plan validation: untrusted model output becomes a plan only when it is sound."""

import json

import pytest

from agents.runs.plans import PlanInvalid, create_plan_tool, dependency_waves, parse_plan


def plan(*steps, objective="Compare"):
    return json.dumps({"objective": objective, "steps": list(steps)})


def step(key, depends_on=(), title=None):
    return {"id": key, "title": title or f"Step {key}", "instructions": f"do {key}", "depends_on": list(depends_on)}


def problems_of(arguments: str) -> str:
    with pytest.raises(PlanInvalid) as info:
        parse_plan(arguments)
    return " | ".join(info.value.problems)


def test_valid_plan_keeps_order_and_dependencies():
    spec = parse_plan(plan(step("a"), step("b"), step("c", ["a", "b"])))
    assert spec.objective == "Compare"
    assert [s.key for s in spec.steps] == ["a", "b", "c"]
    assert spec.steps[2].depends_on == ["a", "b"]


def test_cycle_is_refused_naming_the_steps():
    assert "cycle among: a, b" in problems_of(plan(step("a", ["b"]), step("b", ["a"]), step("c")))


def test_self_dependency_and_unknown_dependency_are_refused():
    text = problems_of(plan(step("a", ["a"]), step("b", ["zzz"])))
    assert "'a' depends on itself" in text
    assert "'b' depends on unknown step 'zzz'" in text


def test_duplicate_ids_are_refused():
    assert "repeated: a" in problems_of(plan(step("a"), step("a")))


def test_too_many_steps_is_refused(settings):
    settings.AGENT_MAX_PLAN_STEPS = 3
    assert "at most 3 steps" in problems_of(plan(*(step(str(i)) for i in range(4))))
    assert create_plan_tool()["function"]["parameters"]["properties"]["steps"]["maxItems"] == 3


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        (json.dumps({"objective": "x", "steps": []}), "non-empty list"),
        (json.dumps({"objective": "", "steps": [step("a")]}), "objective must be a non-empty string"),
        (json.dumps({"objective": "x", "steps": ["a"]}), "steps[0] must be an object"),
        (json.dumps({"objective": "x", "steps": [{"id": "a", "title": "t", "instructions": 5}]}), "instructions"),
        (json.dumps({"objective": "x", "steps": [{**step("a"), "depends_on": "b"}]}), "depends_on must be a list"),
    ],
)
def test_malformed_plans_are_refused_with_a_reason(arguments, expected):
    assert expected in problems_of(arguments)


def test_deeply_nested_arguments_are_an_invalid_plan_not_a_crash():
    # Python's json recurses per nesting level; model output may nest past the recursion limit.
    assert "not valid JSON" in problems_of('{"objective": ' + "[" * 100_000)


@pytest.mark.parametrize("character", ["\x00", "\ud800"])
def test_plan_text_no_database_can_store_is_an_invalid_plan(character):
    arguments = plan(step("a", title=f"bad{character}title"))  # json.dumps writes it as a \u escape
    assert "\\u" in arguments
    assert "no database stores" in problems_of(arguments)


def test_dependency_waves_group_by_depth_in_plan_order_and_leave_a_cycle_out():
    waves, stuck = dependency_waves({"b": [], "a": [], "c": ["a", "b"], "d": ["c", "elsewhere"]})
    assert waves == [["b", "a"], ["c"], ["d"]]
    assert stuck == []

    # d waits on the cycle of e and f, so it is in no wave either.
    waves, stuck = dependency_waves({"a": [], "e": ["f"], "f": ["e"], "d": ["a", "e"]})
    assert waves == [["a"]]
    assert stuck == ["e", "f", "d"]
