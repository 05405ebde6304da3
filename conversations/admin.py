from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from conversations.models import Conversation, Message


class MessageInline(admin.TabularInline):
    """The messages as they were exchanged: read-only, as the model saw them."""

    model = Message
    fields = ("created", "role", "content")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Conversation | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Conversation | None = None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("__str__", "user", "model", "created", "updated")
    list_filter = ("model", "updated")
    list_select_related = ("user",)
    search_fields = ("title", "user__username")
    date_hierarchy = "updated"
    readonly_fields = ("user", "created", "updated")
    fields = ("user", "title", "model", "system_prompt", "created", "updated")
    inlines = [MessageInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # users start conversations through the API
