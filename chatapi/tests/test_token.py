import datetime as dt

import jwt
import pytest
from django.test import Client
from django.utils import timezone

from conftest import PASSWORD


@pytest.fixture
def client() -> Client:
    return Client()


def test_it_gives_a_30_day_token_in_the_original_envelope(client, user):
    response = client.post("/token", {"u": "ada", "p": PASSWORD}, content_type="application/json")

    assert response.status_code == 201
    body = response.json()
    assert body["statu"] is True
    assert body["message"]["username"] == "ada"
    claims = jwt.decode(body["message"]["token"], options={"verify_signature": False})
    assert claims["user_id"] == str(user.pk)
    expires = dt.datetime.strptime(body["message"]["expiration_time"], "%Y-%m-%d %H:%M:%S")  # noqa: DTZ007
    expected = timezone.localtime() + dt.timedelta(days=30)
    assert abs(timezone.make_aware(expires) - expected) < dt.timedelta(minutes=1)


def test_it_gives_the_expiration_time_in_the_configured_time_zone(client, user, settings):
    settings.TIME_ZONE = "Asia/Shanghai"

    body = client.post("/token", {"u": "ada", "p": PASSWORD}, content_type="application/json").json()

    claims = jwt.decode(body["message"]["token"], options={"verify_signature": False})
    expires = dt.datetime.fromtimestamp(claims["exp"], tz=dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert body["message"]["expiration_time"] == expires.strftime("%Y-%m-%d %H:%M:%S")


def test_it_accepts_a_form_encoded_body_too(client, user):
    response = client.post("/token", {"u": "ada", "p": PASSWORD})

    assert response.status_code == 201


@pytest.mark.parametrize(("username", "password"), [("ada", "wrong"), ("nobody", PASSWORD), ("ADA", PASSWORD)])
def test_it_refuses_a_wrong_username_or_password(client, user, username, password):
    response = client.post("/token", {"u": username, "p": password}, content_type="application/json")

    assert response.status_code == 401
    assert response.json() == {"statu": False, "message": "Invalid username or password"}


def test_it_refuses_an_inactive_user_like_a_wrong_password(client, make_user):
    make_user("ada", is_active=False)

    response = client.post("/token", {"u": "ada", "p": PASSWORD}, content_type="application/json")

    assert response.status_code == 401
    assert response.json()["message"] == "Invalid username or password"


@pytest.mark.parametrize(
    "body",
    [{}, {"u": "ada"}, {"p": PASSWORD}, {"u": "", "p": ""}, {"u": 1, "p": 2}, {"username": "ada", "password": "x"}],
)
def test_it_refuses_missing_fields_with_400(client, user, body):
    response = client.post("/token", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["statu"] is False
    assert '"u"' in response.json()["message"]


@pytest.mark.parametrize(
    ("data", "content_type"),
    [("{not json", "application/json"), ("u=ada&p=", "text/plain"), ('["u", "p"]', "application/json")],
)
def test_it_refuses_a_body_that_is_not_a_json_object_with_400(client, user, data, content_type):
    response = client.post("/token", data, content_type=content_type)

    assert response.status_code == 400
    body = response.json()
    assert body["statu"] is False
    assert body["message"]
    assert "Traceback" not in body["message"]


def test_it_does_not_need_a_csrf_token(user):
    client = Client(enforce_csrf_checks=True)

    response = client.post("/token", {"u": "ada", "p": PASSWORD}, content_type="application/json")

    assert response.status_code == 201


def test_it_refuses_a_null_character_in_the_username_with_400(client, user):
    # On PostgreSQL looking the name up failed with a 500 (found probing what the schema fuzz sends).
    response = client.post("/token", {"u": "ada\x00", "p": PASSWORD}, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"statu": False, "message": "Null characters are not allowed in a username or password."}
