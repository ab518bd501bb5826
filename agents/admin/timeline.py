"""The events of runs: every run's timeline as its clients received it, in order."""

from typing import Any

from django.contrib import admin
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest
from django.utils.safestring import SafeString

from agents.models import RunEvent

from .history import HistoryAdmin, HistoryInline
from .rendering import elapsed_ms, event_data_html, event_summary, run_origin, text_stretch_html


class RunEventInline(HistoryInline):
    """The run's events in order; a stretch of consecutive ``text`` events is one row that unfolds to the text."""

    model = RunEvent
    fields = readonly_fields = ("seq", "type", "ts", "elapsed", "summary")
    ordering = ("seq",)
    verbose_name_plural = "event timeline"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Made per request (the admin builds its inlines for each), so this cache lives one page.
        self._text_stretches: dict[Any, dict[int, list[RunEvent]]] = {}

    # Each row's elapsed time counts from its run's start: load the run with the rows. A text event
    # right after another text event is folded into the row of the first one of its stretch.
    def get_queryset(self, request: HttpRequest) -> QuerySet[RunEvent]:
        follows_text = RunEvent.objects.filter(run=OuterRef("run"), seq=OuterRef("seq") - 1, type="text")
        return super().get_queryset(request).select_related("run").exclude(Q(type="text") & Q(Exists(follows_text)))

    def stretch(self, event: RunEvent) -> list[RunEvent]:
        """Return the text events of the stretch that starts at ``event`` (its whole run's read once)."""
        if event.run_id not in self._text_stretches:
            stretches: dict[int, list[RunEvent]] = {}
            current: list[RunEvent] | None = None
            previous_seq = None
            for text in RunEvent.objects.filter(run_id=event.run_id, type="text").order_by("seq"):
                if current is None or text.seq != previous_seq + 1:
                    current = stretches.setdefault(text.seq, [])
                current.append(text)
                previous_seq = text.seq
            self._text_stretches[event.run_id] = stretches
        return self._text_stretches[event.run_id].get(event.seq, [event])

    @admin.display(description="ts")
    def ts(self, event: RunEvent) -> str:
        return event.data.get("ts", "") if isinstance(event.data, dict) else ""

    @admin.display(description="Elapsed (ms)")
    def elapsed(self, event: RunEvent) -> int | None:
        return elapsed_ms(run_origin(event.run), event.created_at)

    @admin.display(description="Data")
    def summary(self, event: RunEvent) -> SafeString:
        return text_stretch_html(self.stretch(event)) if event.type == "text" else event_data_html(event)


@admin.register(RunEvent)
class RunEventAdmin(HistoryAdmin):
    list_display = ("run", "seq", "type", "summary", "created_at")
    list_filter = ("type",)
    list_select_related = ("run",)
    search_fields = ("type", "data", "run__id")
    ordering = ("-id",)
    fields = readonly_fields = ("run", "seq", "type", "created_at", "data")

    @admin.display(description="Data")
    def summary(self, event: RunEvent) -> str:
        return event_summary(event.data)
