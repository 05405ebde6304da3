from django.urls import path, re_path

from openai_api.views import (
    ChatCompletionsView,
    CompletionsView,
    EmbeddingsView,
    ModelListView,
    ModelView,
    ResponseCancelView,
    ResponseInputItemsView,
    ResponsesView,
    ResponseView,
    unknown_url,
)

# A trailing slash is taken too: some tools add one to every path.
urlpatterns = [
    re_path(r"^chat/completions/?$", ChatCompletionsView.as_view(), name="v1-chat-completions"),
    re_path(r"^responses/?$", ResponsesView.as_view(), name="v1-responses"),
    re_path(r"^responses/(?P<response_id>[^/]+)/?$", ResponseView.as_view(), name="v1-response"),
    re_path(r"^responses/(?P<response_id>[^/]+)/input_items/?$", ResponseInputItemsView.as_view(), name="v1-items"),
    re_path(r"^responses/(?P<response_id>[^/]+)/cancel/?$", ResponseCancelView.as_view(), name="v1-response-cancel"),
    re_path(r"^completions/?$", CompletionsView.as_view(), name="v1-completions"),
    re_path(r"^embeddings/?$", EmbeddingsView.as_view(), name="v1-embeddings"),
    re_path(r"^models/?$", ModelListView.as_view(), name="v1-models"),
    path("models/<path:model>", ModelView.as_view(), name="v1-model"),
    re_path(r"", unknown_url),  # images, audio, ...: OpenAI's own 404, not an HTML page
]
