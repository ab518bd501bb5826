"""Run one message end to end in the terminal and show its progress as it happens.

    python manage.py chat "compare tea and coffee for a morning routine"
    python manage.py chat --user alice --session <uuid> "and which is cheaper?"

The message goes through the same admission as the web (validation, rate,
token budget) and the run is executed like any other: by this process's
thread runner (with leases, heartbeat and budget settlement), or by the
Celery workers when ``AGENT_RUNNER=celery``. The command follows it by
reading its stored events, as a stream client would.
"""

import json
import time

from django.core.management.base import BaseCommand, CommandError

from agents.exceptions import DomainError
from agents.http.serializers import stream_request
from agents.models import Run
from agents.runs import selectors
from agents.runs.services import accounts
from agents.runtime import admission, runners, worker

POLL_SECONDS = 0.05


class Command(BaseCommand):
    help = "Send one message as a user and watch the planner and its executors answer it."

    def add_arguments(self, parser):
        parser.add_argument("message", help="The message to send.")
        parser.add_argument("--user", default="demo", help="Username to act as (created if missing). Default: demo.")
        parser.add_argument("--session", default=None, help="Continue this session id instead of starting one.")
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="Print each event as a line of JSON instead."
        )

    def handle(self, *args, message, user, session, as_json: bool, **options):
        account = accounts.command_user_get_or_create(username=user)
        try:
            fields = stream_request({"message": message, "session_id": session})
            run, _ = admission.run_accept(user=account, **fields)
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from None

        printer = EventPrinter(self.stdout, self.style, as_json=as_json)
        last_seq = 0
        try:
            while True:
                batch = selectors.run_events_after(run_id=run.pk, after_seq=last_seq)
                for event in batch:
                    printer.show(event.data)
                    last_seq = event.seq
                if batch and batch[-1].type == "done":
                    break
                time.sleep(POLL_SECONDS)
        finally:
            runner = runners.get_runner()
            if isinstance(runner, runners.ThreadRunner):
                runner.wait_idle(timeout=10)
            worker.stop_maintenance()
        run.refresh_from_db()
        self.stdout.write(f"\nrun {run.pk}  session {run.session_id}  status {run.status}")
        if run.status != Run.Status.COMPLETED:
            raise CommandError(f"the run ended {run.status}: {run.error_message or 'see the events above'}")


class EventPrinter:
    """Render run events as terminal lines; text deltas stream inline."""

    def __init__(self, stdout, style, *, as_json: bool):
        self.stdout = stdout
        self.style = style
        self.as_json = as_json
        self.in_text = False
        self.step_titles: dict[str, str] = {}

    def line(self, text: str) -> None:
        if self.in_text:
            self.stdout.write("")
            self.in_text = False
        self.stdout.write(text)

    def show(self, event: dict) -> None:
        if self.as_json:
            self.stdout.write(json.dumps(event))
            return
        kind = event["type"]
        handler = getattr(self, f"on_{kind}", None)
        if handler is not None:
            handler(event)

    def on_analysis(self, event):
        self.line(self.style.MIGRATE_HEADING(f"route: {event['strategy']}") + f"  ({event['reason']})")

    def on_plan_created(self, event):
        plan = event["plan"]
        self.line(self.style.MIGRATE_HEADING(f"plan: {plan['objective']}"))
        keys = {step["id"]: step["key"] for step in plan["steps"]}
        for step in plan["steps"]:
            self.step_titles[step["id"]] = step["title"]
            after = ", ".join(keys[dep] for dep in step["depends_on"])
            self.line(f"  [ ] {step['key']}: {step['title']}" + (f"  (after {after})" if after else ""))

    def on_step_start(self, event):
        self.line(f"  [~] {event['step']['title']} ... running")

    def on_executor_spawned(self, event):
        self.line(f"      executor {event['executor_id'][:8]} on: {event['task']['title']}")

    def on_tool_call(self, event):
        arguments = json.dumps(event["arguments"]) if not isinstance(event["arguments"], str) else event["arguments"]
        self.line(f"      -> {event['agent_kind']} calls {event['tool']}({arguments})")

    def on_tool_result(self, event):
        if event["ok"]:
            self.line(f"      <- {event['tool']}: {json.dumps(event['result'])[:200]}  [{event['duration_ms']} ms]")
        else:
            self.line(self.style.WARNING(f"      <- {event['tool']} refused: {event['error']['code']}"))

    def on_executor_result(self, event):
        usage = event["usage"]
        self.line(f"      executor {event['executor_id'][:8]} {event['status']} ({usage['total_tokens']} tokens)")

    def on_step_complete(self, event):
        step = event["step"]
        mark = {"completed": "x", "failed": "!", "skipped": "-", "cancelled": "/"}.get(step["status"], "?")
        title = self.step_titles.get(step["id"], step.get("key", ""))
        self.line(f"  [{mark}] {title}: {step['status']}")
        if step["result"]:
            self.line(f"      {step['result'][:300]}")

    def on_retry(self, event):
        self.line(self.style.WARNING(f"  retry {event['attempt']} after {event['code']} ({event['delay_ms']} ms)"))

    def on_text(self, event):
        if not self.in_text:
            self.stdout.write(self.style.MIGRATE_HEADING("answer:"))
            self.in_text = True
        self.stdout.write(event["delta"], ending="")
        self.stdout.flush()

    def on_error(self, event):
        self.line(self.style.ERROR(f"error {event['code']}: {event['message']}"))

    def on_done(self, event):
        usage = event["usage"]
        self.line(
            self.style.SUCCESS(f"done: {event['status']}")
            + f"  {usage['total_tokens']} tokens in {usage['llm_calls']} LLM calls, {event['duration_ms']} ms"
        )
