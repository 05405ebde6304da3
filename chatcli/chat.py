"""The conversation itself: sending a message and showing its answer, and the interactive loop's commands."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from rich.console import Console
from rich.markdown import Markdown
from rich.text import Text

from chatcli.api import Gateway, GatewayError
from chatcli.i18n import Messages
from chatcli.render import describe, limit_left, local_time, parse_time, say, show_answer

with contextlib.suppress(ImportError):  # line editing and history for input(), where the platform has it
    import readline  # noqa: F401


def new_conversation(gateway: Gateway, *, model: str | None) -> dict[str, Any]:
    return gateway.send("POST", "/api/conversations/", {"model": model} if model else {})


def answer_in_a_new_conversation(
    gateway: Gateway, *, model: str | None, content: str, console: Console
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Start a conversation with `content`: the conversation, and the answer's last event.

    If that first message gets no answer (refused, failed, stopped before the gateway kept anything),
    the gateway stored nothing in the conversation, so it is deleted again, as the web page does: an
    empty conversation would otherwise head the list and be what `ask -c` continues.
    """
    conversation = new_conversation(gateway, model=model)
    try:
        return conversation, answer(gateway, conversation_id=conversation["id"], content=content, console=console)
    except BaseException:
        _delete_if_empty(gateway, conversation_id=conversation["id"])
        raise


def _delete_if_empty(gateway: Gateway, *, conversation_id: int) -> None:
    path = f"/api/conversations/{conversation_id}/"
    with contextlib.suppress(GatewayError):  # the error being reported matters more than the leftover
        if not gateway.get(path).get("messages"):
            gateway.request("DELETE", path).close()


def latest_conversation(gateway: Gateway, *, model: str | None) -> dict[str, Any]:
    """The user's most recently active conversation, with its messages; a new one if they have none."""
    results = gateway.get("/api/conversations/")["results"]
    if not results:
        return new_conversation(gateway, model=model)
    return gateway.get(f"/api/conversations/{results[0]['id']}/")


def answer(gateway: Gateway, *, conversation_id: int, content: str, console: Console) -> dict[str, Any]:
    """Send `content` and show the answer as it streams; the `done` event (with the quota after it)."""
    events = gateway.stream_reply(conversation_id, content)
    done: dict[str, Any] = {}

    def pieces() -> Iterator[str]:
        for event in events:
            if event.get("type") == "delta":
                yield event.get("content", "")
            elif event.get("type") == "done":
                done.update(event)

    try:
        show_answer(console, pieces())
    finally:
        events.close()  # after Ctrl-C: hang up, so that the gateway closes the upstream request at once
    if not done:
        raise GatewayError("stream", reason="cut")
    return done


class ChatLoop:
    """The interactive chat: lines are messages, or commands starting with a slash."""

    def __init__(self, gateway: Gateway, *, console: Console, messages: Messages, model: str | None) -> None:
        self.gateway = gateway
        self.console = console
        self.messages = messages
        self.model = model
        self.conversation: dict[str, Any] | None = None
        self.listed: list[dict[str, Any]] = []
        self.commands = {
            "/new": self.new,
            "/list": self.list,
            "/open": self.open,
            "/quota": self.quota,
            "/model": self.choose_model,
            "/help": self.help,
        }

    def run(self, *, resume: bool) -> int:
        """Chat until /exit, Ctrl-D or Ctrl-C at the prompt; the exit status."""
        self.gateway.check()
        credentials = self.gateway.credentials
        who = credentials.username if credentials else self.messages("api_key_holder")
        self.say(self.messages("welcome", url=self.gateway.url, who=who))
        if resume:
            self.show_conversation(latest_conversation(self.gateway, model=self.model))
        while True:
            try:
                line = input("> ").strip()
            except (EOFError, KeyboardInterrupt):
                self.say("\n" + self.messages("bye"), style="dim")
                return 0
            if line in {"/exit", "/quit"}:
                self.say(self.messages("bye"), style="dim")
                return 0
            try:
                self.handle(line)
            except KeyboardInterrupt:
                self.say(self.messages("stopped"), style="dim")
            except GatewayError as error:
                self.say(describe(error, messages=self.messages, url=self.gateway.url), style="red")
                if error.kind == "auth":
                    return 3

    def handle(self, line: str) -> None:
        if not line:
            return
        if not line.startswith("/"):
            self.send(line)
            return
        command, _, argument = line.partition(" ")
        action = self.commands.get(command.lower())
        if action is None:
            self.say(self.messages("unknown_command", command=command), style="yellow")
        else:
            action(argument.strip())

    def say(self, text: str, *, style: str | None = None) -> None:
        say(self.console, text, style=style)

    def send(self, text: str) -> None:
        if self.conversation is None:
            self.conversation, done = answer_in_a_new_conversation(
                self.gateway, model=self.model, content=text, console=self.console
            )
        else:
            done = answer(self.gateway, conversation_id=self.conversation["id"], content=text, console=self.console)
        quota = done.get("quota") or {}
        # What is left in money first, where a cost limit applies: it is what such a user most wants to know.
        left = [self.limit_left(reading, quota) for reading in quota.get("limits", []) if reading["metric"] == "cost"]
        if quota.get("remaining") is not None:
            left.append(self.messages("left_today", remaining=quota["remaining"]))
        if left:
            self.say(" · ".join(left), style="dim")

    def limit_left(self, reading: dict[str, Any], quota: dict[str, Any]) -> str:
        return limit_left(reading, currency=quota.get("currency", ""), messages=self.messages)

    # --- commands ----------------------------------------------------------------------------------------

    def new(self, _: str) -> None:
        self.conversation = None
        self.say(self.messages("new_conversation"), style="dim")

    def list(self, argument: str) -> None:
        page = int(argument) if argument.isdigit() and int(argument) > 0 else 1
        listing = self.gateway.get("/api/conversations/", page=page)
        self.listed = listing["results"]
        if not self.listed:
            self.say(self.messages("no_conversations"))
            return
        self.say(self.messages("list_heading", page=page, count=listing["count"]), style="bold")
        for number, conversation in enumerate(self.listed, start=1):
            title = conversation["title"] or self.messages("untitled")
            updated = local_time(parse_time(conversation["updated"]))
            model = conversation["model"]
            self.say(self.messages("list_item", number=number, title=title, model=model, updated=updated))

    def open(self, argument: str) -> None:
        if not self.listed:
            self.listed = self.gateway.get("/api/conversations/")["results"]
        if not argument.isdigit() or not 1 <= int(argument) <= len(self.listed):
            self.say(self.messages("open_usage"), style="yellow")
            return
        chosen = self.listed[int(argument) - 1]
        self.show_conversation(self.gateway.get(f"/api/conversations/{chosen['id']}/"))

    def show_conversation(self, conversation: dict[str, Any]) -> None:
        self.conversation = conversation
        messages = conversation.get("messages", [])
        title = conversation["title"] or self.messages("untitled")
        self.say(self.messages("opened", title=title, model=conversation["model"], count=len(messages)), style="bold")
        for message in messages:
            if message["role"] == "user":
                self.console.print(Text.assemble((f"{self.messages('you')}: ", "bold cyan"), message["content"]))
            elif message["role"] == "assistant":
                self.console.print(Markdown(message["content"]))

    def quota(self, _: str) -> None:
        status = self.gateway.get("/api/quota/")
        resets = local_time(parse_time(status["resets_at"]))
        self.say(
            self.messages(
                "quota",
                used=status["used_today"],
                limit=status["daily_limit"],
                remaining=status["remaining"],
                resets=resets,
            )
        )
        if status.get("daily_token_limit") is not None:
            tokens = {"used": status["tokens_used_today"], "remaining": status["tokens_remaining"]}
            self.say(self.messages("quota_tokens", limit=status["daily_token_limit"], **tokens))
        for reading in status.get("limits", []):
            self.say(self.limit_left(reading, status))

    def choose_model(self, name: str) -> None:
        available = [model["id"] for model in self.gateway.get("/v1/models")["data"]]
        current = (self.conversation or {}).get("model") or self.model or self.messages("model_default")
        if not name:
            self.say(self.messages("models", current=current, models=", ".join(available)))
            return
        if name not in available:
            self.say(self.messages("unknown_model", model=name, models=", ".join(available)), style="yellow")
            return
        if self.conversation is not None:
            self.conversation = self.gateway.send(
                "PATCH", f"/api/conversations/{self.conversation['id']}/", {"model": name}
            )
        self.model = name
        self.say(self.messages("model_set", model=name))

    def help(self, _: str) -> None:
        self.say(self.messages("help"))
