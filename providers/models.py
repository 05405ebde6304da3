"""The catalog an administrator configures: providers (upstream APIs), their keys, the public models and
the deployments that serve them. The router reads it through `providers.catalog`, never these models."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from providers import crypto
from quota.models import Plan

ENDPOINTS = {
    "chat": "Chat completions",
    "responses": "Responses",
    "embeddings": "Embeddings",
    "completions": "Legacy completions",
}
COMPLETION_CAPS = ("max_completion_tokens", "max_tokens")
# Header names (RFC 9110 tokens); these carry credentials, which belong in the provider's keys, encrypted.
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
CREDENTIAL_HEADERS = {"authorization", "api-key", "proxy-authorization", "x-api-key"}
SMALL_MAX = 32767  # the largest small integer every database stores (SQLite would take more, PostgreSQL not)


def validate_endpoints(value: Any) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError("Name at least one endpoint.", code="endpoints")
    unknown = [item for item in value if item not in ENDPOINTS]
    if unknown:
        raise ValidationError(
            f"Unknown endpoint(s): {', '.join(map(str, unknown))}. Choose from {', '.join(ENDPOINTS)}.",
            code="endpoints",
        )


def validate_headers(value: Any) -> None:
    if not isinstance(value, dict):
        raise ValidationError('Extra headers are a JSON object of names to values, e.g. {"HTTP-Referer": "…"}.')
    for name, text in value.items():
        if not isinstance(text, str) or not HEADER_NAME.match(name):
            raise ValidationError(f"Header {name!r}: a name of letters, digits and dashes, and a text value.")
        if "\n" in text or "\r" in text:
            raise ValidationError(f"Header {name!r}: the value must be one line.")
        if name.lower() in CREDENTIAL_HEADERS:
            raise ValidationError(f"Header {name!r} carries a credential: add it as one of the provider's keys.")


def default_endpoints() -> list[str]:
    return ["chat"]


class Named(models.Model):
    """What a provider and a public model share: a name to list them by, and whether a providers file
    declares them (`sync_providers` changes only those, and `--prune` deletes only those)."""

    managed_by_file = models.BooleanField(
        default=False, editable=False, help_text="Declared in a providers file (manage.py sync_providers)."
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Provider(Named):
    """An upstream API the gateway relays to: where it is, how it is called, what it speaks."""

    class Kind(models.TextChoices):
        OPENAI = "openai", "OpenAI-compatible"
        AZURE = "azure", "Azure OpenAI"

    class CompletionCap(models.TextChoices):
        MAX_COMPLETION_TOKENS = "max_completion_tokens", "max_completion_tokens (OpenAI, reasoning models)"
        MAX_TOKENS = "max_tokens", "max_tokens (older OpenAI-compatible servers)"

    name = models.SlugField(max_length=64, unique=True, help_text="A short name, e.g. openai, deepseek, local.")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.OPENAI)
    base_url = models.URLField(
        max_length=500,
        help_text="e.g. https://api.openai.com/v1; for Azure, the resource's endpoint (https://NAME.openai.azure.com).",
    )
    api_version = models.CharField(
        max_length=32, blank=True, help_text="Azure OpenAI only: its api-version, e.g. 2024-10-21."
    )
    extra_headers = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_headers],
        help_text='Sent with every request, e.g. {"HTTP-Referer": "https://example.org"} for OpenRouter.',
    )
    timeout = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.1)],
        help_text="Seconds for an answer or a first chunk, retries included; empty: OPENAI_TIMEOUT.",
    )
    max_retries = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(SMALL_MAX)],
        help_text="Retries of passing failures; empty: OPENAI_MAX_RETRIES.",
    )
    enabled = models.BooleanField(default=True)
    endpoints = models.JSONField(
        default=default_endpoints, validators=[validate_endpoints], help_text="The endpoints this provider speaks."
    )
    completion_cap = models.CharField(
        max_length=32,
        choices=CompletionCap.choices,
        default=CompletionCap.MAX_TOKENS,
        help_text="The parameter that caps an answer's length at this provider.",
    )

    def clean(self) -> None:
        if self.kind == self.Kind.AZURE and not self.api_version:
            raise ValidationError({"api_version": "Azure OpenAI needs its api-version."})


class ProviderKey(models.Model):
    """One API key of a provider, encrypted at rest (providers/crypto.py); only its last four characters
    are ever shown. A key the provider refused (401/403) stays out of use until re-enabled."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="keys")
    label = models.CharField(max_length=100, blank=True, help_text="Whose key, or the variable it came from.")
    encrypted_secret = models.TextField(editable=False)
    last4 = models.CharField(max_length=4, editable=False)
    enabled = models.BooleanField(default=True)
    refused_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.CharField(max_length=300, blank=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["provider", "pk"]
        verbose_name = "provider key"

    def __str__(self) -> str:
        return f"{self.label or 'key'} …{self.last4}"

    def set_secret(self, secret: str) -> None:
        """Encrypt `secret` into this row (not saved); it is never kept in plain text."""
        self.encrypted_secret = crypto.encrypt(secret)
        self.last4 = secret[-4:]

    def secret(self) -> str:
        """The plain secret (crypto.KeyUnreadable if no encryption key in use can read it)."""
        return crypto.decrypt(self.encrypted_secret)

    @property
    def in_use(self) -> bool:
        return self.enabled and self.refused_at is None

    def state(self) -> str:
        if self.refused_at is not None:
            return f"refused {self.refused_at:%Y-%m-%d %H:%M} UTC: {self.last_error or 'no reason given'}"
        return "in use" if self.enabled else "disabled"


class Model(Named):
    """A public model name users send, served by one or more deployments."""

    name = models.CharField(max_length=100, unique=True, help_text="What users send as “model”, e.g. gpt-4o, fast.")
    description = models.CharField(max_length=300, blank=True)
    enabled = models.BooleanField(default=True)
    plans = models.ManyToManyField(
        Plan,
        blank=True,
        related_name="models",
        help_text="The plans whose users may use it; none: every user, including users without a plan.",
    )


class Deployment(models.Model):
    """A model served by a provider under the provider's own model name.

    Its health (`health`, `health_changed`, `last_error`) is what a server process's circuit breaker
    last reported (relay/upstream/routing.py): written only when a breaker opens or closes, with
    `update()`, so it is no change to the catalog and reloads nothing."""

    class Health(models.TextChoices):
        OK = "ok", "in use"
        RESTING = "resting", "resting (circuit breaker open)"

    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="deployments")
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="deployments")
    upstream_model = models.CharField(
        max_length=200, help_text="The provider's name of the model (Azure: the deployment's name)."
    )
    priority = models.PositiveSmallIntegerField(
        default=1, validators=[MaxValueValidator(SMALL_MAX)], help_text="Lower is tried first."
    )
    weight = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(SMALL_MAX)],
        help_text="Share of traffic among deployments of equal priority.",
    )
    enabled = models.BooleanField(default=True)
    health = models.CharField(max_length=8, choices=Health.choices, default=Health.OK, editable=False)
    health_changed = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.CharField(max_length=100, blank=True, editable=False, help_text="Our reason code.")

    class Meta:
        ordering = ["model", "priority", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["model", "provider", "upstream_model"], name="one_deployment_per_target"),
            models.CheckConstraint(condition=models.Q(weight__gte=1), name="deployment_weight_at_least_1"),
        ]

    def __str__(self) -> str:
        return f"{self.provider.name}/{self.upstream_model}"


class CatalogVersion(models.Model):
    """One row, bumped in the transaction of every change to the catalog: what every server process
    polls to know its cached catalog is stale (providers/catalog.py)."""

    version = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"catalog version {self.version}"


class PriceManager(models.Manager["Price"]):
    def get_by_natural_key(self, model_name: str, valid_from: str, deployment: int | None = None) -> Price:
        return self.get(model_name=model_name, valid_from=valid_from, deployment=deployment)


class Price(models.Model):
    """What a model costs per million tokens, in the gateway's currency (CHATGATEWAY_CURRENCY), from a day on.

    A deployment's own price wins; else the price named for the deployment's provider model; else the one
    named for the public model (providers.catalog.Catalog.price). The table is dated: the price in force
    is the one of the latest `valid_from` not after today, so a change can be entered ahead. Each usage
    record keeps the cost it was charged: a change never rewrites history."""

    model_name = models.CharField(
        max_length=200,
        blank=True,
        db_index=True,
        help_text="The model it prices: a provider's model name (gpt-4o-2024-08-06) or a public one (smart). "
        "May be empty for a deployment's own price.",
    )
    deployment = models.ForeignKey(
        Deployment,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="prices",
        help_text="Only this deployment: wins over a price by name.",
    )
    input = models.DecimalField(
        max_digits=14, decimal_places=6, validators=[MinValueValidator(0)], help_text="Per million prompt tokens."
    )
    cached_input = models.DecimalField(
        max_digits=14,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="Per million prompt tokens the provider served from its cache; empty: the input price.",
    )
    output = models.DecimalField(
        max_digits=14, decimal_places=6, validators=[MinValueValidator(0)], help_text="Per million completion tokens."
    )
    valid_from = models.DateField(help_text="The first day (in TIME_ZONE) this price applies.")
    note = models.CharField(
        max_length=200, blank=True, help_text="Where it comes from, e.g. the provider's price list."
    )

    objects = PriceManager()

    class Meta:
        ordering = ["model_name", "deployment", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["model_name", "valid_from"],
                condition=models.Q(deployment__isnull=True),
                name="one_price_per_name_and_day",
            ),
            models.UniqueConstraint(fields=["deployment", "valid_from"], name="one_price_per_deployment_and_day"),
            models.CheckConstraint(
                condition=models.Q(input__gte=0, output__gte=0)
                & (models.Q(cached_input__isnull=True) | models.Q(cached_input__gte=0)),
                name="price_not_negative",
            ),
            models.CheckConstraint(
                condition=~models.Q(model_name="") | models.Q(deployment__isnull=False),
                name="price_names_a_model_or_a_deployment",
            ),
        ]

    def __str__(self) -> str:
        what = str(self.deployment) if self.deployment_id else self.model_name
        return f"{what} from {self.valid_from}"

    def natural_key(self) -> tuple:
        return (self.model_name, str(self.valid_from), self.deployment_id)

    def clean(self) -> None:
        if not self.model_name and self.deployment_id is None:
            raise ValidationError("Name the model it prices, or choose a deployment.")
