"""The page's scripts and styles, the vendored libraries among them, are served by the gateway itself."""

from __future__ import annotations

import pytest
import requests


@pytest.mark.parametrize(
    ("path", "starts"),
    [
        ("/static/web/vendor/marked/marked.umd.js", b"/**\n * marked v18.2.1"),
        ("/static/web/vendor/dompurify/purify.min.js", b"/*! @license DOMPurify 3.4.18"),
        ("/static/web/chat.js", b'"use strict";'),
        ("/static/web/chat.css", b"/* The chat page"),
    ],
)
def test_it_serves_the_pages_files(gateway, path, starts):
    response = requests.get(gateway.url + path, timeout=5)

    assert response.status_code == 200
    assert response.content.startswith(starts)


def test_the_javascript_catalog_carries_the_pages_chinese(db, client):
    response = client.get("/jsi18n/", HTTP_ACCEPT_LANGUAGE="zh-CN")

    assert response.status_code == 200
    script = response.content.decode()
    assert '"Untitled conversation": "\\u672a\\u547d\\u540d\\u5bf9\\u8bdd"' in script  # 未命名对话
