from django.apps import AppConfig


class UsageConfig(AppConfig):
    """Reports on the relay's usage records: the admin's dashboard, charts and export, `/api/usage/`,
    retention (`prune_usage`). It reads `relay.UsageRecord`; the relay writes them."""

    name = "usage"
    verbose_name = "Usage"
