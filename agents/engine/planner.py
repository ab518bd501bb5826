"""The planner: routes a message, uses tools, plans, schedules executors, synthesises.

``drive_run(run)`` is the engine's entry point, called by the runtime with a
run it has claimed. It takes the run to its end in the calling thread:
``session`` is its first event and ``done`` its last, exactly once. A run
that was claimed again after its owner was lost or drained (``attempt`` > 1)
resumes instead of starting over, because the stored run is the checkpoint:

- a ``resumed`` event tells clients, with ``answer_reset`` when answer text of
  the earlier attempt was already streamed (it is streamed again);
- with a plan stored, routing is skipped: completed steps keep their results
  and are not run again; steps of executions that were cut (marked
  ``interrupted`` by the claim) run again; then synthesis;
- without one, the planner's stored conversation is read back: a tool call
  whose result is stored is not called again, a finished answer is sent again
  without a model call, and the tool loop goes on from where it stopped.

The work is split by phase: ``routing`` (the first call and the tool loop),
``scheduling`` (a plan's steps in executor threads) and ``synthesis`` (the
answer after a plan); this module holds the run's lifecycle around them.

When the runtime asks for the run back (draining), or the lease was lost,
``drive_run`` raises RunReleased or RunGone and writes nothing more.
"""

import logging
from collections.abc import Callable

from django.conf import settings

from agents import events
from agents.engine.cancel import CancelWatch
from agents.engine.conversation import Conversation
from agents.engine.routing import Routing
from agents.engine.scheduling import Scheduling
from agents.engine.synthesis import Synthesis
from agents.engine.text import TextStream
from agents.events import catalogue
from agents.exceptions import LLMError, RunCancelled, RunGone, RunLimitExceeded
from agents.models import Agent, Run
from agents.runs import selectors, services
from agents.tools import ToolContext

logger = logging.getLogger(__name__)


def drive_run(run: Run, *, should_release: Callable[[], bool] | None = None) -> None:
    """Take a claimed run to its end (or resume it); raises RunGone or RunReleased when it must stop writing."""
    RunExecution(run, should_release=should_release).execute()


class RunExecution(Routing, Scheduling, Synthesis):
    """The planner's work on one run, for one attempt."""

    def __init__(self, run: Run, *, should_release: Callable[[], bool] | None = None):
        self.run = run
        self.cancel = CancelWatch(run, should_release=should_release)
        self.route = run.route
        self.plan_settled = False  # every step of the plan ended
        self.planner: Agent | None = None
        self.answer: TextStream | None = None

    # --- lifecycle --------------------------------------------------------

    def execute(self) -> None:
        run = self.run
        status, error_code, error_message, error_detail = Run.Status.COMPLETED, "", "", ""
        try:
            self.begin()
            self.cancel.check()
            earlier = selectors.run_planner(run=run) if run.attempt > 1 else None
            self.planner = earlier or services.agent_create(
                run=run, role=Agent.Role.PLANNER, model=settings.PLANNER_MODEL
            )
            self.answer = TextStream(run, self.planner)
            plan = selectors.run_plan(run=run) if run.attempt > 1 else None
            if plan is not None:
                self.run_plan(plan, resumed=True)
            else:
                self.plan_or_answer()
        except RunGone:
            raise
        except RunCancelled:
            status = Run.Status.CANCELLED
        except LLMError as exc:
            status, error_code, error_message = Run.Status.FAILED, exc.code, exc.for_user(run_id=run.pk)
            error_detail = getattr(exc, "detail", "") or ""
        except RunLimitExceeded as exc:
            status, error_code, error_message = Run.Status.FAILED, exc.code, exc.message
        except Exception as exc:
            if selectors.run_deleted(run_id=run.pk):
                raise RunGone() from None  # a write raced the deletion of the run
            logger.exception("Run %s failed", run.pk)
            status, error_code, error_message = Run.Status.FAILED, "internal_error", "The run failed unexpectedly."
            error_detail = f"{exc.__class__.__name__}"
        self.finish(status=status, error_code=error_code, error_message=error_message, error_detail=error_detail)

    def begin(self) -> None:
        """Emit the run's first event, or, for a later attempt, say that the run resumes."""
        run = self.run
        if run.last_event_seq == 0:
            session = run.session
            events.emit(run, services.session_event(session))  # a claimed run's claim stored it
        elif run.attempt > 1:
            events.emit(
                run,
                catalogue.ResumedEvent(
                    attempt=run.attempt,
                    reason=run.resume_reason or "worker_lost",
                    answer_reset=selectors.run_streamed_answer(run_id=run.pk),
                ),
            )

    def finish(self, *, status: str, error_code: str, error_message: str, error_detail: str = "") -> None:
        """Store the answer and the final status, with `error` (if any) and `done` last, in one transaction."""
        run = self.run
        if self.cancel.gone:
            raise RunGone()
        answer, preceding = "", []
        if self.answer is not None:
            # The answer's last piece goes out with `done`, in the transaction that ends the run.
            preceding = self.answer.take()
            answer = self.answer.text
        try:
            finished = services.run_finish(
                run=run,
                status=status,
                answer=answer,
                preceding=preceding,
                error_code=error_code,
                error_message=error_message,
                error_detail=error_detail,
                fenced=True,
                # Every step of a settled plan ended (and stored so): nothing is left open to close.
                close_open_work=self.route == Run.Route.COMPLEX and not self.plan_settled,
            )
        except Exception as exc:
            # The run must still end with `done`; left active, it would wait for the sweeper.
            if selectors.run_deleted(run_id=run.pk):
                raise RunGone() from None
            logger.exception("Run %s: the answer could not be stored", run.pk)
            finished = services.run_finish(
                run=run,
                status=Run.Status.FAILED,
                error_code="internal_error",
                error_message="The answer could not be stored.",
                error_detail=exc.__class__.__name__,
                fenced=True,
            )
        if not finished:
            logger.warning("Run %s was finished or taken over by someone else; no second done", run.pk)

    def announce(self, route: str, reason: str) -> None:
        """Record and emit the route once it is known (again only if it changes).

        The route is stored by its event's batch, which goes out with what the route
        announces, at once: the answer's first text, the tool call, the plan (or `done`).
        """
        if route == self.route:
            return
        self.route = route
        events.emit(
            self.run,
            catalogue.AnalysisEvent(strategy=route, reason=reason),
            run_update={"route": route, "route_reason": reason},
            later=True,
        )
        self.run.route, self.run.route_reason = route, reason

    def on_answer_text(self, delta: str) -> None:
        if not self.route:
            self.announce(Run.Route.SIMPLE, "The planner answered directly.")
        self.answer(delta)

    def planner_conversation(self) -> Conversation:
        run, planner = self.run, self.planner
        return Conversation(
            run=run,
            agent=planner,
            cancel=self.cancel,
            tool_context=ToolContext(user=run.user, run=run, session=run.session, agent=planner),
        )
