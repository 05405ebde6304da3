from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from core import money
from core.sql import insert_row


class UsageRecord(models.Model):
    """One relay attempt that reached the upstream stage, successful or not."""

    class Endpoint(models.TextChoices):
        CHATAPI = "chatapi", "/api (ChatAPI compatible)"
        CHAT = "chat", "/api/chat/"
        V1 = "v1", "/v1/chat/completions (OpenAI compatible)"
        CONVERSATION = "conversation", "/api/conversations/<id>/messages/ (a conversation's message)"
        EMBEDDINGS = "embeddings", "/v1/embeddings (OpenAI compatible)"
        COMPLETIONS = "completions", "/v1/completions (OpenAI compatible, legacy)"
        RESPONSES = "responses", "/v1/responses (OpenAI compatible)"

    LOST = "gateway_lost_request"  # `error` of a request whose server process ended before it did

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="usage_records")
    api_key = models.ForeignKey(
        "apikeys.APIKey",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="usage_records",
        help_text="The API key the request came with; empty for a JWT.",
    )
    team = models.CharField(
        max_length=100,
        blank=True,
        default="",
        help_text="The team whose limits the request drew on, as it was named then; empty: none.",
    )
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    day = models.DateField(
        null=True,
        blank=True,
        db_index=True,
        help_text="The day (in TIME_ZONE) whose quota the request was charged to: the day it was reserved on, "
        "even when it ended after midnight. Reports count by it.",
    )
    endpoint = models.CharField(max_length=16, choices=Endpoint.choices)
    stream = models.BooleanField(default=False)
    model = models.CharField(max_length=200)
    status_code = models.PositiveSmallIntegerField()
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    total_tokens = models.PositiveIntegerField(default=0)
    estimated = models.BooleanField(
        default=False, help_text="The upstream reported no usage: the tokens are estimated from the text."
    )
    cost = models.BigIntegerField(
        default=0,
        help_text="What it was charged, in nano-units (10⁻⁹) of `currency`, at the answering deployment's price "
        "then (providers.pricing); 0 for a failed call or an unpriced model. A later price change leaves it.",
    )
    currency = models.CharField(
        max_length=3, blank=True, default="", help_text="CHATGATEWAY_CURRENCY when it was charged (ISO code)."
    )
    latency_ms = models.PositiveIntegerField(help_text="From the request reaching the relay to its end.")
    ttfb_ms = models.PositiveIntegerField(null=True, blank=True, help_text="Streams: time to the first chunk.")
    upstream_request_id = models.CharField(max_length=200, blank=True)
    error = models.CharField(max_length=100, blank=True, help_text="Why the relay failed; empty on success.")
    provider = models.CharField(max_length=100, blank=True, help_text="The provider that answered; empty if none did.")
    upstream_model = models.CharField(
        max_length=200, blank=True, help_text="The provider's own name of the model that answered."
    )
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text="Calls upstream the request took: one, plus a retry or fallback for each failure."
    )
    failed_attempts = models.JSONField(
        default=list,
        blank=True,
        help_text="The failed calls, in order: provider, provider model, the gateway's reason code, HTTP status.",
    )
    # Kept only when CHATGATEWAY_STORE_TEXT is on (off by default: prompts are the users' business).
    prompt_text = models.TextField(blank=True)
    completion_text = models.TextField(blank=True)
    # The reservation (quota lease) this record ends, unique: whichever of the request's own process, the
    # outbox (relay/outbox.py: an entry replayed after a crash between its commit and its file's deletion)
    # or another process settling a lost request (relay/lost.py) writes it first, it is written once.
    reservation_id = models.UUIDField(null=True, blank=True, editable=False)
    # The gateway's id of the request (core/requestid.py): in its response's X-Request-ID, its log lines and
    # the header sent upstream, so one id finds it everywhere. Empty for records made outside a request.
    request_id = models.CharField(max_length=128, blank=True, default="")

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            models.Index(fields=["user", "-created"], name="usage_user_newest"),
            # Every insert pays for these two: measured in docs/performance.md ("Ten million usage records").
            # A request id from a log line finds its record in the admin's list (its search) among millions.
            models.Index(fields=["request_id"], name="usage_request_id"),
            # The failures alone (about 4% of the records: a successful insert never touches it), newest first:
            # the list filtered by a status, which the dashboard's errors link to.
            models.Index(
                fields=["status_code", "-created"], name="usage_failures", condition=~models.Q(status_code=200)
            ),
        ]
        constraints = [
            # Partial: records made without a reservation (admin, scripts, older ones) cost the index nothing.
            models.UniqueConstraint(
                fields=["reservation_id"],
                condition=models.Q(reservation_id__isnull=False),
                name="usage_one_record_per_reservation",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.endpoint} {self.model} {self.status_code}"

    def save(self, *args, **kwargs) -> None:
        # The relay sets the day of its reservation; a record made any other way (the admin, a test, a
        # script) is charged to the day it is made on.
        if self.day is None:
            self.day = timezone.localdate()
        super().save(*args, **kwargs)

    @classmethod
    def insert(cls, **fields: object) -> None:
        """Store one record as `objects.create(**fields)` would (save()'s day; `created` now, as auto_now_add
        sets it; a field not given its default), in one plain INSERT, and return nothing: the relay writes one
        per request, and the ORM's building of the instance and compiling of the statement cost several
        times the CPU of the statement itself (issue 17). No signal listens for a record's save."""
        fields = {**fields, "created": timezone.now()}
        if fields.get("day") is None:
            fields["day"] = timezone.localdate()
        values = {
            field.attname: fields[field.attname] if field.attname in fields else field.get_default()
            for field in cls._meta.concrete_fields
            if not field.primary_key  # the database's
        }
        insert_row(cls, values)

    @property
    def cost_amount(self) -> Decimal:
        """The cost in units of its currency, exact (nine decimals)."""
        return money.from_nanos(self.cost)


class ResponseOwner(models.Model):
    """Who made a Responses API response id (`/v1/responses`), so that only they may read, delete, cancel or
    continue it: the upstream key is shared, and without this one user could read another's conversation.

    A response a provider answered natively (`translated` false) is kept there; its `provider` serves the
    later calls. A response the gateway translated to chat completions is kept here: its own `input_items`,
    the `context` that went before them (a `previous_response_id`'s conversation), and the `response`
    object. Nothing is made for a response sent with `store: false` (or CHATGATEWAY_RESPONSES_FORCE_NO_STORE).
    """

    response_id = models.CharField(max_length=200, primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="responses")
    model = models.CharField(max_length=200, help_text="The public model it was asked of.")
    provider = models.CharField(max_length=100, blank=True, help_text="The provider that keeps it (native only).")
    translated = models.BooleanField(default=False, help_text="Answered through chat completions; kept here.")
    created = models.DateTimeField(default=timezone.now)
    input_items = models.JSONField(null=True, blank=True)
    context = models.JSONField(null=True, blank=True)
    response = models.JSONField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "-created"], name="response_owner_newest")]

    def __str__(self) -> str:
        return f"{self.response_id} ({self.user_id})"
