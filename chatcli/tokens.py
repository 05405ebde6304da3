"""The tokens the client keeps between runs: one file per server, readable by its owner only."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from platformdirs import user_config_path


@dataclass
class Credentials:
    username: str
    access: str
    refresh: str = ""


def config_folder() -> Path:
    """Where the client keeps its files: $XDG_CONFIG_HOME/chatgateway (~/.config/chatgateway) on Linux."""
    return user_config_path("chatgateway", appauthor=False)


class TokenStore:
    """The kept login for one server URL."""

    def __init__(self, url: str, *, folder: Path | None = None) -> None:
        # A readable name for people looking in the folder, and a hash so that two URLs never share a file.
        readable = re.sub(r"[^A-Za-z0-9.-]+", "_", url.split("://", 1)[-1]).strip("_")[:60]
        digest = hashlib.sha256(url.encode()).hexdigest()[:12]
        self.path = (folder or config_folder()) / "tokens" / f"{readable}-{digest}.json"

    def load(self) -> Credentials | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return Credentials(username=data["username"], access=data["access"], refresh=data.get("refresh", ""))
        except (OSError, ValueError, KeyError, TypeError):
            return None  # none kept, or a damaged file: log in again

    def save(self, credentials: Credentials) -> None:
        """Write the file whole, created with mode 0600: no moment exists where others could read it."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump(asdict(credentials), file)
        os.replace(temporary, self.path)

    def clear(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
