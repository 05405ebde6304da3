"""Nothing internal leaves the gateway: not in a response, not in a log line."""

import io
import logging

import pytest
from django.test import Client

from accounts.tokens import issue_access_token
from core.logfilters import OneLineErrors


@pytest.fixture
def console(monkeypatch) -> io.StringIO:
    """What the gateway's configured console handler writes."""
    handler = next(h for h in logging.getLogger().handlers if any(isinstance(f, OneLineErrors) for f in h.filters))
    stream = io.StringIO()
    monkeypatch.setattr(handler, "stream", stream)
    return stream


def test_an_unexpected_error_is_a_plain_500_and_one_log_line(user, monkeypatch, console):
    async def explode(**kwargs):
        raise KeyError("sk-secret-from-inside")

    monkeypatch.setattr("chatapi.views.relay_completion", explode)
    token = issue_access_token(user)

    response = Client().get("/api", {"q": "hi"}, headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 500
    assert response.json() == {
        "statu": False,
        "message": "Something went wrong inside the gateway. Please try again later.",
    }
    logged = console.getvalue()
    assert "unhandled error in AskView [KeyError at test_no_leaks.py:" in logged
    assert "Traceback" not in logged
    assert "sk-secret-from-inside" not in logged


@pytest.mark.parametrize("with_traceback", [True, False])
def test_the_log_filter_turns_any_exception_into_its_type_and_place(with_traceback):
    try:
        raise ValueError("the upstream said: Incorrect API key provided: sk-abc")
    except ValueError as error:
        if not with_traceback:
            error.__traceback__ = None
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), (ValueError, error, None))

    OneLineErrors().filter(record)

    assert record.exc_info is None
    assert record.getMessage().startswith("failed [ValueError")
    assert "sk-abc" not in logging.Formatter().format(record)
