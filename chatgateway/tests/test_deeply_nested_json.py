"""JSON nested deeper than CHATGATEWAY_MAX_JSON_DEPTH is refused where it is parsed, on every JSON
endpoint, with a 400 in that API's own shape, before it costs anything (issue 18, defect 8: a body of
1.1 KB nested ~500 deep was a 500 from a recursion in the /v1 prompt-size count)."""

from __future__ import annotations

import json

import requests

from accounts.tokens import issue_access_token
from conftest import used_today
from conversations.tests.helpers import conversation
from relay.models import UsageRecord

DEEP = 500  # inside the issue's 486 to 960: deep enough to break a recursion, small enough to parse


def nested(depth: int) -> str:
    """A JSON value `depth` levels deep: [[…["x"]…]]."""
    return "[" * depth + '"x"' + "]" * depth


def post(gateway, user, path: str, body: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {issue_access_token(user)}", "Content-Type": "application/json"}
    return requests.post(f"{gateway.url}{path}", data=body.encode(), headers=headers, timeout=20)


def in_a_message(depth: int) -> str:
    part = '{"type": "text", "text": "hi", "extra": ' + nested(depth) + "}"
    return '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": [' + part + "]}]}"


def in_tools(depth: int) -> str:
    """A chat request whose tool's parameters are `depth` deep: the body is `depth` + 4 deep."""
    tool = '{"type": "function", "function": {"name": "f", "parameters": ' + nested(depth) + "}}"
    return '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "tools": [' + tool + "]}"


def test_it_refuses_deeply_nested_json_in_a_message_or_in_tools_on_v1_with_openais_400(gateway, user):
    for body in (in_a_message(DEEP), in_tools(DEEP)):
        response = post(gateway, user, "/v1/chat/completions", body)

        assert response.status_code == 400
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error"
        assert error["code"] == "parse_error"
        assert "nested more than 64 levels deep" in error["message"]
    assert used_today(user) == 0
    assert not UsageRecord.objects.exists()


def test_it_refuses_deeply_nested_json_on_the_chat_api_with_400(gateway, user):
    body = '{"messages": [{"role": "user", "content": "hi", "x": ' + nested(DEEP) + "}]}"

    response = post(gateway, user, "/api/chat/", body)

    assert response.status_code == 400
    assert "nested more than 64 levels deep" in response.json()["detail"]
    assert used_today(user) == 0
    assert not UsageRecord.objects.exists()


def test_it_refuses_deeply_nested_json_on_a_conversations_messages_with_400(gateway, user):
    chat = conversation(user)
    body = '{"content": "hi", "x": ' + nested(DEEP) + "}"

    response = post(gateway, user, f"/api/conversations/{chat.pk}/messages/", body)

    assert response.status_code == 400
    assert "nested more than 64 levels deep" in response.json()["detail"]
    assert used_today(user) == 0
    assert not chat.messages.exists()


def test_it_refuses_deeply_nested_json_on_the_chatapi_token_in_its_envelope_with_400(gateway, user):
    for content_type in ("application/json", "text/plain"):  # /token reads JSON whatever the type
        response = requests.post(
            f"{gateway.url}/token",
            data='{"u": "ada", "p": ' + nested(DEEP) + "}",
            headers={"Content-Type": content_type},
            timeout=20,
        )

        assert response.status_code == 400
        assert response.json()["statu"] is False
        assert "nested more than 64 levels deep" in response.json()["message"]


def test_it_refuses_nesting_far_beyond_what_the_parser_could_recurse_with_the_same_message(gateway, user):
    response = post(gateway, user, "/v1/chat/completions", "[" * 100_000)

    assert response.status_code == 400
    assert "nested more than 64 levels deep" in response.json()["error"]["message"]


def test_it_serves_json_nested_exactly_to_the_limit_and_refuses_one_level_more(gateway, user):
    at_limit = post(gateway, user, "/v1/chat/completions", in_tools(64 - 4))
    over = post(gateway, user, "/v1/chat/completions", in_tools(64 - 4 + 1))

    assert at_limit.status_code == 200, at_limit.text
    assert over.status_code == 400
    assert used_today(user) == 1


def test_it_does_not_count_brackets_inside_strings_as_nesting(gateway, user):
    body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "[{" * 200}]})

    response = post(gateway, user, "/v1/chat/completions", body)

    assert response.status_code == 200, response.text


def test_it_takes_the_limit_from_the_setting(gateway, user, settings):
    settings.CHATGATEWAY_MAX_JSON_DEPTH = 2
    body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})  # 3 deep

    response = post(gateway, user, "/v1/chat/completions", body)

    assert response.status_code == 400
    assert "nested more than 2 levels deep" in response.json()["error"]["message"]
