"""A relay: take a request from the user's quota, ask the upstream, settle or give it back, and
record the attempt either way. `RelayAttempt` holds those steps for every relay endpoint;
relay.passthrough runs them, asynchronously, for each of them."""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from core import metrics, requestid
from providers import catalog, pricing
from quota import clock
from quota.limits import Pricing
from quota.services import Reservation, refund_request, reserve_request, settle_request
from relay import outbox, upstream
from relay.estimates import estimate_request_tokens, estimate_tokens, message_text
from relay.models import UsageRecord
from teams.services import team_for_request

logger = logging.getLogger(__name__)

# The provider endpoint (providers.models.ENDPOINTS) a record's endpoint is routed over, for the prices a
# request may be charged at; a Responses request may go natively or through chat, so over all of them.
PROVIDER_ENDPOINT = {
    UsageRecord.Endpoint.EMBEDDINGS: "embeddings",
    UsageRecord.Endpoint.COMPLETIONS: "completions",
    UsageRecord.Endpoint.RESPONSES: None,
}


@dataclasses.dataclass
class RelayAttempt:
    """One relay attempt: who asked, through which endpoint and credential, and what it reserved.

    Exactly one of `succeed` (the request counts), `fail` (refunded, recorded) or `refund` (refunded
    only: a bug or shutdown) ends it; each writes the quota once and the usage record once.
    """

    user_id: int
    endpoint: str
    model: str
    messages: list[dict[str, Any]]
    params: dict[str, Any] | None = None  # the whole request, whose every prompt field an estimate counts
    api_key_id: int | None = None
    team_asked: str | None = None  # the team the request names (relay.passthrough.Caller)
    key_team_id: int | None = None
    team: str = ""  # the name of the team it draws on, decided at its reservation ("" for none)
    stream: bool = False
    reservation: Reservation | None = None
    started: float = dataclasses.field(default_factory=time.monotonic)
    ttfb_ms: int | None = None
    trail: upstream.Trail = dataclasses.field(default_factory=lambda: upstream.Trail())

    def reserve(
        self,
        *,
        completion_tokens: int | None = None,
        budget_must_fit: bool = False,
        counts_request: bool = True,
        answers: int = 1,
    ) -> Reservation:
        # What the request is, for its record if its process is killed before it ends (relay/lost.py).
        note = {"endpoint": self.endpoint, "model": self.model[:200], "api_key_id": self.api_key_id}
        note["stream"] = self.stream
        note["request_id"] = requestid.current()
        team = team_for_request(user_id=self.user_id, asked=self.team_asked, key_team_id=self.key_team_id)
        self.team = note["team"] = team.name if team is not None else ""
        self.reservation = reserve_request(
            user_id=self.user_id,
            completion_tokens=completion_tokens,
            note=note,
            budget_must_fit=budget_must_fit,
            counts_request=counts_request,
            api_key_id=self.api_key_id,
            team_id=team.pk if team is not None else None,
            pricing=self._pricing(),
            model=self.model,
            answers=answers,
        )
        self.started = time.monotonic()
        return self.reservation

    def _pricing(self) -> Pricing | None:
        """The request's worst case in money: its estimated prompt and each completion token at the
        highest prices of the deployments it may be routed to; None if the model has no price."""
        price = catalog.current().worst_price(self.model, endpoint=PROVIDER_ENDPOINT.get(self.endpoint, "chat"))
        if price is None:
            return None
        prompt = estimate_request_tokens(self.params or {"messages": self.messages})
        return Pricing(
            prompt_cost=pricing.reserve_cost_nanos(price, prompt_tokens=prompt, completion_budget=0),
            output_per_token=price.output * 1000,  # per million tokens, in nanos a token: 10**9 / 10**6
        )

    def first_byte(self) -> None:
        """A stream's first chunk has arrived."""
        self.ttfb_ms = self._elapsed_ms()

    def succeed(
        self,
        *,
        model: str | None = None,
        usage: upstream.Usage | None,
        answer: str,
        request_id: str | None = None,
        status_code: int = 200,
        error: str = "",
    ) -> upstream.Usage:
        """The request counts, with the usage the upstream reported, else an estimate; that usage."""
        estimated = usage is None
        if usage is None:
            prompt = estimate_request_tokens(self.params or {"messages": self.messages})
            completion = estimate_tokens(answer)
            usage = upstream.Usage(prompt, completion, prompt + completion)
        cost = self.cost_of(usage)
        record = dict(model=model, usage=usage, estimated=estimated, answer=answer, request_id=request_id,
                      error=error, cost=cost)  # fmt: skip
        if self._settle_and_record(status_code, tokens=usage.total_tokens, **record):
            return usage
        unsettled = self._settle(tokens=usage.total_tokens, cost=cost)  # the answer is the client's whatever happens
        self._record(status_code, unsettled=unsettled, **record)
        return usage

    def _settle_and_record(self, status_code: int, *, tokens: int, **record: Any) -> bool:
        """The settlement and the record in one transaction, so that a process killed between them can't
        leave a request counted and unrecorded. False, with nothing written, if either can't be done so
        (the database gone, the lease settled already, the record refused): the steps apart then, each
        with its own fallback (the outbox, the lost request's record)."""
        if self.reservation is None or self.reservation.lease_id is None:
            return False
        fields = self._fields(status_code, **record)
        try:
            with transaction.atomic():
                if not settle_request(
                    reservation=self.reservation, tokens=tokens, cost=record["cost"], savepoint=False
                ):
                    raise _NotTogether
                UsageRecord.insert(**fields)
        except (DatabaseError, _NotTogether):
            return False
        self._count(**record)
        return True

    def fail(self, error: upstream.UpstreamError) -> None:
        """The upstream failed: nothing counts, and it costs nothing."""
        unsettled = self._settle(tokens=None)  # the client gets the upstream's error whatever happens
        self._record(error.status, error=error.reason, unsettled=unsettled)

    def refund(self) -> None:
        if self.reservation is not None:
            refund_request(reservation=self.reservation)

    def _settle(self, *, tokens: int | None, cost: int = 0) -> dict[str, Any] | None:
        """Settle the reservation with `tokens` used, or refund it (None). If the database has gone,
        the quota's write to keep in the outbox with the record; an error that is no outage (the
        database refuses this write for good) is resolved at once instead, so it can't block anything."""
        try:
            if tokens is None:
                refund_request(reservation=self.reservation)
            else:
                settle_request(reservation=self.reservation, tokens=tokens, cost=cost)
            return None
        except DatabaseError as exc:
            unsettled = outbox.settlement(reservation=self.reservation, tokens=tokens, cost=cost)
            if outbox.is_outage(exc):
                return unsettled
            outbox.resolve(quota=unsettled, record=None)
            return None

    def _record(self, status_code: int, *, unsettled: dict[str, Any] | None = None, **record: Any) -> None:
        """Store the attempt, with its `cost` in nanos (what its settled tokens cost; 0 for a failure). If
        the database fails now, the client still gets the answer or error it has earned (a failed record
        must not turn an answer into a 503): what the database did not take (the record, and the quota's
        `unsettled` write) goes to the outbox. A settlement kept in
        the outbox takes its record with it, so that the outbox applies both in one transaction, once.
        A record the database refuses for good (its user or API key deleted while the request was in
        flight) is written without the key, or set aside (relay/outbox.py), never deferred."""
        fields = self._fields(status_code, **record)  # `record`: what _fields takes
        self._count(**record)
        if unsettled is None:
            try:
                UsageRecord.insert(**fields)
                return
            except DatabaseError as exc:
                if not outbox.is_outage(exc):
                    outbox.resolve(quota=None, record=fields)
                    return
        outbox.defer(quota=unsettled, record=fields)

    def cost_of(self, usage: upstream.Usage) -> int:
        """What `usage` costs at the price of the deployment that answered, in the snapshot it was routed
        by (0 when the model is unpriced: a cost limit refuses those before they are relayed)."""
        price = self.trail.price
        if price is None:
            return 0
        return pricing.cost_nanos(
            price,
            input_tokens=usage.prompt_tokens,
            cached_input_tokens=usage.cached_tokens,
            output_tokens=usage.completion_tokens,
        )

    def _fields(
        self,
        status_code: int,
        *,
        model: str | None = None,
        usage: upstream.Usage | None = None,
        estimated: bool = False,
        answer: str = "",
        request_id: str | None = None,
        error: str = "",
        cost: int = 0,
    ) -> dict[str, Any]:
        """The attempt's usage record, as fields."""
        usage = usage or upstream.Usage()
        keep_text = settings.CHATGATEWAY_STORE_TEXT
        fields = dict(
            user_id=self.user_id,
            api_key_id=self.api_key_id,
            team=self.team,
            endpoint=self.endpoint,
            stream=self.stream,
            model=(model or self.model)[:200],
            status_code=status_code,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            total_tokens=usage.total_tokens,
            estimated=estimated,
            cost=cost,
            currency=settings.CHATGATEWAY_CURRENCY,
            latency_ms=self._elapsed_ms(),
            ttfb_ms=self.ttfb_ms,
            upstream_request_id=(request_id or "")[:200],
            error=error,
            provider=self.trail.provider[:100],
            upstream_model=self.trail.upstream_model[:200],
            attempts=min(self.trail.attempts, 32767),
            failed_attempts=self.trail.failures[:20],
            prompt_text=_storable("\n\n".join(message_text(m) for m in self.messages)) if keep_text else "",
            completion_text=_storable(answer) if keep_text else "",
            created=timezone.now(),
            # The day it was charged to, which a request in flight at midnight keeps.
            day=self.reservation.day if self.reservation is not None else clock.today(),
            # One record per reservation, whoever writes it (relay/lost.py may have, for a lost request).
            reservation_id=self.reservation.lease_id if self.reservation is not None else None,
            request_id=requestid.current(),  # the gateway's id of the request, in its logs and upstream's
        )
        return fields

    def _count(self, *, usage: upstream.Usage | None = None, error: str = "", cost: int = 0, **record: Any) -> None:
        """The attempt, for Prometheus."""
        usage = usage or upstream.Usage()
        # Labels from bounded sets only: a model of the catalog, a configured provider's name.
        metrics.relay_attempt_ended(
            model=self.model,
            offered=catalog.current().model(self.model) is not None,
            provider=self.trail.provider or metrics.DEFAULT_PROVIDER,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cost_nanos=cost,
            currency=settings.CHATGATEWAY_CURRENCY,
            error=error,
        )

    def _elapsed_ms(self) -> int:
        return round((time.monotonic() - self.started) * 1000)


class _NotTogether(Exception):
    """The settlement and the record can't be written together: each goes its own way."""


def _storable(text: str) -> str:
    """`text` without NUL characters, which JSON and prompts may hold but PostgreSQL's text can't."""
    return text.replace("\x00", "")
