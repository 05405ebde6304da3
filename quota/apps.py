from django.apps import AppConfig


class QuotaConfig(AppConfig):
    name = "quota"
    verbose_name = "Quotas"

    def ready(self) -> None:
        from quota import signals  # noqa: F401  (connects the "every user has a quota" handler)
