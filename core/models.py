from __future__ import annotations

from django.db import models


class AccessStamp(models.Model):
    """One row: a random number that every change to who may do what (users, API keys, teams and their
    members, limits, a user's plan) replaces, by database triggers, in the changing transaction. A process
    caches what it read of those while the stamp stays the same (core/access.py)."""

    stamp = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"access stamp {self.stamp}"
