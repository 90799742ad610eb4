"""Shared models of the project package."""

from django.db import models


class DocumentSequence(models.Model):
    """One counter per prefix; rows are locked while a number is taken.

    The counter moves inside the caller's transaction: if the document is rolled
    back, so is its number, which therefore never names two committed documents.
    """

    prefix = models.CharField(max_length=8, unique=True)
    last_value = models.PositiveBigIntegerField(default=0)

    class Meta:
        app_label = "backoffice"

    def __str__(self) -> str:
        return f"{self.prefix}-{self.last_value:06d}"
