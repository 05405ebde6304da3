"""The gateway's HTTP API as the terminal client uses it: log in, refresh, conversations, streamed answers."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests

from chatcli.tokens import Credentials, TokenStore

CONNECT_TIMEOUT = 5
ACCEPT_LANGUAGE = {"zh": "zh-Hans"}
READ_TIMEOUT = 120  # longer than the gateway's own upstream timeout (60 s by default), so the gateway speaks first


@dataclass
class GatewayError(Exception):
    """Something the gateway (or the way to it) said no to. `kind` picks the message and the exit status.

    Kinds: auth (credentials), limit (a limit reached: a daily one, or one of the key's, the user's or the
    team's, named by `limit`), blocked (daily limit 0), down (unreachable or too slow), upstream
    (502/503/504), server (500 and other surprises), refused (any other 4xx), stream (an answer that broke
    off midway).
    """

    kind: str
    detail: str = ""
    status: int | None = None
    retry_after: int | None = None
    limit_kind: str = "requests"
    reason: str = ""  # for auth: wrong_password, session_expired, not_logged_in, refused
    limit: str = ""  # the limit that refused, as the gateway names it (x-chatgateway-limit): "team month cost"
    extra: dict[str, Any] = field(default_factory=dict)


def error_from_response(response: requests.Response) -> GatewayError:
    """The GatewayError for an error response of any of the gateway's APIs."""
    status = response.status_code
    detail = _detail(response)
    if status == 401:
        return GatewayError("auth", detail, status=status, reason="refused")
    limit = response.headers.get("x-chatgateway-limit", "")
    if limit and status in {403, 429}:  # a limit beyond the daily ones: the gateway's message names it
        return GatewayError(
            "limit", detail, status=status, retry_after=_int(response.headers.get("Retry-After")), limit=limit
        )
    if status == 403 and (detail == "" or "x-ratelimit-limit-requests" in response.headers):
        return GatewayError("blocked", detail, status=status)
    if status == 403:  # e.g. a model without a price under a cost limit
        return GatewayError("refused", detail, status=status)
    if status == 429:
        return GatewayError(
            "limit",
            detail,
            status=status,
            retry_after=_int(response.headers.get("Retry-After")),
            limit_kind="tokens" if response.headers.get("x-ratelimit-remaining-tokens") == "0" else "requests",
        )
    if status in {502, 503, 504}:
        return GatewayError("upstream", detail, status=status)
    if status >= 500:
        return GatewayError("server", detail, status=status)
    return GatewayError("refused", detail, status=status)


def _detail(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return ""
    return _first_message(data)


def _first_message(data: Any) -> str:
    """One sentence from DRF's {"detail"}, its {"field": ["..."]}, or OpenAI's {"error": {"message"}}."""
    if isinstance(data, dict):
        for key in ("detail", "message", "error"):
            if key in data:
                return _first_message(data[key])
        key, value = next(iter(data.items()), ("", ""))
        message = _first_message(value)
        return f"{key}: {message}" if key and key != "non_field_errors" else message
    if isinstance(data, list):
        return _first_message(data[0]) if data else ""
    return str(data)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class Gateway:
    """One server, with the caller's credentials: an API key, or a kept token pair refreshed when it expires.

    `relogin` is asked for a fresh login when the refresh token is refused too (None: the caller can't
    log in again without a person, and the request fails with an auth error).
    """

    def __init__(
        self,
        url: str,
        *,
        store: TokenStore,
        api_key: str | None = None,
        relogin: Callable[[Gateway], None] | None = None,
        language: str = "en",
    ) -> None:
        self.url = url.rstrip("/")
        self.store = store
        self.api_key = api_key
        self.relogin = relogin
        self.credentials = None if api_key else store.load()
        self.last_username = self.credentials.username if self.credentials else None
        self.http = requests.Session()
        # The gateway's own messages (a refusal by a limit names it, and when it resets) in the user's language.
        self.http.headers["Accept-Language"] = ACCEPT_LANGUAGE.get(language, language)

    # --- credentials ---------------------------------------------------------------------------------

    def login(self, *, username: str, password: str) -> None:
        """Exchange a username and password for a token pair, and keep it."""
        response = self._post_unauthenticated("/api/token/", {"username": username, "password": password})
        if response.status_code in {400, 401}:
            raise GatewayError("auth", _detail(response), status=response.status_code, reason="wrong_password")
        if response.status_code == 429:  # a gateway that throttles failed logins
            wait = _int(response.headers.get("Retry-After"))
            raise GatewayError("auth", _detail(response), status=429, retry_after=wait, reason="login_throttled")
        tokens = self._tokens(response)
        self.credentials = Credentials(username=username, access=tokens["access"], refresh=tokens.get("refresh", ""))
        self.store.save(self.credentials)

    def check(self) -> dict[str, Any]:
        """Prove the credentials (refreshing them, or logging in, if needed): the quota."""
        return self.get("/api/quota/")

    def logout(self) -> None:
        self.credentials = None
        self.store.clear()

    def _refresh(self) -> bool:
        """A new access token from the refresh token; False when there is none or it is refused too."""
        if not self.credentials or not self.credentials.refresh:
            return False
        response = self._post_unauthenticated("/api/token/refresh/", {"refresh": self.credentials.refresh})
        if response.status_code in {400, 401, 429}:
            return False
        tokens = self._tokens(response)
        self.credentials.access = tokens["access"]
        self.credentials.refresh = tokens.get("refresh", self.credentials.refresh)  # if the server rotates them
        self.store.save(self.credentials)
        return True

    def _post_unauthenticated(self, path: str, body: dict[str, str]) -> requests.Response:
        """POST to a token endpoint; the response if it is a success or a refusal of the credentials."""
        response = self._call("POST", path, json=body)
        if response.status_code >= 400 and response.status_code not in {400, 401, 429}:
            raise error_from_response(response)
        return response

    # --- requests --------------------------------------------------------------------------------------

    def request(self, method: str, path: str, *, stream: bool = False, **options: Any) -> requests.Response:
        """An authenticated request that succeeded (2xx): refreshes, or logs in again, once if the token expired."""
        response = self._authenticated(method, path, stream=stream, **options)
        if response.status_code == 401 and not self.api_key:
            response.close()
            if not self._refresh():
                self._login_again()
            response = self._authenticated(method, path, stream=stream, **options)
        if response.status_code >= 400:
            with response:
                raise error_from_response(response)
        return response

    def get(self, path: str, **params: Any) -> Any:
        return self._json(self.request("GET", path, params=params or None))

    def send(self, method: str, path: str, body: dict[str, Any]) -> Any:
        response = self.request(method, path, json=body)
        return None if response.status_code == 204 else self._json(response)

    def _authenticated(self, method: str, path: str, **options: Any) -> requests.Response:
        token = self.api_key or (self.credentials.access if self.credentials else None)
        if token is None:
            self._login_again()
            token = self.credentials.access
        return self._call(method, path, headers={"Authorization": f"Bearer {token}"}, **options)

    def _login_again(self) -> None:
        self._call("GET", "/healthz").close()  # unreachable: say so, not "log in", and ask no one for a password
        if self.credentials is not None:
            self.last_username = self.credentials.username
        self.logout()
        if self.relogin is None:
            raise GatewayError("auth", reason="session_expired" if self.last_username else "not_logged_in")
        self.relogin(self)

    def _call(self, method: str, path: str, **options: Any) -> requests.Response:
        try:
            return self.http.request(method, self.url + path, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT), **options)
        except requests.Timeout:
            raise GatewayError("down", reason="timeout") from None
        except requests.RequestException:
            raise GatewayError("down") from None

    def _tokens(self, response: requests.Response) -> dict[str, str]:
        tokens = self._json(response)
        if not isinstance(tokens, dict) or not isinstance(tokens.get("access"), str):
            raise GatewayError("server", reason="not_a_gateway", status=response.status_code)
        return tokens

    def _json(self, response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise GatewayError("server", reason="not_a_gateway", status=response.status_code) from None

    # --- what the client does --------------------------------------------------------------------------

    def stream_reply(self, conversation_id: int, content: str) -> Iterator[dict[str, Any]]:
        """The events of one answer as they arrive: message, delta..., then done (or an error raised).

        Closing the generator closes the connection, which tells the gateway the client has gone.
        """
        response = self.request(
            "POST",
            f"/api/conversations/{conversation_id}/messages/",
            json={"content": content, "stream": True},
            stream=True,
        )
        with response:
            try:
                for line in response.iter_lines():
                    if not line.startswith(b"data:"):
                        continue
                    event = json.loads(line[5:])
                    if event.get("type") == "error":
                        raise GatewayError("stream", _first_message(event.get("error", {})))
                    yield event
            except requests.RequestException:
                raise GatewayError("stream", reason="cut") from None
