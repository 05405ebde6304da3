"""A URL no route takes is a 404 in JSON on the APIs (found by the schema fuzz: `/api/keys/null/` was an
HTML page), and still Django's HTML page elsewhere."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/keys/null,null/", "/api/keys/1/extra/", "/api/no-such-thing/"])
def test_a_rest_api_url_no_route_takes_is_a_json_404(client, path):
    response = client.delete(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found: no endpoint has this URL."}


def test_other_urls_no_route_takes_keep_the_html_page(client):
    response = client.get("/no-such-page")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
