"""What goes upstream with a message: the system prompt, as much history as the context budget holds
(the oldest messages out first), and the new message, as the development upstream received them."""

from __future__ import annotations

from conversations.tests.helpers import conversation
from relay.estimates import estimate_prompt_tokens

# Each of these is 40 ASCII characters: 10 tokens, 14 with a message's overhead.
OLD = [
    ("user", "q1".ljust(40, ".")),
    ("assistant", "a1".ljust(40, ".")),
    ("user", "q2".ljust(40, ".")),
    ("assistant", "a2".ljust(40, ".")),
    ("user", "q3".ljust(40, ".")),
    ("assistant", "a3".ljust(40, ".")),
]
NEW = "q4".ljust(40, ".")


def sent(api, dev_upstream, chat, content: str = NEW) -> list[dict[str, str]]:
    response = api.post(f"/api/conversations/{chat.pk}/messages/", {"content": content}, format="json")
    assert response.status_code == 201
    return dev_upstream.received[-1]["body"]["messages"]


def test_the_whole_history_goes_when_it_fits(api, user, settings, dev_upstream):
    settings.CHATGATEWAY_CONVERSATION_CONTEXT_TOKENS = 7 * 14
    chat = conversation(user, messages=OLD)

    assert [m["content"][:2] for m in sent(api, dev_upstream, chat)] == ["q1", "a1", "q2", "a2", "q3", "a3", "q4"]


def test_the_oldest_messages_are_left_out_first(api, user, settings, dev_upstream):
    settings.CHATGATEWAY_CONVERSATION_CONTEXT_TOKENS = 5 * 14
    chat = conversation(user, messages=OLD)

    messages = sent(api, dev_upstream, chat)

    assert [m["content"][:2] for m in messages] == ["q2", "a2", "q3", "a3", "q4"]
    assert estimate_prompt_tokens(messages) <= 5 * 14


def test_the_history_never_starts_with_a_reply_whose_question_was_left_out(api, user, settings, dev_upstream):
    settings.CHATGATEWAY_CONVERSATION_CONTEXT_TOKENS = 6 * 14  # room for a1, but not for q1 before it
    chat = conversation(user, messages=OLD)

    assert [m["content"][:2] for m in sent(api, dev_upstream, chat)] == ["q2", "a2", "q3", "a3", "q4"]


def test_the_system_prompt_is_always_kept_and_counts_towards_the_budget(api, user, settings, dev_upstream):
    settings.CHATGATEWAY_CONVERSATION_CONTEXT_TOKENS = 5 * 14
    chat = conversation(user, system_prompt="S".ljust(40, "."), messages=OLD)

    messages = sent(api, dev_upstream, chat)

    assert messages[0] == {"role": "system", "content": "S".ljust(40, ".")}
    assert [m["content"][:2] for m in messages[1:]] == ["q3", "a3", "q4"]


def test_the_new_message_alone_is_sent_when_nothing_else_fits(api, user, settings, dev_upstream):
    settings.CHATGATEWAY_CONVERSATION_CONTEXT_TOKENS = 14
    chat = conversation(user, messages=OLD)

    assert sent(api, dev_upstream, chat) == [{"role": "user", "content": NEW}]


def test_no_more_messages_than_the_message_limit_are_sent(api, user, settings, dev_upstream):
    settings.CHATGATEWAY_MAX_MESSAGES = 4
    chat = conversation(user, system_prompt="Be brief.", messages=OLD)

    messages = sent(api, dev_upstream, chat)

    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert [m["content"][:2] for m in messages[1:]] == ["q3", "a3", "q4"]


def test_the_budget_counts_chinese_text_as_a_token_a_character(api, user, settings, dev_upstream):
    chat = conversation(user, messages=[("user", "你" * 11)])  # 11 + 4 tokens; as ASCII it would be 3 + 4

    settings.CHATGATEWAY_CONVERSATION_CONTEXT_TOKENS = 14 + 14
    assert sent(api, dev_upstream, chat) == [{"role": "user", "content": NEW}]
    chat.messages.exclude(content="你" * 11).delete()
    settings.CHATGATEWAY_CONVERSATION_CONTEXT_TOKENS = 14 + 15
    assert [m["content"] for m in sent(api, dev_upstream, chat)] == ["你" * 11, NEW]
