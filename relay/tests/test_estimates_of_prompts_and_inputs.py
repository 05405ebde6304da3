"""The one estimate of every endpoint counts a legacy completion's prompts and suffix, embeddings' inputs,
token arrays (a token each), and a legacy completion's `choices[].text`."""

from __future__ import annotations

from relay.estimates import choice_text, estimate_request_tokens, prompt_chars


def test_it_counts_prompts_inputs_and_the_suffix():
    assert estimate_request_tokens({"model": "m", "prompt": ["abcd", "efgh"], "suffix": "ijkl"}) == 3
    assert estimate_request_tokens({"model": "m", "input": "abcdefgh"}) == 2


def test_it_counts_each_token_of_a_token_array_as_one():
    assert estimate_request_tokens({"input": [[1, 2, 3], [4, 5]]}) == 5
    assert estimate_request_tokens({"prompt": [1, 2, 3]}) == 3


def test_the_prompt_size_counts_a_token_as_four_characters():
    assert prompt_chars({"input": [[1, 2, 3]]}) == 12
    assert prompt_chars({"prompt": ["ab", "cde"]}) == 5


def test_the_model_name_is_not_prompt_text():
    assert estimate_request_tokens({"model": "a-very-long-model-name", "input": "abcd"}) == 1


def test_a_choice_is_read_whichever_endpoint_it_comes_from():
    assert choice_text({"index": 0, "text": "legacy"}) == "legacy"
    assert choice_text({"index": 0, "message": {"role": "assistant", "content": "chat"}}) == "chat"
    assert choice_text({"index": 0, "delta": {"content": "chunk"}}) == "chunk"
    assert choice_text({"index": 0, "delta": {}, "finish_reason": "stop"}) == ""
    assert choice_text("not a choice") == ""


def test_a_schema_whose_type_is_a_list_is_counted_not_a_crash():
    # JSON Schema allows `"type": ["string", "null"]`; Codex CLI's tools say so (a 500 on every request before).
    schema = {"type": "object", "properties": {"workdir": {"type": ["string", "null"], "description": "abcd"}}}
    tools = [{"type": "function", "name": "shell", "parameters": schema}]
    assert estimate_request_tokens({"input": "abcd", "tools": tools}) == estimate_request_tokens(
        {"input": "abcd", "tools": [{"type": "function", "name": "shell", "parameters": {"d": "abcd"}}]}
    )
