"""What the client shows: answers as Markdown while they stream, times in the user's zone, errors as sentences."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from rich.console import Console, ConsoleOptions, RenderResult
from rich.live import Live
from rich.markdown import Markdown
from rich.segment import Segment

from chatcli.api import GatewayError
from chatcli.i18n import Messages


class _Tail:
    """The last screenful of a renderable: a streaming answer longer than the terminal keeps its newest lines
    in view (Live can only redraw what is on the screen); the whole answer is printed once it is complete."""

    def __init__(self, renderable: Markdown) -> None:
        self.renderable = renderable

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = console.render_lines(self.renderable, options.update(height=None), pad=False)
        keep = max(1, console.size.height - 2)
        for line in lines[-keep:]:
            yield from line
            yield Segment.line()


def show_answer(console: Console, pieces: Iterable[str]) -> str:
    """Print an answer as its pieces arrive, rendered as Markdown on a terminal and as plain text elsewhere.

    If the user stops it (Ctrl-C), what arrived so far stays on the screen and KeyboardInterrupt goes on up.
    """
    if not console.is_terminal:
        return _show_plain(console, pieces)
    text = ""
    try:
        with _no_echo(), Live(console=console, transient=True, auto_refresh=False, vertical_overflow="visible") as live:
            for piece in pieces:
                text += piece
                live.update(_Tail(Markdown(text)), refresh=True)
    finally:
        if text:
            console.print(Markdown(text))
    return text


@contextlib.contextmanager
def _no_echo() -> Iterator[None]:
    """Keys pressed while an answer streams are not echoed: an echo (Ctrl-C's "^C" too) would move the
    cursor under the live display, which then redraws in the wrong place. Typed-ahead text is kept for the
    next prompt."""
    try:
        import termios

        attributes = termios.tcgetattr(sys.stdin)
    except (ImportError, OSError, ValueError):  # not a terminal, or not a POSIX one
        yield
        return
    quiet = [*attributes[:3], attributes[3] & ~termios.ECHO, *attributes[4:]]
    termios.tcsetattr(sys.stdin, termios.TCSANOW, quiet)
    try:
        yield
    finally:
        termios.tcsetattr(sys.stdin, termios.TCSANOW, attributes)


def _show_plain(console: Console, pieces: Iterable[str]) -> str:
    text = ""
    try:
        for piece in pieces:
            text += piece
            console.file.write(piece)
            console.file.flush()
    finally:
        console.file.write("\n")
        console.file.flush()
    return text


def say(console: Console, text: str, *, style: str | None = None) -> None:
    """Print a sentence as it is: no markup read into it, no line breaks added (the terminal wraps)."""
    console.print(text, style=style, markup=False, highlight=False, soft_wrap=True)


def local_time(moment: datetime) -> str:
    """`moment` in the user's time zone, to the minute, with the zone's name."""
    moment = moment.astimezone()
    if moment.second >= 30:  # Retry-After counts whole seconds: 23:59:59.4 means midnight
        moment += timedelta(minutes=1)
    return moment.strftime("%Y-%m-%d %H:%M %Z")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def describe(error: GatewayError, *, messages: Messages, url: str) -> str:
    """The sentence a person reads for `error`, in their language."""
    if error.kind == "auth":
        if error.reason in {"wrong_password", "session_expired", "not_logged_in"}:
            return messages(error.reason, url=url)
        if error.reason == "login_throttled":
            return messages("login_throttled", minutes=max(1, -(-(error.retry_after or 60) // 60)))
        return messages("refused_credentials", detail=error.detail)
    if error.kind == "limit" and error.limit:
        return error.detail or messages("limit_refused", limit=error.limit)
    if error.kind == "limit":
        resets = local_time(datetime.now().astimezone() + timedelta(seconds=error.retry_after or 0))
        return messages("limit_reached", kind=messages(f"limit_{error.limit_kind}"), resets=resets)
    if error.kind == "blocked":
        return messages("blocked")
    if error.kind == "down":
        return messages("gateway_timeout" if error.reason == "timeout" else "gateway_down", url=url)
    if error.reason == "not_a_gateway":
        return messages("not_a_gateway", url=url, status=error.status)
    if error.kind == "stream":
        return messages("stream_error", detail=error.detail or messages("connection_lost"))
    key = {"upstream": "upstream_failed", "server": "server_error"}.get(error.kind, "refused")
    return messages(key, status=error.status, detail=error.detail)


SYMBOLS = {"USD": "$", "CNY": "¥", "JPY": "¥", "GBP": "£", "HKD": "HK$"}


def money(amount: str, currency: str) -> str:
    """An amount of /api/quota/ (a decimal string) as the gateway writes money: two decimals from one unit up,
    up to six significant digits below one, so that a small amount never reads as zero ("$0.00015")."""
    value = Decimal(amount)
    if value >= 1 or value <= 0:
        text = f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"
    else:
        places = min(9, max(2, -value.adjusted() + 5))
        whole, _, fraction = f"{value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):f}".partition(".")
        text = f"{whole}.{fraction.rstrip('0').ljust(2, '0')}"
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{text}" if symbol else f"{text} {currency}"


def limit_left(reading: dict[str, Any], *, currency: str, messages: Messages) -> str:
    """One of /api/quota/'s `limits` as a sentence: "$1.23 of $2.00 left this month", with whose it is."""
    if reading["metric"] == "cost":
        amounts = {"remaining": money(reading["remaining"], currency), "limit": money(reading["limit"], currency)}
        unit = ""
    else:
        amounts = {"remaining": f"{max(0, reading['remaining']):,}", "limit": f"{reading['limit']:,}"}
        unit = messages(f"unit_{reading['metric']}")
    text = messages("limit_left", period=messages(f"period_{reading['period']}"), unit=unit, **amounts)
    if reading.get("whose") == "team":
        return messages("team_limit", team=reading.get("team") or "", text=text)
    if reading.get("whose") == "api_key":
        return messages("key_limit", text=text)
    return text
