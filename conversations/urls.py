from django.urls import path

from conversations.views import ConversationDetailView, ConversationListView, MessageListView

urlpatterns = [
    path("", ConversationListView.as_view(), name="conversations"),
    path("<int:pk>/", ConversationDetailView.as_view(), name="conversation"),
    path("<int:pk>/messages/", MessageListView.as_view(), name="conversation-messages"),
]
