"""Driving the terminal client as a person would: in a pseudo-terminal, typing keys and reading the screen.

pexpect runs the client in a pty (so it sees a real terminal: hidden password prompt, live redraws,
Ctrl-C as a signal); pyte, a VT100 emulator, turns what the client writes into the screen a person sees.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pexpect
import pyte

REPO = Path(__file__).resolve().parents[2]


def run_client(arguments: list[str], *, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess:
    """Run `python ARGUMENTS` from the repository with pipes, no terminal; the finished process."""
    return subprocess.run(
        [sys.executable, *arguments],
        env=env,
        cwd=REPO,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class Terminal:
    """`python -m chatcli ARGS` running in a terminal of `rows` x `columns`; `sigint_ignored`: started
    with SIGINT ignored, as a background job's children are."""

    def __init__(
        self, *args: str, env: dict[str, str], rows: int = 30, columns: int = 100, sigint_ignored: bool = False
    ) -> None:
        self.screen = pyte.HistoryScreen(columns, rows, history=5000)
        self._stream = pyte.ByteStream(self.screen)
        self.child = pexpect.spawn(
            sys.executable,
            ["-m", "chatcli", *args],
            env=env,
            cwd=str(REPO),
            dimensions=(rows, columns),
            preexec_fn=_ignore_sigint if sigint_ignored else None,
        )
        self._mark = ""

    def text(self) -> str:
        """Everything on the screen, and what scrolled off it, as lines of text."""
        columns = self.screen.columns
        scrolled = ["".join(line[x].data for x in range(columns)).rstrip() for line in self.screen.history.top]
        return "\n".join([*scrolled, *(line.rstrip() for line in self.screen.display)])

    def since_typed(self) -> str:
        """What appeared after the last line typed (the screen's text past the mark)."""
        text = self.text()
        return text[len(self._mark) :] if text.startswith(self._mark) else text

    def wait_for(self, needle: str, *, timeout: float = 20) -> str:
        """Wait until `needle` shows after the last line typed; the text since then."""
        deadline = time.monotonic() + timeout
        while needle not in self.since_typed():
            if time.monotonic() > deadline or (not self._pump(0.1) and not self.child.isalive()):
                raise AssertionError(f"{needle!r} did not appear; the screen shows:\n{self.text()}")
        return self.since_typed()

    def type(self, line: str) -> None:
        """Type a line and press Enter."""
        self._pump(0.05)
        self._mark = self.text().rstrip()
        self.child.send(line + "\r")

    def send(self, message: str, *, answered: str = "requests left today") -> str:
        """Type a message and wait for its answer to be complete (the line shown after it); what appeared."""
        self.type(message)
        return self.wait_for(answered)

    def press_ctrl_c(self) -> None:
        self.child.sendintr()

    def press_ctrl_d(self) -> None:
        """Ctrl-D at the prompt (once it is there: readline discards keys pressed before it starts)."""
        self.wait_for_prompt()
        self.child.sendeof()

    def wait_for_prompt(self, *, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while self.text().rstrip().rsplit("\n", 1)[-1] != ">":
            if time.monotonic() > deadline or not self._pump(0.1):
                raise AssertionError(f"no prompt; the screen shows:\n{self.text()}")

    def exit_status(self, *, timeout: float = 20) -> int:
        """Wait for the client to end; its exit status."""
        deadline = time.monotonic() + timeout
        while self.child.isalive() and time.monotonic() < deadline:
            self._pump(0.1)
        self.child.close()
        if self.child.exitstatus is None:
            raise AssertionError(f"the client did not exit; the screen shows:\n{self.text()}")
        return self.child.exitstatus

    def close(self) -> None:
        self.child.close(force=True)

    def _pump(self, timeout: float) -> bool:
        """Feed what the client wrote to the screen; False when it has ended."""
        try:
            self._stream.feed(self.child.read_nonblocking(65536, timeout=timeout))
        except pexpect.TIMEOUT:
            pass
        except pexpect.EOF:
            return False
        return True


def _ignore_sigint() -> None:
    """In the child, before it runs the client: what a shell does to a job it starts in the background."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
