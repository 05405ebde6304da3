from django.urls import path

from openai_api.views import ChatCompletionsView, ModelListView, ModelView

urlpatterns = [
    path("chat/completions", ChatCompletionsView.as_view(), name="v1-chat-completions"),
    path("models", ModelListView.as_view(), name="v1-models"),
    path("models/<path:model>", ModelView.as_view(), name="v1-model"),
]
