"""Fields several of the engine's tables share: dollars and whether they are known."""

from django.db import models

# US dollars, to a ten-billionth (agents.llm.prices.COST_PLACES): a call of a few tokens still costs something.
COST_DIGITS, COST_PLACES = 20, 10


def cost_field(help_text: str) -> models.DecimalField:
    return models.DecimalField(max_digits=COST_DIGITS, decimal_places=COST_PLACES, default=0, help_text=help_text)


def cost_known_field() -> models.BooleanField:
    return models.BooleanField(
        default=True, help_text="False when a call's model has no known price (it was counted as 0)."
    )
