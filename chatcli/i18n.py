"""The terminal client's words, in English and Simplified Chinese, chosen from the locale or --lang.

A plain catalogue rather than gettext: two languages and a few dozen sentences, and no compiled
catalogue files to build or ship with a client that must run from a bare checkout.
"""

from __future__ import annotations

import os

LANGUAGES = ("en", "zh")

_EN = {
    # command line
    "description": "Chat with a ChatGateway server from the terminal.",
    "help_url": "the gateway's address (default: $CHATGATEWAY_URL or http://127.0.0.1:8000)",
    "help_lang": "language of the client's messages: en or zh (default: from LC_ALL / LANG)",
    "help_user": "log in as this user (default: $CHATGATEWAY_USERNAME, or asked)",
    "help_model": "the model for new conversations (default: the gateway's)",
    "help_continue": "continue your most recent conversation",
    "help_chat": "chat in the terminal (the default)",
    "help_ask": "ask one question, print the answer and exit",
    "help_question": "the question; '-' or nothing reads it from standard input",
    "help_login": "log in and keep the token",
    "help_logout": "forget the kept token",
    "epilog": (
        "Credentials, in this order: $CHATGATEWAY_API_KEY; the token kept from an\n"
        "earlier login (one file per server, readable by you only, in\n"
        "{folder});\n"
        "$CHATGATEWAY_USERNAME and $CHATGATEWAY_PASSWORD; otherwise the client asks.\n\n"
        "Exit status: 0 success; 1 the gateway refused the request; 2 wrong usage;\n"
        "3 not logged in or wrong password; 4 daily limit reached or blocked;\n"
        "5 gateway or model unavailable; 130 interrupted (Ctrl-C)."
    ),
    # login
    "username": "Username: ",
    "password": "Password: ",
    "logged_in": "Logged in to {url} as {username}.",
    "logged_out": "Forgot the token for {url}.",
    "not_logged_in": "Not logged in to {url}: run `python -m chatcli login`, or set CHATGATEWAY_API_KEY.",
    "wrong_password": "Wrong username or password.",
    "login_throttled": "Too many failed logins. Try again in {minutes} min.",
    "session_expired": "Your session has expired; please log in again.",
    "refused_credentials": "The gateway refused your credentials: {detail}",
    # chat loop
    "api_key_holder": "the holder of an API key",
    "welcome": "Chatting with {url} as {who}. Type /help for commands, /exit to leave.",
    "help": (
        "Type a message and press Enter to send it.\n"
        "  /new          start a new conversation\n"
        "  /list [PAGE]  list your conversations, newest first\n"
        "  /open N       continue conversation N of the last list\n"
        "  /quota        what you have left: today, and of every other limit\n"
        "  /model [NAME] show the models, or switch to NAME\n"
        "  /help         this help\n"
        "  /exit         leave (or Ctrl-D)\n"
        "Ctrl-C stops an answer while it is arriving."
    ),
    "unknown_command": "Unknown command {command}. Type /help for the list.",
    "new_conversation": "New conversation. Your next message starts it.",
    "no_conversations": "You have no conversations yet.",
    "list_heading": "Your conversations, page {page} ({count} in all):",
    "list_item": "{number:>3}. {title}  [{model}, {updated}]",
    "untitled": "(untitled)",
    "open_usage": "Use /open N with a number from /list.",
    "opened": "Continuing “{title}” ({model}), {count} messages.",
    "you": "You",
    "stopped": "(stopped)",
    "quota": "Today: {used} of {limit} requests used, {remaining} left. Resets at {resets}.",
    "quota_tokens": "Tokens: {used} of {limit} used, {remaining} left.",
    "left_today": "{remaining} requests left today",
    "limit_left": "{remaining} of {limit}{unit} left {period}",
    "unit_requests": " requests",
    "unit_tokens": " tokens",
    "period_minute": "this minute",
    "period_day": "today",
    "period_week": "this week",
    "period_month": "this month",
    "period_total": "in all",
    "team_limit": "team {team}: {text}",
    "key_limit": "this key: {text}",
    "limit_refused": "A limit was reached ({limit}).",
    "models": "Models (current: {current}): {models}",
    "model_set": "Model set to {model}.",
    "model_default": "the gateway's default",
    "unknown_model": "There is no model {model} here. Models: {models}",
    "bye": "Bye.",
    # errors
    "limit_reached": "Daily limit of {kind} reached. It resets at {resets}.",
    "limit_requests": "requests",
    "limit_tokens": "tokens",
    "blocked": "An administrator has blocked your use of the model (your daily limit is 0).",
    "gateway_down": "Cannot reach the gateway at {url}. Is it running?",
    "gateway_timeout": "The gateway at {url} did not answer in time.",
    "upstream_failed": "The model is unavailable right now ({status}): {detail}",
    "server_error": "The gateway failed ({status}): {detail}",
    "refused": "The gateway refused the request ({status}): {detail}",
    "stream_error": "The answer broke off: {detail}",
    "connection_lost": "the connection was lost",
    "not_a_gateway": "{url} did not answer like a ChatGateway server ({status}).",
    "empty_question": "No question given.",
}

_ZH = {
    "description": "在终端里与 ChatGateway 服务器对话。",
    "help_url": "网关地址（默认：$CHATGATEWAY_URL 或 http://127.0.0.1:8000）",
    "help_lang": "客户端消息的语言：en 或 zh（默认：取自 LC_ALL / LANG）",
    "help_user": "以此用户名登录（默认：$CHATGATEWAY_USERNAME，否则询问）",
    "help_model": "新对话使用的模型（默认：网关的默认模型）",
    "help_continue": "继续你最近的一个对话",
    "help_chat": "在终端里对话（默认）",
    "help_ask": "提一个问题，打印回答后退出",
    "help_question": "问题；为 '-' 或省略时从标准输入读取",
    "help_login": "登录并保存令牌",
    "help_logout": "删除保存的令牌",
    "epilog": (
        "凭据顺序：$CHATGATEWAY_API_KEY；之前登录保存的令牌（每个服务器一个文件，\n"
        "仅你可读，在 {folder}）；\n"
        "$CHATGATEWAY_USERNAME 和 $CHATGATEWAY_PASSWORD；否则询问。\n\n"
        "退出码：0 成功；1 网关拒绝了请求；2 用法错误；3 未登录或密码错误；\n"
        "4 已达每日限额或被封禁；5 网关或模型不可用；130 被中断（Ctrl-C）。"
    ),
    "username": "用户名：",
    "password": "密码：",
    "logged_in": "已以 {username} 身份登录 {url}。",
    "logged_out": "已删除 {url} 的令牌。",
    "not_logged_in": "尚未登录 {url}：请运行 `python -m chatcli login`，或设置 CHATGATEWAY_API_KEY。",
    "wrong_password": "用户名或密码错误。",
    "login_throttled": "登录失败次数过多，请在 {minutes} 分钟后重试。",
    "session_expired": "登录已过期，请重新登录。",
    "refused_credentials": "网关拒绝了你的凭据：{detail}",
    "api_key_holder": "API 密钥持有者",
    "welcome": "正在以 {who} 身份与 {url} 对话。输入 /help 查看命令，/exit 退出。",
    "help": (
        "输入消息后按回车发送。\n"
        "  /new          开始新对话\n"
        "  /list [页码]  列出你的对话，最新的在前\n"
        "  /open N       继续上次列表中的第 N 个对话\n"
        "  /quota        还剩多少额度：今天的，以及其他各项限额\n"
        "  /model [名称] 显示可用模型，或切换到该模型\n"
        "  /help         显示本帮助\n"
        "  /exit         退出（或 Ctrl-D）\n"
        "回答输出过程中按 Ctrl-C 可停止回答。"
    ),
    "unknown_command": "未知命令 {command}。输入 /help 查看命令列表。",
    "new_conversation": "新对话。你的下一条消息将开始它。",
    "no_conversations": "你还没有任何对话。",
    "list_heading": "你的对话，第 {page} 页（共 {count} 个）：",
    "list_item": "{number:>3}. {title}  [{model}，{updated}]",
    "untitled": "（无标题）",
    "open_usage": "请用 /open N，N 为 /list 中的编号。",
    "opened": "继续对话“{title}”（{model}），共 {count} 条消息。",
    "you": "你",
    "stopped": "（已停止）",
    "quota": "今天：已用 {used}/{limit} 次请求，剩余 {remaining} 次。将于 {resets} 重置。",
    "quota_tokens": "令牌：已用 {used}/{limit}，剩余 {remaining}。",
    "left_today": "今天还剩 {remaining} 次请求",
    "limit_left": "{period}剩余 {remaining}{unit}（共 {limit}{unit}）",
    "unit_requests": " 次请求",
    "unit_tokens": " 个令牌",
    "period_minute": "本分钟",
    "period_day": "今天",
    "period_week": "本周",
    "period_month": "本月",
    "period_total": "总共",
    "team_limit": "团队 {team}：{text}",
    "key_limit": "此密钥：{text}",
    "limit_refused": "已达到一项限额（{limit}）。",
    "models": "可用模型（当前：{current}）：{models}",
    "model_set": "模型已切换为 {model}。",
    "model_default": "网关默认模型",
    "unknown_model": "这里没有模型 {model}。可用模型：{models}",
    "bye": "再见。",
    "limit_reached": "已达到每日{kind}限额，将于 {resets} 重置。",
    "limit_requests": "请求次数",
    "limit_tokens": "令牌",
    "blocked": "管理员已封禁你对模型的使用（每日限额为 0）。",
    "gateway_down": "无法连接网关 {url}。它在运行吗？",
    "gateway_timeout": "网关 {url} 没有及时响应。",
    "upstream_failed": "模型暂时不可用（{status}）：{detail}",
    "server_error": "网关出错（{status}）：{detail}",
    "refused": "网关拒绝了请求（{status}）：{detail}",
    "stream_error": "回答中断：{detail}",
    "connection_lost": "连接已断开",
    "not_a_gateway": "{url} 的响应不像 ChatGateway 服务器（{status}）。",
    "empty_question": "没有给出问题。",
}

CATALOGUES = {"en": _EN, "zh": _ZH}


def language_from_environment(environ: dict[str, str] | None = None) -> str:
    """The user's language as the C library would pick it (LANGUAGE, LC_ALL, LC_MESSAGES, LANG), en or zh."""
    environ = os.environ if environ is None else environ
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "")
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


class Messages:
    """The catalogue of one language; `messages("key", name=value)` gives a filled-in sentence."""

    def __init__(self, language: str) -> None:
        self.language = language
        self._catalogue = CATALOGUES[language]

    def __call__(self, key: str, **values: object) -> str:
        return self._catalogue[key].format(**values)
