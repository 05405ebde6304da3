"""In a real browser: log in, send a message, watch the answer stream in, find the conversation again."""

from __future__ import annotations

from selenium.webdriver.common.by import By

from conversations.models import Conversation


def test_a_user_logs_in_sends_a_message_and_sees_the_answer_stream_in(browser, user):
    browser.log_in(user.username)
    assert browser.text("#quota").startswith("10 of 10 requests left today")

    browser.send("Count with me [dev:chunks=12] [dev:interval=0.15]")

    partial = browser.wait(lambda: browser.text(".message.assistant.streaming"))
    final = browser.wait_for_answer()
    assert final == "(development upstream, not a real model) You said: Count with me word1"
    assert final.startswith(partial)
    assert len(partial) < len(final)  # seen before the end: streamed, not delivered whole
    assert browser.text(".message.user") == "Count with me [dev:chunks=12] [dev:interval=0.15]"
    browser.wait(lambda: browser.text("#quota").startswith("9 of 10 requests left today"))


def test_the_conversation_is_there_after_a_reload_and_opens_from_the_list(browser, user):
    browser.log_in(user.username)
    browser.send("Remember **this**")
    answer = browser.wait_for_answer()

    browser.driver.refresh()  # the address names the open conversation: it opens again
    browser.wait(lambda: browser.answers() == [answer])
    assert browser.text(".message.user") == "Remember **this**"
    assert browser.find(".message.assistant strong").text == "this"  # Markdown, rendered again

    browser.open("/")  # a fresh visit: the conversation is in the list
    item = browser.wait(lambda: browser.find_all("#conversations button.conversation"))[0]
    assert item.find_element(By.CLASS_NAME, "title").text == "Remember **this**"
    assert not browser.find_all(".message")
    item.click()
    browser.wait(lambda: browser.answers() == [answer])
    assert item.get_attribute("aria-current") == "true"

    browser.find("#new-conversation").click()
    assert not browser.find_all(".message")
    browser.send("Something else")
    browser.wait_for_answer()
    browser.wait(lambda: len(browser.find_all("#conversations button.conversation")) == 2)
    assert browser.text("#conversations button.conversation .title") == "Something else"  # newest first


def test_an_answer_that_fails_midway_says_so_and_gives_the_message_back(browser, user):
    browser.log_in(user.username)

    browser.send("Tell me a story [dev:chunks=6] [dev:error_event]")

    failure = browser.wait(lambda: browser.text(".message.assistant.failed .failure"))
    assert failure == "The upstream model service failed to answer. Please try again later."
    assert browser.find("#prompt").get_attribute("value") == "Tell me a story [dev:chunks=6] [dev:error_event]"
    browser.wait(lambda: not Conversation.objects.filter(user=user).exists())  # nothing was kept
    assert browser.text("#quota").startswith("10 of 10 requests left today")  # nor counted
