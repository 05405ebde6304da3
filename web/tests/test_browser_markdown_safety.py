"""In a real browser: the model's Markdown is rendered, and HTML in it stays text and never runs."""

from __future__ import annotations

from selenium.webdriver.common.by import By

HOSTILE = (
    '<img src=x onerror="window.pwned=1"> <script>window.pwned=2</script> '
    "[a link](javascript:window.pwned=3) ![a picture](/static/pixel.png) **bold**"
)


def test_html_in_an_answer_is_shown_as_text_and_never_run(browser, user):
    browser.log_in(user.username)
    browser.send(HOSTILE)  # the development upstream says it back

    text = browser.wait_for_answer()

    answer = browser.find(".message.assistant")
    assert '<img src=x onerror="window.pwned=1">' in text
    assert "<script>window.pwned=2</script>" in text
    assert answer.find_elements(By.TAG_NAME, "img") == []  # neither the HTML one nor the Markdown one
    assert answer.find_elements(By.TAG_NAME, "script") == []
    assert answer.find_element(By.TAG_NAME, "strong").text == "bold"
    hrefs = [link.get_attribute("href") for link in answer.find_elements(By.TAG_NAME, "a")]
    assert hrefs == [None, f"{browser.base_url}/static/pixel.png"]  # javascript: dropped; a picture is a link
    browser.driver.refresh()  # and the same from the history
    browser.wait(lambda: browser.answers() == [text])
    assert browser.find_all(".message img, .message script") == []
    assert browser.script("return window.pwned") is None
