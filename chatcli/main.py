"""`python -m chatcli`: the command line, logging in, and the one-shot `ask` for scripts."""

from __future__ import annotations

import argparse
import getpass
import os
import signal
import sys
import threading

from rich.console import Console

from chatcli.api import Gateway, GatewayError
from chatcli.chat import ChatLoop, answer, answer_in_a_new_conversation, latest_conversation
from chatcli.i18n import LANGUAGES, Messages, language_from_environment
from chatcli.render import describe, say
from chatcli.tokens import TokenStore, config_folder

DEFAULT_URL = "http://127.0.0.1:8000"
LOGIN_ATTEMPTS = 3
EXIT_STATUS = {"refused": 1, "auth": 3, "limit": 4, "blocked": 4, "down": 5, "upstream": 5, "server": 5, "stream": 5}
INTERRUPTED = 130  # what a shell reports for a program ended by Ctrl-C


def main(argv: list[str] | None = None) -> int:
    stop_on_ctrl_c()
    argv = sys.argv[1:] if argv is None else argv
    messages = Messages(_chosen_language(argv))
    args = build_parser(messages).parse_args(argv)
    url = (args.url or os.environ.get("CHATGATEWAY_URL") or DEFAULT_URL).rstrip("/")
    interactive = sys.stdin.isatty()
    errors = Console(stderr=True, highlight=False)
    gateway = Gateway(
        url,
        store=TokenStore(url),
        api_key=os.environ.get("CHATGATEWAY_API_KEY") or None,
        relogin=_relogin(args=args, messages=messages, console=errors, interactive=interactive),
        language=messages.language,
    )
    try:
        return _run(args, gateway=gateway, messages=messages, errors=errors)
    except GatewayError as error:
        say(errors, describe(error, messages=messages, url=url), style="red")
        return EXIT_STATUS[error.kind]
    except KeyboardInterrupt:
        return INTERRUPTED
    except BrokenPipeError:  # `ask … | head`: the reader left; stop quietly, as other command-line tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush raises nothing
        return 1


def stop_on_ctrl_c() -> None:
    """Make Ctrl-C raise KeyboardInterrupt even if SIGINT came ignored from the parent.

    A shell starts a background job (`… &`, or a CI job started so) with SIGINT ignored, its children
    inherit that, and Python then leaves it ignored: Ctrl-C would neither stop an answer nor leave.
    (Only the main thread may set a handler; `main()` run from another is left as it is.)
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _run(args: argparse.Namespace, *, gateway: Gateway, messages: Messages, errors: Console) -> int:
    console = Console(highlight=False)
    if args.command == "logout":
        gateway.logout()
        say(console, messages("logged_out", url=gateway.url))
        return 0
    if args.command == "login":
        gateway.logout()
        gateway.relogin(gateway)
        return 0
    if args.command == "ask":
        return _ask(args, gateway=gateway, messages=messages, console=console, errors=errors)
    return ChatLoop(gateway, console=console, messages=messages, model=args.model).run(resume=args.resume)


def _ask(args: argparse.Namespace, *, gateway: Gateway, messages: Messages, console: Console, errors: Console) -> int:
    question = " ".join(args.question).strip()
    if question in {"", "-"} and not sys.stdin.isatty():
        question = sys.stdin.read().strip()
    if question in {"", "-"}:
        say(errors, messages("empty_question"), style="red")
        return 2
    if args.resume:
        conversation = latest_conversation(gateway, model=args.model)
        answer(gateway, conversation_id=conversation["id"], content=question, console=console)
    else:
        answer_in_a_new_conversation(gateway, model=args.model, content=question, console=console)
    return 0


def _relogin(*, args: argparse.Namespace, messages: Messages, console: Console, interactive: bool):
    """How to log in when there is no usable token: from the environment, else by asking a person."""
    env_user, env_password = os.environ.get("CHATGATEWAY_USERNAME"), os.environ.get("CHATGATEWAY_PASSWORD")

    def relogin(gateway: Gateway) -> None:
        username = args.user or env_user or gateway.last_username
        if username and env_password:
            gateway.login(username=username, password=env_password)
        elif not interactive:
            raise GatewayError("auth", reason="session_expired" if gateway.last_username else "not_logged_in")
        else:
            if gateway.last_username:
                say(console, messages("session_expired"), style="yellow")
            _ask_for_password(gateway, username=username, messages=messages, console=console)
        say(console, messages("logged_in", url=gateway.url, username=gateway.credentials.username), style="green")

    return relogin


def _ask_for_password(gateway: Gateway, *, username: str | None, messages: Messages, console: Console) -> None:
    for attempt in range(1, LOGIN_ATTEMPTS + 1):
        name = username or input(messages("username")).strip()
        password = getpass.getpass(messages("password"))
        try:
            gateway.login(username=name, password=password)
        except GatewayError as error:
            if error.reason != "wrong_password" or attempt == LOGIN_ATTEMPTS:
                raise
            say(console, describe(error, messages=messages, url=gateway.url), style="red")
        else:
            return


def _chosen_language(argv: list[str]) -> str:
    """--lang if given (read before the full parser, whose help is in that language), else the locale's."""
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--lang", choices=LANGUAGES)
    known, _ = early.parse_known_args(argv)
    return known.lang or language_from_environment()


def build_parser(messages: Messages) -> argparse.ArgumentParser:
    described = {
        "epilog": messages("epilog", folder=config_folder() / "tokens"),
        "formatter_class": argparse.RawDescriptionHelpFormatter,
    }
    parser = argparse.ArgumentParser(prog="python -m chatcli", description=messages("description"), **described)
    _add_options(parser, messages=messages)
    commands = parser.add_subparsers(dest="command")
    for name, extra in (("chat", {}), ("ask", described), ("login", {}), ("logout", {})):
        command = commands.add_parser(name, help=messages(f"help_{name}"), **extra)
        # Options may also follow the command; there, one left out must not undo one given before it.
        _add_options(command, messages=messages, default=argparse.SUPPRESS)
        if name == "ask":
            command.add_argument("question", nargs="*", help=messages("help_question"))
    return parser


def _add_options(parser: argparse.ArgumentParser, *, messages: Messages, default: object = None) -> None:
    parser.add_argument("--url", default=default, help=messages("help_url"))
    parser.add_argument("--lang", choices=LANGUAGES, default=default, help=messages("help_lang"))
    parser.add_argument("--user", default=default, help=messages("help_user"))
    parser.add_argument("--model", default=default, help=messages("help_model"))
    parser.add_argument(
        "-c", "--continue", dest="resume", action="store_true", default=default or False, help=messages("help_continue")
    )
