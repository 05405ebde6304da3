"""Starting and stopping the test OpenID Connect provider (devtools.oidcprovider) as a second process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import requests

from devtools.testing import free_port

CLIENT_ID = "chatgateway-tests"
CLIENT_SECRET = "chatgateway-tests-secret"  # noqa: S105  (the test provider's client)


class OIDCProvider:
    """A running provider: `issuer`, and the client the gateway is registered as."""

    client_id, client_secret = CLIENT_ID, CLIENT_SECRET

    def __init__(self, directory: Path, *, users: list[dict], redirect_uris: list[str]) -> None:
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}/o"
        self.directory = directory
        self.config = {
            "port": self.port,
            "directory": str(directory),
            "client": {"id": CLIENT_ID, "secret": CLIENT_SECRET, "redirect_uris": redirect_uris},
            "users": users,
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> OIDCProvider:
        config = self.directory / "provider.json"
        config.write_text(json.dumps(self.config))
        root = Path(__file__).resolve().parents[2]
        self.process = subprocess.Popen(  # noqa: S603  (our own module, with the test's interpreter)
            [sys.executable, "-m", "devtools.oidcprovider", str(config)],
            cwd=root,
            stdout=subprocess.DEVNULL,
            stderr=(self.directory / "provider.log").open("w"),
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the OIDC provider exited: " + (self.directory / "provider.log").read_text()[-2000:])
            try:
                if requests.get(f"{self.issuer}/.well-known/openid-configuration", timeout=1).ok:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError("the OIDC provider did not start within 60 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
