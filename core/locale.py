"""Which language a request is answered in."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.middleware.locale import LocaleMiddleware as DjangoLocaleMiddleware
from django.utils import translation

from core.apis import api_for

# OpenAI's API answers in English whatever the client's language, and some of its clients read the
# message text (LangChain, for one, looks for "maximum context length"), so /v1 does the same: the
# table in core/apis.py says which APIs are English only.


class LocaleMiddleware(DjangoLocaleMiddleware):
    """Django's: the language of the `django_language` cookie (set by the page's switch), else the
    browser's Accept-Language, else LANGUAGE_CODE; except on the English-only paths."""

    def process_request(self, request: HttpRequest) -> None:
        if api_for(request.path_info).english_only:
            translation.activate(settings.LANGUAGE_CODE)
            request.LANGUAGE_CODE = translation.get_language()
            return
        super().process_request(request)

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if api_for(request.path_info).english_only:
            return response  # the same answer whatever the language asked: no Vary, no Content-Language
        return super().process_response(request, response)
