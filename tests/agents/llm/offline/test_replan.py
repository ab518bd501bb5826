"""The offline model shows replanning and thinking without a key: a live-data step stalls, the plan is revised."""

import pytest

from agents.llm.offline.replan import needs_live_data
from agents.llm.offline.respond import respond
from agents.models import Execution, Plan, Run, RunEvent
from agents.runs import services
from agents.runtime.worker import execute_run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def offline(settings):
    settings.LLM_PROVIDER = "offline"
    settings.OFFLINE_MODEL_DELAY = 0


def test_a_step_that_needs_live_data_stalls_and_the_plan_is_revised(user, settings):
    settings.AGENT_MAX_ITERATIONS = 3
    run, _ = services.run_create(user=user, message="Compare the latest prices of tea and coffee")
    execute_run(run.pk)
    run.refresh_from_db()
    events = [event.data for event in RunEvent.objects.filter(run=run).order_by("seq")]
    kinds = [event["type"] for event in events]

    assert run.status == Run.Status.COMPLETED
    # The live-data step searched in vain until its iterations ran out: it stalled.
    stalled = Execution.objects.get(run=run, step__key="x")
    assert stalled.status == "failed" and stalled.llm_calls == 3
    [revised] = [event for event in events if event["type"] == "plan_revised"]
    assert "stalled" in revised["reason"]
    steps = {step["key"]: step for step in revised["plan"]["steps"]}
    assert set(steps) == {"y", "x_general", "recommend_again"}
    assert steps["y"]["status"] == "completed" and steps["y"]["result"]
    assert set(steps["recommend_again"]["depends_on"]) == {steps["x_general"]["id"], steps["y"]["id"]}
    assert "latest" not in steps["x_general"]["title"] + steps["recommend_again"]["title"]
    # Completed steps ran once; the revision's steps ran and the answer was written from them.
    executed = sorted(Execution.objects.filter(run=run).values_list("step__key", flat=True))
    assert executed == ["recommend_again", "x", "x_general", "y"], "the skipped recommend ran only in the revision"
    assert Plan.objects.filter(run=run).count() == 2
    assert dict(run.plan.steps.values_list("key", "status")) == {
        "y": "completed",
        "x_general": "completed",
        "recommend_again": "completed",
    }
    # The stalled executor's words are its thinking, not the answer.
    thinking = "".join(e["delta"] for e in events if e["type"] == "thinking" and e["agent_kind"] == "executor")
    assert "live data" in thinking
    answer = "".join(e["delta"] for e in events if e["type"] == "text")
    assert answer == run.assistant_message.content and "live data" not in answer
    assert kinds.index("plan_revised") < len(kinds) - 1
    assert "coffee" in answer and "prices of tea" in answer


def test_the_offline_planner_declines_when_only_outlines_failed():
    request = {
        "messages": [
            {"role": "system", "content": "s"},
            {
                "role": "user",
                "content": "User request: q\nPlan objective: o\nStep results:\n"
                "- a_general (Research tea) [failed]: no\nRevisions left after this one: 0.",
            },
        ],
        "tools": [{"type": "function", "function": {"name": "revise_plan", "parameters": {}}}],
    }
    reply = respond(request)
    assert reply.text.startswith("Nothing better can be tried offline")


@pytest.mark.parametrize(
    ("task", "live"),
    [
        ("Step: Research the latest prices of tea\nInstructions: Assess them.", True),
        ("Step: Look up tea news online\nInstructions: Find it.", True),
        ("Step: Research Python\nInstructions: Assess Python for web servers.", False),
        ("Step: Recommend between the latest prices of tea and coffee\nInstructions: Weigh.", False),
    ],
)
def test_which_steps_need_live_data(task, live):
    assert needs_live_data(task) is live
