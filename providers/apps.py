from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "providers"
    verbose_name = "Providers and models"

    def ready(self) -> None:
        from django.core.signals import setting_changed
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from providers import catalog, checks, crypto, services  # noqa: F401  (checks: registers them)
        from providers.models import Deployment, Model, Price, Provider, ProviderKey

        # Every change to the catalog bumps its version, in the same transaction (providers/catalog.py).
        for model in (Provider, ProviderKey, Model, Deployment, Price):
            post_save.connect(services.catalog_changed, sender=model, dispatch_uid=f"catalog-save-{model.__name__}")
            post_delete.connect(services.catalog_changed, sender=model, dispatch_uid=f"catalog-del-{model.__name__}")
        m2m_changed.connect(services.catalog_changed, sender=Model.plans.through, dispatch_uid="catalog-plans")
        setting_changed.connect(catalog.forget_on_setting_change)
        setting_changed.connect(crypto.forget_keys_on_setting_change)
