"""With CHATGATEWAY_STORE_TEXT on, a prompt holding a NUL character (valid JSON, and allowed in `?q=`) is
recorded, without the NUL: PostgreSQL's text can't hold one, and the record used to be lost."""

from __future__ import annotations

from relay.models import UsageRecord


def test_a_prompt_with_a_null_character_is_recorded_with_its_text(api, settings):
    settings.CHATGATEWAY_STORE_TEXT = True

    response = api.get("/api", {"q": "a\x00b"})

    assert response.status_code == 200
    record = UsageRecord.objects.get()
    assert record.prompt_text == "ab"
    assert "\x00" not in record.completion_text
    assert record.completion_text.endswith("ab")
