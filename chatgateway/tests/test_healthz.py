import pytest
from django.db import OperationalError, connection
from django.test import Client

from accounts.tokens import issue_access_token


@pytest.fixture
def database_down(monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", refuse)


def test_it_is_ok_when_the_database_answers(db):
    response = Client().get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_it_is_503_when_the_database_does_not_answer(db, database_down):
    response = Client().get("/healthz")

    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


def test_the_api_answers_503_in_its_envelope_when_the_database_is_down(user, database_down):
    token = issue_access_token(user)

    response = Client().get("/api", {"q": "hi"}, headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 503
    assert response.json() == {
        "statu": False,
        "message": "The gateway's database is unavailable. Please try again shortly.",
    }
