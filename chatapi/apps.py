from django.apps import AppConfig


class ChatapiConfig(AppConfig):
    name = "chatapi"
    verbose_name = "ChatAPI compatibility"
