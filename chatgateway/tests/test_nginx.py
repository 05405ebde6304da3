"""nginx in front of the gateway, for real: Debian's nginx runs the shipped deploy/nginx/chatgateway.conf in
front of `manage.py serve` (DEBUG off, SECURE_PROXY_SSL=1, FORWARDED_ALLOW_IPS=127.0.0.1, as docs/deploy.md
says). Only the file's addresses, its certificate and its two client timeouts (1 s instead of 10 s, so that
waiting for them is quick) are swapped for the test's; everything else is the shipped text.

nginx and the gateway listen on 127.0.0.1, and nginx reaches the gateway from there: the address the gateway
trusts. The test's clients connect from 127.0.0.2, an address it does not trust (all of 127/8 is loopback).
Where nginx is missing these tests skip, saying why; with CI=true they fail.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from django.conf import settings

from devtools.testing import GatewayServer, free_port

SHIPPED = settings.BASE_DIR / "deploy/nginx/chatgateway.conf"
CLIENT_TIMEOUT = 1  # seconds: the test's client_header_timeout and client_body_timeout
UNTRUSTED = "127.0.0.2"  # the test's clients; the gateway believes forwarded headers from 127.0.0.1 only
LIMIT = 1024 * 1024  # CHATGATEWAY_MAX_BODY_BYTES's default, and the shipped client_max_body_size


def nginx_binary() -> str:
    """Debian's nginx (/usr/sbin is not on every user's PATH); a skip, or in CI a failure, without it."""
    found = shutil.which("nginx") or next((path for path in ["/usr/sbin/nginx"] if os.access(path, os.X_OK)), None)
    if found is None or shutil.which("openssl") is None:
        reason = "nginx or openssl is not installed: apt-get install nginx openssl (make test does, as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return found


def shipped_config(*, gateway_port: int, http_port: int, https_port: int, certificate: Path, key: Path) -> str:
    """The shipped file with the test's addresses, certificate and client timeouts; each swap must find its
    directive exactly once, so the file cannot drift away from what is tested."""
    swaps = [
        (r"server 127\.0\.0\.1:8000;", f"server 127.0.0.1:{gateway_port};"),
        (r"listen 80;", f"listen 127.0.0.1:{http_port};"),
        (r"listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;"),
        (r"/etc/letsencrypt/live/chat\.example\.org/fullchain\.pem", str(certificate)),
        (r"/etc/letsencrypt/live/chat\.example\.org/privkey\.pem", str(key)),
        (r"client_header_timeout \d+s;", f"client_header_timeout {CLIENT_TIMEOUT}s;"),
        (r"client_body_timeout \d+s;", f"client_body_timeout {CLIENT_TIMEOUT}s;"),
    ]
    text = SHIPPED.read_text()
    for pattern, replacement in swaps:
        text, count = re.subn(pattern, replacement, text)
        assert count == 1, f"{SHIPPED.name} has `{pattern}` once"
    return text


def main_config(tmp: Path, site: Path) -> str:
    """A minimal nginx.conf whose `http` block includes the site, with every path nginx writes in `tmp`."""
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    temp_paths = "".join(f"    {kind}_temp_path {tmp / kind};\n" for kind in kinds)
    # As root, nginx's workers would become `nobody`, who may not enter pytest's private tmp directory.
    user = "user root root;\n" if os.geteuid() == 0 else ""
    return f"{user}events {{}}\nhttp {{\n    access_log {tmp / 'access.log'};\n{temp_paths}    include {site};\n}}\n"


def self_signed_certificate(tmp: Path) -> tuple[Path, Path]:
    certificate, key = tmp / "certificate.pem", tmp / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(certificate), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return certificate, key


def wait_for_port(port: int, *, process: subprocess.Popen, error_log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited: {error_log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nginx did not listen within 10 s: {error_log.read_text()}")


@dataclass
class Front:
    https_url: str
    http_url: str
    gateway: GatewayServer
    gateway_log: Path
    certificate: Path
    token: str

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.certificate))

    def seen_as(self, path: str) -> str:
        """The client address in the gateway's access log line for `path` (a path used once)."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if found := re.search(rf"(\S+):\d+ - \"\w+ {re.escape(path)} HTTP", self.gateway_log.read_text()):
                return found.group(1)
            time.sleep(0.05)
        raise AssertionError(f"the gateway logged no request for {path}")


@pytest.fixture(scope="module")
def front(tmp_path_factory, dev_upstream):
    """nginx with the shipped configuration in front of `manage.py serve`, both on free ports."""
    binary = nginx_binary()
    tmp = tmp_path_factory.mktemp("nginx")
    certificate, key = self_signed_certificate(tmp)
    gateway_log = tmp / "gateway.log"
    env = {"SECURE_PROXY_SSL": "1", "FORWARDED_ALLOW_IPS": "127.0.0.1", "ACCESS_LOG": "1", "LOG_LEVEL": "INFO"}
    with GatewayServer(
        tmp_path=tmp, upstream_url=dev_upstream.url, upstream_key=dev_upstream.key, workers=1, serve=True,
        log=gateway_log, env=env,
    ) as gateway:  # fmt: skip
        token = gateway.python(
            "from accounts.models import User\nfrom accounts.tokens import issue_access_token\n"
            "print(issue_access_token(User.objects.create_user('ada', password='right-password-1')))"
        ).strip()
        http_port, https_port = free_port(), free_port()
        site = tmp / "chatgateway.conf"
        site.write_text(shipped_config(
            gateway_port=gateway.port, http_port=http_port, https_port=https_port, certificate=certificate, key=key
        ))  # fmt: skip
        (tmp / "nginx.conf").write_text(main_config(tmp, site))
        error_log = tmp / "error.log"
        nginx = subprocess.Popen(
            [binary, "-p", str(tmp), "-c", str(tmp / "nginx.conf"),
             "-g", f"daemon off; pid {tmp / 'nginx.pid'}; error_log {error_log} info;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_for_port(https_port, process=nginx, error_log=error_log)
            yield Front(
                https_url=f"https://127.0.0.1:{https_port}", http_url=f"http://127.0.0.1:{http_port}",
                gateway=gateway, gateway_log=gateway_log, certificate=certificate, token=token,
            )  # fmt: skip
        finally:
            nginx.terminate()
            nginx.wait(timeout=10)


def connect(front: Front) -> ssl.SSLSocket:
    """A TLS connection to nginx from the untrusted address, as any client on the internet."""
    port = int(front.https_url.rsplit(":", 1)[1])
    raw = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(UNTRUSTED, 0))
    return front.tls().wrap_socket(raw, server_hostname="127.0.0.1")


def seconds_until_closed(connection: ssl.SSLSocket) -> tuple[float, bytes]:
    """Wait, sending nothing more, until nginx closes the connection; how long that took, and what it said."""
    started, answer = time.monotonic(), b""
    try:
        while chunk := connection.recv(4096):
            answer += chunk
    except (OSError, ssl.SSLError):
        pass  # reset_timedout_connection: nginx resets a connection it timed out
    finally:
        connection.close()
    return time.monotonic() - started, answer


def test_a_stream_through_nginx_arrives_chunk_by_chunk(front):
    started = time.time()
    with requests.post(
        f"{front.https_url}/v1/chat/completions",
        json={
            "model": "gpt-4o-mini",
            "stream": True,
            "messages": [{"role": "user", "content": "slow [dev:chunks=6] [dev:interval=0.4]"}],
        },
        headers={"Authorization": f"Bearer {front.token}"},
        stream=True,
        timeout=20,
        verify=str(front.certificate),
    ) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/event-stream"
        arrivals = [
            (time.time(), json.loads(line[6:])) for line in response.iter_lines() if line.startswith(b"data: {")
        ]

    contents = [(at, chunk) for at, chunk in arrivals if chunk["choices"] and chunk["choices"][0]["delta"]]
    assert len(contents) == 6
    first_arrived, last_sent = contents[0][0], contents[-1][1]["x_dev_sent_at"]
    assert last_sent - first_arrived > 1.5, "the first chunk came only when the last was ready: nginx buffered"
    assert first_arrived - started < 1.5


def test_nginx_drops_a_client_that_sends_half_its_headers_and_waits(front):
    connection = connect(front)
    connection.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ")

    waited, answer = seconds_until_closed(connection)

    assert CLIENT_TIMEOUT - 0.2 < waited < CLIENT_TIMEOUT + 2
    assert answer == b"", "a request whose headers never came is dropped without an answer"


def test_nginx_drops_a_client_that_stops_sending_its_body(front):
    path = f"/token?trickled={uuid.uuid4().hex}"
    connection = connect(front)
    connection.sendall(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: 1000\r\n\r\n".encode()
        + b'{"u": "ada", "p": '
    )

    waited, answer = seconds_until_closed(connection)

    assert CLIENT_TIMEOUT - 0.2 < waited < CLIENT_TIMEOUT + 2
    assert not answer.startswith(b"HTTP/1.1 2")
    assert path not in front.gateway_log.read_text(), "the gateway never saw the half-sent request"


def test_the_gateway_sees_the_address_nginx_saw_not_the_one_the_client_claims(front):
    path = f"/healthz?probe={uuid.uuid4().hex}"
    connection = http.client.HTTPSConnection(
        "127.0.0.1", int(front.https_url.rsplit(":", 1)[1]), context=front.tls(), source_address=(UNTRUSTED, 0)
    )
    connection.request("GET", path, headers={"X-Forwarded-For": "198.51.100.7"})
    status = connection.getresponse().status
    connection.close()

    assert status == 200
    assert front.seen_as(path) == UNTRUSTED


def test_the_request_id_is_nginxs_whatever_the_client_sends(front):
    connection = http.client.HTTPSConnection(
        "127.0.0.1", int(front.https_url.rsplit(":", 1)[1]), context=front.tls(), source_address=(UNTRUSTED, 0)
    )
    connection.request("GET", "/healthz", headers={"X-Request-ID": "chosen-by-the-client"})
    response = connection.getresponse()
    response.read()
    connection.close()

    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"]), "nginx's $request_id, kept by the gateway"


def direct(front: Front, path: str, headers: dict[str, str], *, source: str) -> http.client.HTTPResponse:
    """A request straight to the gateway, bypassing nginx, from `source`."""
    connection = http.client.HTTPConnection("127.0.0.1", front.gateway.port, timeout=10, source_address=(source, 0))
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_the_gateway_ignores_forwarded_headers_from_an_address_it_does_not_trust(front):
    path = f"/healthz?probe={uuid.uuid4().hex}"
    direct(front, path, {"X-Forwarded-For": "198.51.100.8", "X-Forwarded-Proto": "https"}, source=UNTRUSTED)
    redirected = direct(front, "/v1/models", {"X-Forwarded-Proto": "https"}, source=UNTRUSTED)
    trusted_path = f"/healthz?probe={uuid.uuid4().hex}"
    direct(front, trusted_path, {"X-Forwarded-For": "198.51.100.9"}, source="127.0.0.1")

    assert front.seen_as(path) == UNTRUSTED
    assert redirected.status == 301, "a claimed https from an untrusted address is plain http: redirected"
    assert front.seen_as(trusted_path) == "198.51.100.9", "from nginx's address, the header is believed"


def test_https_at_nginx_is_https_to_the_gateway(front):
    answer = requests.get(f"{front.https_url}/v1/models", timeout=10, verify=str(front.certificate))
    plain = requests.get(f"{front.http_url}/v1/models", timeout=10, allow_redirects=False)

    assert answer.status_code == 401, "not redirected: the gateway's request.is_secure() is true"
    assert answer.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert len(answer.raw.headers.getlist("Strict-Transport-Security")) == 1, "sent once, by the gateway"
    assert plain.status_code == 301
    assert plain.headers["Location"] == "https://127.0.0.1/v1/models"


def post_body(front: Front, path: str, body: bytes, *, chunked: bool = False) -> requests.Response:
    data = iter([body[: len(body) // 2], body[len(body) // 2 :]]) if chunked else body
    headers = {"Authorization": f"Bearer {front.token}", "Content-Type": "application/json"}
    url = f"{front.https_url}{path}"
    return requests.post(url, data=data, headers=headers, timeout=30, verify=str(front.certificate))


def padded_chat_request(size: int) -> bytes:
    """A valid chat request of exactly `size` bytes: its padding is spaces, which JSON ignores."""
    body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}).encode()
    return body[:-1] + b" " * (size - len(body)) + b"}"


@pytest.mark.parametrize("chunked", [False, True], ids=["with-content-length", "chunked"])
def test_a_body_one_byte_over_the_limit_gets_the_gateways_json_413_through_nginx(front, chunked):
    answer = post_body(front, "/v1/chat/completions", padded_chat_request(LIMIT + 1), chunked=chunked)

    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "payload_too_large"
    assert answer.json()["error"]["message"] == "The request body is too large; the limit is 1024 KiB."


def test_a_too_large_body_gets_the_413_in_the_shape_of_the_api_asked(front):
    answer = post_body(front, "/token", b" " * (LIMIT + 1))

    assert answer.status_code == 413
    assert answer.json() == {"statu": False, "message": "The request body is too large; the limit is 1024 KiB."}


def test_a_body_of_exactly_the_limit_passes_nginx_and_the_gateway(front):
    answer = post_body(front, "/v1/chat/completions", padded_chat_request(LIMIT))

    assert answer.status_code == 200
    assert answer.json()["choices"][0]["message"]["content"].endswith("You said: Hi")


def test_a_long_question_in_the_url_passes_nginx(front):
    # 7000 Chinese characters, percent-encoded: 63 KB of request line, far past nginx's default 8k a line
    # (large_client_header_buffers), and under the 64 KiB that uvicorn's parser takes in a URL.
    answer = requests.get(
        f"{front.https_url}/api",
        params={"q": "问" * 7000},
        headers={"Authorization": f"Bearer {front.token}"},
        timeout=30,
        verify=str(front.certificate),
    )

    assert answer.status_code == 200, answer.text[:300]
    assert answer.json()["message"].endswith("问" * 10)
