from django.apps import AppConfig


class ChatgatewayConfig(AppConfig):
    name = "chatgateway"
    verbose_name = "ChatGateway"

    def ready(self) -> None:
        from chatgateway import checks  # noqa: F401  (registers the system checks)
