"""The body size limit holds before the body is read, and chunked bodies are read, within it."""

from __future__ import annotations

import json
import socket

import requests

from accounts.tokens import issue_access_token


def _raw(port: int, head: bytes, body: bytes = b"") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(head + body)
        received = b""
        while chunk := client.recv(65536):
            received += chunk
            if b"\r\n\r\n" in received and b"}" in received:
                break
    return received


def test_a_declared_body_over_the_limit_is_refused_before_it_is_sent(gateway):
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 4000000000\r\n\r\n"
    )
    answer = _raw(gateway.port, head)  # not one byte of the 4 GB follows

    assert answer.startswith(b"HTTP/1.1 413")
    error = json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]
    assert error["code"] == "payload_too_large"


def test_a_chunked_body_within_the_limit_is_read(gateway, user):
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "chunked hello"}]}

    response = requests.post(
        f"{gateway.url}/v1/chat/completions",
        data=iter([json.dumps(body).encode()]),  # a generator: requests sends it chunked
        headers={"Authorization": f"Bearer {issue_access_token(user)}", "Content-Type": "application/json"},
        timeout=20,
    )

    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"].endswith("chunked hello")


def test_a_chunked_body_over_the_limit_is_refused_once_it_passes_it(gateway, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    response = requests.post(
        f"{gateway.url}/token", data=iter([b"x" * 3000, b"x" * 3000]), headers={"Content-Type": "application/json"},
        timeout=20,
    )  # fmt: skip

    assert response.status_code == 413
    assert response.json() == {"statu": False, "message": "The request body is too large; the limit is 4 KiB."}
