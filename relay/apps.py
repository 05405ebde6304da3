from django.apps import AppConfig


class RelayConfig(AppConfig):
    name = "relay"
    verbose_name = "Relay"

    def ready(self) -> None:
        from django.core.signals import setting_changed

        from relay import lost, upstream  # noqa: F401  (lost: records the requests a killed process lost)

        setting_changed.connect(upstream.forget_client_on_setting_change)
