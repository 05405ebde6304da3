from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The bottom layer: what every app shares (errors and their shapes, the API table, the lanes, the
    database threads, parsers, the OpenAPI helpers). It imports no app of the project."""

    name = "core"
    verbose_name = "ChatGateway core"

    def ready(self) -> None:
        from core import checks, openapi  # noqa: F401  (registers the system checks; the schema's authentication extensions)
