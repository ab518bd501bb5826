"""What the engine stores: runs, agents, plans, steps, executions, LLM conversations, events, memories.

One module per table family; every model is importable from ``agents.models``.
"""

from agents.models.agents import Agent, AgentMessage
from agents.models.approvals import Approval
from agents.models.events import RunEvent
from agents.models.fields import COST_DIGITS, COST_PLACES, cost_field, cost_known_field
from agents.models.memories import Memory
from agents.models.plans import Execution, Plan, PlanStep, PlanStepDependency
from agents.models.runs import Run
from agents.models.workers import WorkerProcess

__all__ = [
    "COST_DIGITS",
    "COST_PLACES",
    "Agent",
    "AgentMessage",
    "Approval",
    "Execution",
    "Memory",
    "Plan",
    "PlanStep",
    "PlanStepDependency",
    "Run",
    "RunEvent",
    "WorkerProcess",
    "cost_field",
    "cost_known_field",
]
