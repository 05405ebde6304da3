"""Domain errors of conversations; core.errors turns them into HTTP responses."""

from __future__ import annotations

from django.utils.translation import gettext

from core.errors import ApplicationError


class TooManyConversations(ApplicationError):
    """The user already keeps CHATGATEWAY_MAX_CONVERSATIONS_PER_USER conversations: a 400."""

    code = "too_many_conversations"

    def __init__(self, *, limit: int) -> None:
        self.message = gettext(
            "You already keep {limit} conversations, the most allowed. Delete one you no longer need first."
        ).format(limit=f"{limit:,}")
        super().__init__(self.message)


class SystemPromptsTooLarge(ApplicationError):
    """The user's system prompts would pass CHATGATEWAY_MAX_SYSTEM_PROMPT_CHARS_PER_USER: a 400."""

    code = "system_prompts_too_large"

    def __init__(self, *, limit: int) -> None:
        self.message = gettext(
            "Your conversations' system prompts would hold more than {limit} characters, the most allowed. "
            "Shorten this one, or delete conversations you no longer need."
        ).format(limit=f"{limit:,}")
        super().__init__(self.message)


class StartingConversationsTooFast(ApplicationError):
    """More than CHATGATEWAY_CONVERSATIONS_PER_MINUTE conversations started in the last minute: a 429."""

    status = 429
    code = "conversations_too_fast"

    def __init__(self, *, limit: int, retry_after: int) -> None:
        self.retry_after = retry_after
        self.message = gettext("You may start {limit} conversations a minute.").format(limit=limit)
        super().__init__(self.message)
