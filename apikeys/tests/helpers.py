"""Small helpers for the API key tests."""

from __future__ import annotations

import re

from django.http import HttpResponse
from django.test import Client

RAW_KEY = re.compile(r"sk-[A-Za-z0-9]{48}")


def quota_with(raw_key: str, client: Client | None = None, scheme: str = "Bearer") -> HttpResponse:
    """GET /api/quota/ (which needs authentication) sending `raw_key` as the bearer credential."""
    return (client or Client()).get("/api/quota/", headers={"Authorization": f"{scheme} {raw_key}"})
