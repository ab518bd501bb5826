"""The stored events of a run's stream."""

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q

from agents.models.runs import Run


class RunEvent(models.Model):
    """One event of a run's stream, stored before it is sent; ``seq`` is 1, 2, 3… per run."""

    id = models.BigAutoField(primary_key=True)
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    type = models.CharField(max_length=32)
    data = models.JSONField(
        encoder=DjangoJSONEncoder, help_text="The whole event as sent, type/run_id/seq/ts included."
    )
    frame = models.TextField(
        blank=True,
        default="",
        help_text="The event as one line of JSON, exactly as streams send it (replays send it as stored).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["run", "seq"], name="runevent_unique_seq"),
            models.CheckConstraint(condition=Q(seq__gte=1), name="runevent_seq_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.seq} {self.type}"
