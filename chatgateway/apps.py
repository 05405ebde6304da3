from django.apps import AppConfig


class ChatgatewayConfig(AppConfig):
    name = "chatgateway"
    verbose_name = "ChatGateway"
