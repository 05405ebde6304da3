"""Simplified Chinese, chosen from the locale (LANG, LC_ALL) or --lang; --lang wins over the locale."""

from __future__ import annotations

import string

from chatcli.i18n import CATALOGUES, language_from_environment
from chatcli.tests.conftest import log_in
from conftest import PASSWORD

ZH = {"LANG": "zh_CN.UTF-8"}


def test_it_speaks_chinese_under_a_chinese_locale(terminal, make_user):
    make_user("grace", daily_limit=1)
    screen = terminal(env=ZH)
    screen.wait_for("用户名：")
    screen.type("grace")
    screen.wait_for("密码：")
    screen.type("错误的密码")
    screen.wait_for("用户名或密码错误。")
    screen.wait_for("用户名：")
    screen.type("grace")
    screen.wait_for("密码：")
    screen.type(PASSWORD)
    screen.wait_for("正在以 grace 身份与")

    screen.type("你好")
    assert "今天还剩 0 次请求" in screen.wait_for("今天还剩")
    screen.type("再来一次")
    assert "已达到每日请求次数限额，将于 " in screen.wait_for("重置")
    screen.type("/quota")
    assert "今天：已用 1/1 次请求，剩余 0 次。" in screen.wait_for("重置")
    screen.type("/help")
    assert "开始新对话" in screen.wait_for("停止回答")


def test_lang_overrides_the_locale(terminal, user):
    screen = terminal("--lang", "en", env=ZH)
    log_in(screen, user.username)

    assert "Chatting with" in screen.wait_for("Chatting with")


def test_lang_zh_overrides_an_english_locale_for_errors_too(run_cli, gateway):
    result = run_cli("--lang", "zh", "ask", "你好")

    assert result.returncode == 3
    assert f"尚未登录 {gateway.url}" in result.stderr


def test_the_locale_is_read_as_the_c_library_reads_it():
    assert language_from_environment({"LANG": "zh_CN.UTF-8"}) == "zh"
    assert language_from_environment({"LC_ALL": "zh_TW.UTF-8", "LANG": "en_US.UTF-8"}) == "zh"
    assert language_from_environment({"LC_ALL": "en_GB.UTF-8", "LANG": "zh_CN.UTF-8"}) == "en"
    assert language_from_environment({"LANGUAGE": "zh_CN:en", "LANG": "C.UTF-8"}) == "zh"
    assert language_from_environment({"LANG": "fr_FR.UTF-8"}) == "en"
    assert language_from_environment({}) == "en"


def test_both_languages_have_every_message_with_the_same_blanks():
    english, chinese = CATALOGUES["en"], CATALOGUES["zh"]
    assert english.keys() == chinese.keys()
    for key, sentence in english.items():
        blanks = {name for _, name, _, _ in string.Formatter().parse(sentence) if name}
        assert blanks == {name for _, name, _, _ in string.Formatter().parse(chinese[key]) if name}, key
