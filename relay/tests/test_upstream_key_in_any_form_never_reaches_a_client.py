"""An upstream's refusal (400/422) reaches the client with its reason, and a provider may quote the key
it was given there: masked as OpenAI writes it, in another case, split by an invisible character, in
full-width letters. No form of the key gets through (relay/upstream/redact.py)."""

from __future__ import annotations

import secrets
import string
import unicodedata

import openai
import pytest

from accounts.tokens import issue_access_token
from devtools.devupstream import DevUpstream, key_as
from relay.upstream.redact import redact_keys

KEY = "sk-proj-" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(48))
FORMS = ["exact", "upper", "lower", "masked", "ellipsis", "zerowidth", "fullwidth"]


def _gives_away(text: str, key: str) -> bool:
    """Whether `text`, read as a person or a program might normalise it, holds 8 characters of `key`
    in a row, or its last four after a mask."""
    seen = unicodedata.normalize("NFKC", text).replace("\u200b", "").lower()
    key = key.lower()
    return any(key[i : i + 8] in seen for i in range(len(key) - 7)) or key[-4:] in seen


@pytest.mark.parametrize("form", FORMS)
def test_no_form_of_the_key_survives_redaction(form):
    quoted = f"Refused (key {key_as(KEY, form)}), see the docs."

    assert _gives_away(quoted, KEY)  # the form does hold the key
    redacted = redact_keys(quoted, [KEY])
    assert not _gives_away(redacted, KEY)
    assert redacted.startswith("Refused (key [redacted]")
    assert redacted.endswith("see the docs.")


def test_text_without_the_key_is_left_as_it_was():
    text = "max_tokens is too large: 9000. This model supports at most 4096 completion tokens."

    assert redact_keys(text, [KEY]) == text


@pytest.fixture
def upstream_with_a_real_looking_key(settings):
    upstream = DevUpstream(key=KEY).start()
    settings.OPENAI_BASE_URL = upstream.url
    settings.OPENAI_API_KEY = KEY
    yield upstream
    upstream.stop()


@pytest.mark.parametrize("form", FORMS)
def test_an_upstream_refusal_quoting_the_key_reaches_the_client_without_it(
    gateway, user, upstream_with_a_real_looking_key, form
):
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=issue_access_token(user), max_retries=0)

    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": f"Hi [dev:leak={form}]"}]
        )

    message = refused.value.body["message"]
    assert "This request was refused (key [redacted])" in message
    assert not _gives_away(refused.value.response.text, KEY)


SECOND_KEY = "sk-" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(48))


@pytest.mark.parametrize("form", FORMS)
def test_a_second_providers_refusal_quoting_its_key_reaches_the_client_without_it(
    gateway, user, routes, upstreams, form
):
    """Every key of the catalog is redacted, not only OPENAI_API_KEY: here the second provider's, whose
    deployment answers after the first one failed."""
    failing, refusing = upstreams(fault="[dev:status=503]"), upstreams(key=SECOND_KEY)
    first = routes.provider("first", failing)
    second = routes.provider("second", refusing, keys=(SECOND_KEY,))
    routes.model("smart", (first, "model-one", 1), (second, "model-two", 2))
    routes.load()
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=issue_access_token(user), max_retries=0)

    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="smart", messages=[{"role": "user", "content": f"Hi [dev:leak={form}]"}])

    assert "This request was refused (key [redacted])" in refused.value.body["message"]
    assert not _gives_away(refused.value.response.text, SECOND_KEY)
